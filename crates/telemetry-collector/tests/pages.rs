//! The HTML pages under `/ui`, on the real binary: their statuses and
//! headers, the read side's door (with HTTP Basic auth for browsers),
//! escaping, the trace list's filters, the registry view; and the example
//! sessions rendered by a real headless Chromium, which also saves
//! screenshots under `target/qa-screenshots/`.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::traces::{Upload, chunk, create_body, send, session};
use common::{Launch, Server};
use serde_json::{Value, json};
use telemetry_trace::{ArtifactRef, Chunk, EventKind, RUBRIC, seal};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const READ_KEY: &str = "pages-read-key-0123456789";
const HOSTILE: &str = "<script>alert(1)</script>";
const SECRET: &str = "sk-proj-4f9Xk2LqZ8rT5vW1";

/// A page as fetched: status, the headers the tests read, the body.
#[derive(Debug)]
struct Fetched {
    status: u16,
    headers: Vec<(String, String)>,
    text: String,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// A page of the collector's: HTML, with every security header.
    fn assert_secure(&self, what: &str) {
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{what}"
        );
        assert_eq!(self.header("content-security-policy"), Some(CSP), "{what}");
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(self.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert!(self.text.starts_with("<!DOCTYPE html>"), "{what}");
        assert!(self.text.contains("<h1>"), "{what}: {}", self.text);
        assert!(!self.text.contains("<script"), "{what}: no script, ever");
    }
}

fn fetch(url: &str, headers: &[(&str, &str)]) -> Fetched {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    );
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().expect("the collector answers");
    Fetched {
        status: response.status().as_u16(),
        headers: response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        text: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces")
}

/// The chunks of an example session, in order.
fn example_chunks(name: &str) -> Vec<(String, Vec<u8>)> {
    let mut chunks: Vec<(String, Vec<u8>)> =
        std::fs::read_dir(examples().join(name).join("chunks"))
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let key = path.file_stem().unwrap().to_string_lossy().into_owned();
                (key, std::fs::read(&path).unwrap())
            })
            .collect();
    chunks.sort();
    chunks
}

/// Submits an example session as `telemetry trace submit` does (its
/// artifacts, its chunks, then complete); returns the trace id.
fn submit_example(base: &str, name: &str) -> String {
    let dir = examples().join(name);
    let created = send(
        "POST",
        &format!("{base}/v1/traces"),
        &[("content-type", "application/json")],
        Some(&std::fs::read(dir.join("trace.json")).unwrap()),
    );
    assert_eq!(created.status, 201, "{name}: {}", created.text);
    let upload = Upload {
        base: base.to_owned(),
        trace_id: created.body["trace_id"].as_str().unwrap().to_owned(),
        token: created.body["upload_token"].as_str().unwrap().to_owned(),
    };
    for entry in std::fs::read_dir(dir.join("artifacts")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let sha = ArtifactRef::for_bytes(&bytes, None).sha256;
        let put = upload.put_artifact(&sha, &bytes);
        assert!(matches!(put.status, 200 | 201), "{name}: {}", put.text);
    }
    for (key, bytes) in example_chunks(name) {
        let reply = upload.ingest_raw(Some(&key), &bytes);
        assert_eq!(reply.status, 200, "{name} {key}: {}", reply.text);
    }
    let done = upload.complete();
    assert_eq!(done.status, 200, "{name}: {}", done.text);
    upload.trace_id
}

/// Submits `events` under a trace created from `create`; returns its id.
fn submit_events(base: &str, create: &Value, events: &[telemetry_trace::Event]) -> String {
    let created = send(
        "POST",
        &format!("{base}/v1/traces"),
        &[("content-type", "application/json")],
        Some(create.to_string().as_bytes()),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let upload = Upload {
        base: base.to_owned(),
        trace_id: created.body["trace_id"].as_str().unwrap().to_owned(),
        token: created.body["upload_token"].as_str().unwrap().to_owned(),
    };
    let reply = upload.ingest("chunk-000", &chunk(0, events));
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(upload.complete().status, 200);
    upload.trace_id
}

/// A trace whose task, note and diff hold markup.
fn submit_hostile(base: &str) -> String {
    let mut create = create_body("p-hostile");
    create["task_title"] = json!(HOSTILE);
    let mut events = session(3, None);
    let EventKind::RationaleNote { text, .. } = &mut events[0].kind else {
        panic!("seq 0 is a rationale note");
    };
    *text = format!("{HOSTILE} & \"quoted\"");
    let EventKind::FileEdit { diff_unified, .. } = &mut events[1].kind else {
        panic!("seq 1 is a file edit");
    };
    "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+<img src=x onerror=alert(1)>\n"
        .clone_into(diff_unified);
    seal(&mut events);
    submit_events(base, &create, &events)
}

/// A trace whose command holds a key, which the collector redacts.
fn submit_secret(base: &str) -> String {
    let mut events = session(5, None);
    let EventKind::CmdRun { command, .. } = &mut events[2].kind else {
        panic!("seq 2 is a command");
    };
    *command = format!("OPENAI_API_KEY={SECRET} pytest -q");
    seal(&mut events);
    submit_events(base, &create_body("p-secret"), &events)
}

/// The part of `html` from the element whose opening tag holds `marker`
/// to the first closing `tag` after it (for elements that do not nest
/// their own kind).
fn element<'a>(html: &'a str, marker: &str, tag: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the page:\n{html}"));
    let start = html[..start].rfind('<').unwrap();
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .map_or(html.len(), |end| start + end);
    &html[start..end]
}

/// The text of an HTML fragment: tags dropped, the escapes the pages use
/// read back.
fn text(fragment: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// Each value of `attribute` in `html`, in document order.
fn attribute_values(html: &str, attribute: &str) -> Vec<String> {
    let needle = format!(" {attribute}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn date(offset_days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset_days)).to_string()
}

#[test]
fn pages_are_html_with_strict_headers_and_show_markup_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let hostile = submit_hostile(&server.url);
    let ui = |path: &str| fetch(&format!("{}{path}", server.url), &[]);

    let list = ui("/ui/traces");
    assert_eq!(list.status, 200, "{}", list.text);
    list.assert_secure("the list");
    assert!(list.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let row = element(&list.text, &format!("data-trace-id=\"{hostile}\""), "tr");
    assert!(
        row.contains(&format!("href=\"/ui/traces/{hostile}\"")),
        "{row}"
    );

    let page = ui(&format!("/ui/traces/{hostile}"));
    assert_eq!(page.status, 200, "{}", page.text);
    page.assert_secure("the trace");
    assert!(!page.text.contains("<img"), "{}", page.text);
    assert_eq!(
        text(element(&page.text, "id=\"task\"", "dd")),
        format!("BUG-456 {HOSTILE}")
    );
    let note = element(&page.text, "class=\"note\"", "p");
    assert_eq!(text(note), format!("hypothesis{HOSTILE} & \"quoted\""));
    let diff = element(&page.text, "class=\"diff\"", "pre");
    assert!(
        diff.contains("<span class=\"add\">+&lt;img src=x onerror=alert(1)&gt;</span>"),
        "{diff}"
    );
    assert!(diff.contains("<span class=\"del\">-old</span>"), "{diff}");
    assert_eq!(
        attribute_values(element(&page.text, "id=\"timeline\"", "ol"), "data-seq"),
        ["0", "1", "2"]
    );
    assert_eq!(
        text(element(&page.text, "id=\"proof\"", "p"))
            .split(':')
            .next(),
        Some("verified")
    );

    let registry = ui("/ui/registry");
    assert_eq!(registry.status, 200);
    registry.assert_secure("the registry");

    for path in ["/ui", "/ui/"] {
        let moved = ui(path);
        assert_eq!(moved.status, 303, "{path}");
        assert_eq!(moved.header("location"), Some("/ui/traces"));
        assert_eq!(moved.header("content-security-policy"), Some(CSP));
    }

    for path in [
        format!("/ui/traces/trace-{}", uuid::Uuid::now_v7()),
        "/ui/traces/not-a-trace".to_owned(),
        "/ui/traces/%FF".to_owned(),
        "/ui/nothing/here".to_owned(),
    ] {
        let missing = ui(&path);
        assert_eq!(missing.status, 404, "{path}: {}", missing.text);
        missing.assert_secure(&path);
        assert!(missing.text.contains("<h1>404 Not Found</h1>"), "{path}");
    }
}

#[test]
fn a_bad_filter_is_a_400_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    for (query, parameter) in [
        ("verified=maybe", "verified"),
        ("min_score=abc", "min_score"),
        ("min_score=7", "min_score"),
        ("from=2026-02-30", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("verified=yes&verified=no", "verified"),
        ("sort=desc", "sort"),
    ] {
        let page = fetch(&format!("{}/ui/traces?{query}", server.url), &[]);
        assert_eq!(page.status, 400, "{query}: {}", page.text);
        page.assert_secure(query);
        let message = text(element(&page.text, "id=\"message\"", "p"));
        assert!(
            message.starts_with(&format!("`{parameter}`")),
            "{query}: {message}"
        );
    }
    // A form's empty fields are no filter.
    let empty = fetch(
        &format!("{}/ui/traces?verified=&min_score=&from=&to=", server.url),
        &[],
    );
    assert_eq!(empty.status, 200, "{}", empty.text);
}

/// Sets a trace's QA job as a worker ends it, in the collector's SQLite
/// database: `qa` is the result, `verified` and `overall` the list's
/// columns.
fn finish_job(data_dir: &Path, trace_id: &str, qa: &Value, verified: bool, overall: Option<f64>) {
    let connection =
        rusqlite::Connection::open(data_dir.join(telemetry_collector::storage::SQLITE_FILE))
            .unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    let changed = connection
        .execute(
            "UPDATE qa_jobs SET state = 'done', attempts = 1, result = ?2, verified = ?3, overall = ?4 \
             WHERE trace_id = ?1",
            rusqlite::params![trace_id, qa.to_string(), verified, overall],
        )
        .unwrap();
    assert_eq!(changed, 1, "{trace_id} has a QA job");
}

fn judged(overall: f64) -> Value {
    json!({
        "validation": {
            "tests_passed": true, "verdict": "verified", "runner": "sandbox (namespaces)",
            "framework": "pytest", "counts": {"passed": 4, "failed": 0, "errors": 0, "skipped": 0},
            "duration_s": 1.25, "exit_code": 0,
        },
        "judge": {
            "judge": "heuristic",
            "scores": RUBRIC.iter().map(|d| (d.key.to_owned(), json!(overall))).collect::<serde_json::Map<_, _>>(),
            "reasons": RUBRIC.iter().map(|d| (d.key.to_owned(), json!(format!("{} <b>counted</b>", d.title)))).collect::<serde_json::Map<_, _>>(),
            "overall": overall,
            "attempts": 1,
        },
    })
}

fn listed(base: &str, query: &str) -> Vec<String> {
    let page = fetch(&format!("{base}/ui/traces?{query}"), &[]);
    assert_eq!(page.status, 200, "{query}: {}", page.text);
    attribute_values(&page.text, "data-trace-id")
}

#[test]
fn filters_select_by_verification_score_and_date_and_the_rubric_shows_scores() {
    let dir = tempfile::tempdir().unwrap();
    // No worker: the test ends the jobs itself.
    let launch = Launch::default().env("TELEMETRY_COLLECTOR_QA__WORKERS", "0");
    let server = Server::start(dir.path(), &launch);
    let simple = submit_example(&server.url, "simple");
    let failed = submit_example(&server.url, "failed");
    let open = Upload::create(&server.url, "p-open");
    finish_job(dir.path(), &simple, &judged(4.5), true, Some(4.5));
    let failed_qa = json!({
        "validation": {
            "tests_passed": false, "verdict": "error", "runner": "sandbox (namespaces)",
            "framework": "pytest", "duration_s": 30.0, "killed_by": "wall_clock",
            "reason": "the tests ran past the 30 s limit",
        },
        "judge": {"judge": "openai", "model": "gpt-4o-mini", "error": "no answer in the rubric's shape", "attempts": 3},
    });
    finish_job(dir.path(), &failed, &failed_qa, false, None);

    let base = &server.url;
    let newest_first = vec![open.trace_id.clone(), failed.clone(), simple.clone()];
    assert_eq!(listed(base, ""), newest_first);
    assert_eq!(listed(base, "verified=yes"), [simple.as_str()]);
    assert_eq!(listed(base, "verified=no"), [failed.as_str()]);
    assert_eq!(listed(base, "min_score=4.5"), [simple.as_str()]);
    assert_eq!(listed(base, "min_score=4.51"), Vec::<String>::new());
    assert_eq!(
        listed(base, "verified=no&min_score=1"),
        Vec::<String>::new()
    );
    let (yesterday, tomorrow) = (date(-1), date(1));
    assert_eq!(
        listed(base, &format!("from={yesterday}&to={tomorrow}")),
        newest_first
    );
    assert!(listed(base, &format!("from={tomorrow}")).is_empty());
    assert!(listed(base, &format!("to={yesterday}")).is_empty());
    let page = fetch(&format!("{base}/ui/traces?verified=yes&min_score=4"), &[]);
    assert!(
        page.text.contains("<option value=\"yes\" selected>"),
        "the form keeps its filters"
    );
    let row = element(&page.text, &format!("data-trace-id=\"{simple}\""), "tr");
    assert_eq!(text(element(row, "class=\"score\"", "td")), "4.50");
    assert_eq!(text(element(row, "class=\"job\"", "td")), "done");
    assert_eq!(text(element(row, "class=\"num events\"", "td")), "10");

    let page = fetch(&format!("{base}/ui/traces/{simple}"), &[]);
    assert_eq!(page.status, 200);
    let rubric = element(&page.text, "id=\"rubric\"", "table");
    for dimension in &RUBRIC {
        let row = element(rubric, &format!("data-key=\"{}\"", dimension.key), "tr");
        assert_eq!(text(element(row, "class=\"score\"", "td")), "4.5");
        assert_eq!(
            text(element(row, "class=\"weight\"", "td")),
            format!("{:.0}%", dimension.weight * 100.0)
        );
        assert!(row.contains("&lt;b&gt;counted&lt;/b&gt;"), "{row}");
    }
    let overall = element(rubric, "id=\"overall\"", "tr");
    assert_eq!(text(element(overall, "class=\"score\"", "td")), "4.50");
    assert_eq!(
        text(element(&page.text, "id=\"verdict\"", "dd")),
        "verified"
    );
    assert_eq!(text(element(&page.text, "id=\"job-state\"", "dd")), "done");
    assert_eq!(text(element(&page.text, "id=\"log-index\"", "dd")), "0");

    let page = fetch(&format!("{base}/ui/traces/{failed}"), &[]);
    assert_eq!(text(element(&page.text, "id=\"verdict\"", "dd")), "error");
    assert_eq!(
        text(element(&page.text, "id=\"killed-by\"", "dd")),
        "the wall_clock limit"
    );
    assert!(
        text(element(&page.text, "id=\"judge-error\"", "p"))
            .contains("no answer in the rubric's shape")
    );
    let rubric = element(&page.text, "id=\"rubric\"", "table");
    assert_eq!(
        rubric.matches("no score").count(),
        7,
        "six dimensions and the overall"
    );

    // An open trace: its events so far, no proof yet.
    let page = fetch(&format!("{base}/ui/traces/{}", open.trace_id), &[]);
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(text(element(&page.text, "id=\"state\"", "dd")), "open");
    assert!(text(element(&page.text, "id=\"proof\"", "p")).starts_with("not logged yet"));
}

#[test]
fn with_read_keys_the_pages_ask_for_one_and_take_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &Launch::default().env("TELEMETRY_COLLECTOR_READ_KEYS", READ_KEY),
    );
    let trace = submit_example(&server.url, "simple");
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    for path in [
        "/ui/traces".to_owned(),
        format!("/ui/traces/{trace}"),
        "/ui/registry".to_owned(),
    ] {
        let url = format!("{}{path}", server.url);
        for refused in [
            Vec::new(),
            vec![("authorization", basic("admin", "not-the-key-0123456789"))],
            vec![("authorization", "Basic %%%".to_owned())],
            vec![("authorization", basic("admin", ""))],
            vec![("x-api-key", "not-the-key-0123456789".to_owned())],
        ] {
            let headers: Vec<(&str, &str)> =
                refused.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = fetch(&url, &headers);
            assert_eq!(page.status, 401, "{path} {refused:?}: {}", page.text);
            assert_eq!(
                page.header("www-authenticate"),
                Some(r#"Basic realm="telemetry-collector", charset="UTF-8""#)
            );
            page.assert_secure(&path);
        }
        for accepted in [
            ("authorization", basic("anyone", READ_KEY)),
            ("authorization", basic("", READ_KEY)),
            ("authorization", format!("Bearer {READ_KEY}")),
            ("x-api-key", READ_KEY.to_owned()),
        ] {
            let page = fetch(&url, &[(accepted.0, &accepted.1)]);
            assert_eq!(page.status, 200, "{path} {accepted:?}: {}", page.text);
            page.assert_secure(&path);
        }
    }
    // The JSON API keeps its own door: Basic auth is for the pages.
    let api = fetch(
        &format!("{}/v1/traces/{trace}", server.url),
        &[("authorization", &basic("anyone", READ_KEY))],
    );
    assert_eq!(api.status, 401);
}

#[test]
fn the_registry_page_shows_counts_and_success_rates_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let mut failing = common::registration("org/mpnet", "client-2");
    failing["load_success"] = json!(false);
    failing["inference_success"] = json!(false);
    failing["device_type"] = json!("cuda");
    let answer = server.post(
        "/api/v1/telemetry",
        &json!([
            common::registration("org/mpnet", "client-1"),
            common::registration("org/mpnet", "client-1"),
            failing,
            common::registration("org/minilm", "client-1"),
        ]),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    let page = fetch(&format!("{}/ui/registry", server.url), &[]);
    assert_eq!(page.status, 200);
    page.assert_secure("the registry");
    assert_eq!(
        text(element(&page.text, "id=\"total\"", "p")),
        "4 registrations of 2 models"
    );
    assert_eq!(
        attribute_values(&page.text, "data-model"),
        ["org/mpnet", "org/minilm"]
    );
    let mpnet = element(&page.text, "data-model=\"org/mpnet\"", "tr");
    let cell = |row: &str, class: &str| text(element(row, &format!("class=\"{class}\""), "td"));
    assert_eq!(cell(mpnet, "num registrations"), "3");
    assert_eq!(cell(mpnet, "num clients"), "2");
    assert_eq!(cell(mpnet, "rate load-rate"), "66.7%");
    assert_eq!(cell(mpnet, "rate inference-rate"), "66.7%");
    assert_eq!(cell(mpnet, "devices"), "cpu 2, cuda 1");
    let minilm = element(&page.text, "data-model=\"org/minilm\"", "tr");
    assert_eq!(cell(minilm, "rate load-rate"), "100.0%");
}

/// Headless Chromium, run once per page.
struct Chromium {
    program: PathBuf,
    profile: tempfile::TempDir,
}

const CHROMIUM: &str = "/usr/bin/chromium";

impl Chromium {
    /// The browser, or `None` (saying so where it shows) when it is not
    /// installed; under CI its absence fails the test: `.ci/packages.sh`
    /// installs it.
    fn find() -> Option<Self> {
        if !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but {CHROMIUM} is missing: .ci/packages.sh installs Debian's chromium"
            );
            // Written past the test harness's capture, so that it shows.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: chromium not installed ({CHROMIUM}; `apt-get install chromium`)"
            );
            return None;
        }
        Some(Self {
            program: PathBuf::from(CHROMIUM),
            profile: tempfile::tempdir().unwrap(),
        })
    }

    fn run(&self, args: &[String]) -> String {
        let mut child = Command::new(&self.program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", self.profile.path().display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium {args:?} did not finish in 120 s:\n{}",
                    err.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        assert!(status.success(), "chromium {args:?}: {status}\n{stderr}");
        stdout
    }

    /// The DOM after the page loaded, serialized.
    fn dom(&self, url: &str) -> String {
        let dom = self.run(&["--dump-dom".to_owned(), url.to_owned()]);
        assert!(dom.contains("<h1>"), "{url}: {dom}");
        dom
    }

    /// Saves a 1280×2000 screenshot of `url` at `path`.
    fn screenshot(&self, url: &str, path: &Path) {
        let _ = std::fs::remove_file(path);
        self.run(&[
            format!("--screenshot={}", path.display()),
            "--window-size=1280,2000".to_owned(),
            url.to_owned(),
        ]);
        let png = std::fs::read(path).unwrap_or_default();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000,
            "{url}: no screenshot at {}",
            path.display()
        );
    }
}

/// `target/qa-screenshots`, beside the profile directory the collector
/// binary was built in.
fn screenshot_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_telemetry-collector"));
    let target = binary
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "target"))
        .or_else(|| binary.parent().and_then(Path::parent))
        .expect("the binary sits in a target directory");
    let dir = target.join("qa-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The kinds of an example's events, in seq order.
fn example_kinds(name: &str) -> Vec<String> {
    let mut events: Vec<(u64, String)> = example_chunks(name)
        .iter()
        .flat_map(|(_, bytes)| Chunk::from_json(bytes).unwrap().events)
        .map(|event| (event.seq, event.kind.type_name().to_owned()))
        .collect();
    events.sort();
    events.into_iter().map(|(_, kind)| kind).collect()
}

/// The rubric as the browser shows it: each dimension's score, unless
/// the judge has not scored the trace, when every score is `pending`.
fn check_rubric(dom: &str, trace: &Value, name: &str) {
    let rubric = element(dom, "id=\"rubric\"", "table");
    let judged = trace["qa"]["judge"]["scores"].as_object();
    for dimension in &RUBRIC {
        let row = element(rubric, &format!("data-key=\"{}\"", dimension.key), "tr");
        assert!(row.contains(dimension.title), "{name}: {row}");
        let score = text(element(row, "class=\"score\"", "td"));
        match judged.and_then(|scores| scores.get(dimension.key)) {
            Some(expected) => {
                assert_eq!(
                    score,
                    format!("{:.1}", expected.as_f64().unwrap()),
                    "{name}"
                );
            }
            // Read after the page: without a judgement then, none before.
            None => assert_eq!(score, "pending", "{name}: {row}"),
        }
    }
}

#[test]
fn a_browser_renders_the_example_sessions_and_shows_secrets_redacted() {
    let Some(chromium) = Chromium::find() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("collector"), &Launch::default());
    let mut traces: Vec<(String, String, Vec<String>)> = Vec::new();
    for name in ["simple", "complex", "failed"] {
        let id = submit_example(&server.url, name);
        traces.push((name.to_owned(), id, example_kinds(name)));
    }
    let secret = submit_secret(&server.url);
    let secret_kinds: Vec<String> = session(5, None)
        .iter()
        .map(|event| event.kind.type_name().to_owned())
        .collect();
    traces.push(("secret".to_owned(), secret.clone(), secret_kinds));
    let shots = screenshot_dir();

    let list_url = format!("{}/ui/traces", server.url);
    let dom = chromium.dom(&list_url);
    let listed = attribute_values(&dom, "data-trace-id");
    assert_eq!(listed.len(), 4, "{dom}");
    for (name, id, _) in &traces {
        assert!(listed.contains(id), "{name} is listed");
    }
    chromium.screenshot(&list_url, &shots.join("traces.png"));

    for (name, id, kinds) in &traces {
        let url = format!("{}/ui/traces/{id}", server.url);
        let dom = chromium.dom(&url);
        let timeline = element(&dom, "id=\"timeline\"", "ol");
        let seqs: Vec<String> = (0..kinds.len()).map(|seq| seq.to_string()).collect();
        assert_eq!(
            attribute_values(timeline, "data-seq"),
            seqs,
            "{name}: seq order"
        );
        assert_eq!(&attribute_values(timeline, "data-kind"), kinds, "{name}");
        assert!(
            text(element(&dom, "id=\"proof\"", "p")).starts_with("verified:"),
            "{name}: {}",
            element(&dom, "id=\"proof\"", "p")
        );
        let trace = send("GET", &format!("{}/v1/traces/{id}", server.url), &[], None);
        assert_eq!(trace.status, 200);
        check_rubric(&dom, &trace.body, name);
        if name == "secret" {
            let command = element(&dom, "class=\"command\"", "pre");
            assert_eq!(text(command), "$ OPENAI_API_KEY=[secret] pytest -q");
            assert!(!dom.contains(SECRET), "the secret is not shown");
            assert!(!trace.text.contains(SECRET), "nor stored");
        }
        chromium.screenshot(&url, &shots.join(format!("trace-{name}.png")));
    }

    let answer = server.post(
        "/api/v1/telemetry",
        &json!([
            common::registration("sentence-transformers/all-mpnet-base-v2", "client-1"),
            common::registration("sentence-transformers/all-MiniLM-L6-v2", "client-2"),
        ]),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    let registry_url = format!("{}/ui/registry", server.url);
    let dom = chromium.dom(&registry_url);
    assert!(dom.contains("<h1>Model registry</h1>"), "{dom}");
    assert_eq!(attribute_values(&dom, "data-model").len(), 2, "{dom}");
    chromium.screenshot(&registry_url, &shots.join("registry.png"));
    let _ = writeln!(
        std::io::stderr(),
        "screenshots of the pages: {}",
        shots.display()
    );
}
