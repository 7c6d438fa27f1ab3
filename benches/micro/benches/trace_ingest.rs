//! The collector's trace upload under load, and the log's inclusion proofs
//! at 2²⁰ leaves. A plain program: it prints one line for
//! `cargo xtask bench traces`:
//!
//! `traces events_per_chunk=… events_per_trace=… c4_events_per_s=… c4_p50_ms=… c4_p99_ms=… … complete_p50_ms=… proof_leaves=… proof_hashes=… proof_ns=… rss_kib=…`
//!
//! The collector is the executable named by `TELEMETRY_BENCH_COLLECTOR`
//! (`cargo xtask bench traces` builds it in release), started with
//! `serve --listen 127.0.0.1:0 --data-dir DIR` on SQLite in a temporary
//! directory, afresh for each load. Sessions are sealed before anything is
//! timed: 1,000 events of every kind (diffs of a few hundred bytes, no
//! secrets), in chunks of 100, already serialized. Then `UPLOADERS` client
//! threads (ureq, blocking, one keep-alive agent each) each create their own
//! traces, upload their artifacts, post the chunks in order (each request
//! timed) and `complete` the trace (timed: the full chain verification and
//! the Merkle append), over and over, for `WARMUP` and then `MEASURED`.
//! Events per second count the chunks answered within the measured window,
//! so that the rate includes the creates, artifacts and completes between
//! them: a sustained upload of whole traces, every event hash-checked on
//! arrival and every chain verified at the end.
//!
//! Then, in this process, a `telemetry_trace::merkle::MerkleTree` of 2²⁰
//! leaves: the length and the time of inclusion proofs, each verified.
//!
//! `cargo bench -p telemetry-benches --bench trace_ingest` runs it alone
//! (with `TELEMETRY_BENCH_COLLECTOR` set).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemetry_trace::merkle::{self, MerkleTree};
use telemetry_trace::{ArtifactRef, Chunk, Event, EventKind, RationaleKind, seal};

const EVENTS_PER_CHUNK: u64 = 100;
const CHUNKS_PER_TRACE: u64 = 10;
const EVENTS_PER_TRACE: u64 = EVENTS_PER_CHUNK * CHUNKS_PER_TRACE;
/// Distinct sessions; trace `n` uploads session `n % SESSIONS`, each a
/// chain of its own on the collector.
const SESSIONS: usize = 8;
/// Concurrent uploaders, each with its own traces: a few developers, and
/// many at once.
const UPLOADERS: [usize; 2] = [4, 16];
const WARMUP: Duration = Duration::from_secs(3);
const MEASURED: Duration = Duration::from_secs(15);
/// Leaves of the in-process Merkle tree: 2²⁰.
const PROOF_LEAVES: u64 = 1 << 20;
const PROOF_SAMPLES: u64 = 2_000;

/// One session, ready to send: its chunk bodies and its artifacts.
struct Session {
    chunks: Vec<Vec<u8>>,
    artifacts: Vec<(String, Vec<u8>)>,
}

/// A deterministic generator (`SplitMix64`), so that every run sends the same
/// sessions.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

const FILES: &[&str] = &[
    "src/calculator.py",
    "src/parser.py",
    "src/cli/main.py",
    "tests/test_calculator.py",
    "tests/test_parser.py",
];
const FUNCTIONS: &[&str] = &["add", "subtract", "parse_expr", "tokenize", "evaluate"];
const COMMANDS: &[&str] = &[
    "pytest -q tests/test_calculator.py",
    "pytest -q -k parse",
    "python -m mypy src",
    "git diff --stat",
    "ruff check src tests",
];
const NOTES: &[(RationaleKind, &str)] = &[
    (
        RationaleKind::Plan,
        "Reproduce the failure with the smallest input, then read the function it points at.",
    ),
    (
        RationaleKind::Hypothesis,
        "The operator in the accumulator is inverted when the left operand is negative.",
    ),
    (
        RationaleKind::Observation,
        "Three tests pass and one fails; the failing one adds a negative number to zero.",
    ),
    (
        RationaleKind::Decision,
        "Fix the operator rather than special-casing zero: the special case hides the bug.",
    ),
    (
        RationaleKind::NextStep,
        "Run the whole suite, then commit with a message naming the issue.",
    ),
];

/// A unified diff of a few hundred bytes: one hunk, context around a
/// changed line.
fn diff(random: &mut SplitMix, file: &str, seq: u64) -> String {
    let function = random.pick(FUNCTIONS);
    let line = 10 + random.below(400);
    let mut out =
        format!("--- a/{file}\n+++ b/{file}\n@@ -{line},7 +{line},7 @@ def {function}(a, b):\n");
    let _ = writeln!(
        out,
        "     \"\"\"Return the result of {function} on a and b.\"\"\""
    );
    let _ = writeln!(out, "     if a is None or b is None:");
    let _ = writeln!(
        out,
        "         raise ValueError(\"both operands are required\")"
    );
    let _ = writeln!(out, "-    result = a - b  # step {seq}");
    let _ = writeln!(out, "+    result = a + b  # step {seq}");
    let _ = writeln!(out, "     log.debug(\"{function} gave %s\", result)");
    let _ = writeln!(out, "     return result");
    out
}

/// `n` sealed events of every kind, the commands' outputs and the test
/// reports referring to `output` and `report`.
fn session(random: &mut SplitMix, output: &ArtifactRef, report: &ArtifactRef) -> Vec<Event> {
    let mut events: Vec<Event> = (0..EVENTS_PER_TRACE)
        .map(|seq| {
            let kind = match seq % 10 {
                0 | 5 => {
                    let (kind, text) = NOTES[usize::try_from(random.below(5)).unwrap_or(0)];
                    EventKind::RationaleNote {
                        kind,
                        text: format!("{text} (step {seq})"),
                    }
                }
                1 | 3 | 6 | 8 => {
                    let file = random.pick(FILES);
                    EventKind::FileEdit {
                        file_path: file.to_owned(),
                        diff_unified: diff(random, file, seq),
                        buffer_hash_after: format!(
                            "sha256:{:016x}{:016x}{:016x}{:016x}",
                            random.next(),
                            random.next(),
                            random.next(),
                            random.next()
                        ),
                    }
                }
                2 | 7 => EventKind::CmdRun {
                    command: random.pick(COMMANDS).to_owned(),
                    exit_code: i32::from(random.below(3) == 0),
                    duration_s: 0.5
                        + f64::from(u32::try_from(random.below(3000)).unwrap_or(0)) / 1000.0,
                    output: Some(output.clone()),
                },
                4 => EventKind::TestRun {
                    framework: "pytest".to_owned(),
                    passed: 40 + u32::try_from(random.below(10)).unwrap_or(0),
                    failed: u32::try_from(random.below(2)).unwrap_or(0),
                    errors: 0,
                    duration_s: Some(2.4),
                    report: Some(report.clone()),
                },
                _ => EventKind::Commit {
                    sha: format!(
                        "{:016x}{:016x}{:08x}",
                        random.next(),
                        random.next(),
                        random.next() >> 32
                    ),
                    message: format!(
                        "Fix the accumulator's operator for negative operands ({seq})"
                    ),
                    diff: None,
                },
            };
            #[allow(clippy::cast_precision_loss, reason = "seqs are below 2^53")]
            let ts_client_s = 1_760_000_000.0 + seq as f64 * 2.5;
            Event {
                id: format!("evt-{seq:05}"),
                seq,
                ts_client_s,
                ts_server_s: None,
                redactions: 0,
                server_redactions: 0,
                prev_hash: String::new(),
                hash: String::new(),
                kind,
            }
        })
        .collect();
    seal(&mut events);
    events
}

fn sessions() -> Vec<Session> {
    let mut random = SplitMix(0x7ace_1e57_b0d1_e5ed);
    (0..SESSIONS)
        .map(|index| {
            let output = format!(
                "============ test session starts ============\ncollected 44 items\n\n\
                 tests/test_calculator.py ....F.....\ntests/test_parser.py ..........\n\n\
                 FAILED tests/test_calculator.py::test_add_negative - assert -1 == 1\n\
                 ======= 1 failed, 43 passed in 2.4{index}s =======\n"
            )
            .into_bytes();
            let report = format!(
                "<testsuite name=\"pytest\" tests=\"44\" failures=\"1\" errors=\"0\" time=\"2.4{index}\">\
                 <testcase classname=\"tests.test_calculator\" name=\"test_add_negative\">\
                 <failure message=\"assert -1 == 1\"/></testcase></testsuite>\n"
            )
            .into_bytes();
            let output_ref = ArtifactRef::for_bytes(&output, Some("text/plain"));
            let report_ref = ArtifactRef::for_bytes(&report, Some("application/xml"));
            let events = session(&mut random, &output_ref, &report_ref);
            let chunks = events
                .chunks(usize::try_from(EVENTS_PER_CHUNK).unwrap_or(100))
                .enumerate()
                .map(|(seq, events)| {
                    let chunk = Chunk {
                        chunk_id: format!("chunk-{seq:03}"),
                        chunk_seq: seq as u64,
                        events: events.to_vec(),
                    };
                    serde_json::to_vec(&chunk).unwrap()
                })
                .collect();
            Session {
                chunks,
                artifacts: vec![(output_ref.sha256, output), (report_ref.sha256, report)],
            }
        })
        .collect()
}

/// The collector under test, killed if it still runs when dropped.
struct Collector {
    child: Child,
    url: String,
}

impl Collector {
    fn start(binary: &Path, dir: &Path) -> Self {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        // The defaults (keyless on loopback, SQLite), not this shell's.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TELEMETRY_COLLECTOR_") {
                command.env_remove(name);
            }
        }
        // Every upload is counted against its trace's bucket and every
        // create against the one loopback client's; the check still runs.
        command
            .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "10000000")
            .env("TELEMETRY_COLLECTOR_RATE_LIMIT_BURST", "10000000");
        let log = std::fs::File::create(dir.join("collector.log")).unwrap();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("could not start {}: {error}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = sender.send(lines.next());
            for _ in lines {}
        });
        let Ok(Some(Ok(line))) = receiver.recv_timeout(Duration::from_secs(60)) else {
            panic!(
                "the collector printed no `listening on` line; its log: {}",
                dir.join("collector.log").display()
            )
        };
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("expected `listening on http://ADDR`, got `{line}`"))
            .trim_end_matches('/')
            .to_owned();
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// `VmHWM`: the most memory the process has held resident, in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))?;
        line.trim().trim_end_matches("kB").trim().parse().ok()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

/// Sends a request and returns the status and the body as JSON, panicking
/// on anything but `expect`.
fn call(
    request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: &[u8],
    expect: &[u16],
    what: &str,
) -> Value {
    let mut response = request
        .send(body)
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    assert!(expect.contains(&status), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

const CREATE: &str = r#"{"participant_id":"p-7f3a9c2e","consent":true,"task_id":"BUG-456","task_title":"Fix calculator bug","task_description":"Adding a negative number gives the wrong sign.","repo_origin":"https://github.com/example/calculator","start_commit":"4f2d8a1c9b7e6d5f3a2b1c0d9e8f7a6b5c4d3e2f","environment":{"os":"linux","python_version":"3.11"}}"#;

/// What one uploader measured.
#[derive(Default)]
struct Measured {
    /// Chunk latencies in seconds, of the chunks sent in the measured
    /// window.
    chunk_s: Vec<f64>,
    /// Events of the chunks answered in the measured window.
    events: u64,
    /// `complete` latencies in seconds, of those sent in the measured
    /// window.
    complete_s: Vec<f64>,
    traces: u64,
    redactions: u64,
}

/// One uploader: whole traces, one after another, until `end`.
fn uploader(
    url: &str,
    sessions: &[Session],
    first: usize,
    warm: Instant,
    end: Instant,
) -> Measured {
    let agent = agent();
    let mut measured = Measured::default();
    let mut trace = first;
    while Instant::now() < end {
        let session = &sessions[trace % sessions.len()];
        trace += 1;
        let created = call(
            agent
                .post(format!("{url}/v1/traces"))
                .header("content-type", "application/json"),
            CREATE.as_bytes(),
            &[201],
            "create",
        );
        let id = created["trace_id"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {}", created["upload_token"].as_str().unwrap());
        let base = format!("{url}/v1/traces/{id}");
        for (sha, bytes) in &session.artifacts {
            call(
                agent
                    .put(format!("{base}/artifacts/{sha}"))
                    .header("authorization", &bearer),
                bytes,
                &[200, 201],
                "artifact",
            );
        }
        for (seq, body) in session.chunks.iter().enumerate() {
            let started = Instant::now();
            let answer = call(
                agent
                    .post(format!("{base}/events:ingest"))
                    .header("authorization", &bearer)
                    .header("content-type", "application/json")
                    .header("idempotency-key", &format!("{id}-{seq}")),
                body,
                &[200],
                "ingest",
            );
            let finished = Instant::now();
            assert_eq!(
                answer["accepted"].as_u64(),
                Some(EVENTS_PER_CHUNK),
                "{answer}"
            );
            measured.redactions += answer["redactions"].as_u64().unwrap_or(0);
            if started >= warm && started < end {
                measured.chunk_s.push((finished - started).as_secs_f64());
            }
            if finished >= warm && finished <= end {
                measured.events += EVENTS_PER_CHUNK;
            }
        }
        let started = Instant::now();
        let completed = call(
            agent
                .post(format!("{base}/complete"))
                .header("authorization", &bearer),
            b"",
            &[200],
            "complete",
        );
        let finished = Instant::now();
        assert_eq!(
            completed["num_events"].as_u64(),
            Some(EVENTS_PER_TRACE),
            "{completed}"
        );
        if started >= warm && started < end {
            measured.complete_s.push((finished - started).as_secs_f64());
            measured.traces += 1;
        }
    }
    measured
}

/// The `q` quantile (nearest rank) of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short vector"
    )]
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One load: a fresh collector, `uploaders` threads for `WARMUP` +
/// `MEASURED`; its numbers, keyed as on the line.
fn load(binary: &Path, sessions: &Arc<Vec<Session>>, uploaders: usize) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let collector = Collector::start(binary, dir.path());
    let start = Instant::now();
    let warm = start + WARMUP;
    let end = warm + MEASURED;
    let handles: Vec<_> = (0..uploaders)
        .map(|index| {
            let sessions = Arc::clone(sessions);
            let url = collector.url.clone();
            std::thread::spawn(move || uploader(&url, &sessions, index, warm, end))
        })
        .collect();
    let mut all = Measured::default();
    for handle in handles {
        let one = handle.join().expect("an uploader failed");
        all.chunk_s.extend(one.chunk_s);
        all.complete_s.extend(one.complete_s);
        all.events += one.events;
        all.traces += one.traces;
        all.redactions += one.redactions;
    }
    let rss_kib = collector.peak_rss_kib().unwrap_or(0);
    drop(collector);
    assert_eq!(
        all.redactions, 0,
        "the collector redacted something in sessions meant to hold no secrets"
    );
    all.chunk_s.sort_by(f64::total_cmp);
    all.complete_s.sort_by(f64::total_cmp);
    #[allow(
        clippy::cast_precision_loss,
        reason = "event counts are far below 2^53"
    )]
    let events_per_s = all.events as f64 / MEASURED.as_secs_f64();
    let ms = |seconds: f64| format!("{:.3}", seconds * 1000.0);
    let key = |name: &str| format!("c{uploaders}_{name}");
    eprintln!(
        "trace_ingest: {uploaders} uploaders: {events_per_s:.0} events/s, {} chunks, {} traces completed",
        all.chunk_s.len(),
        all.traces
    );
    vec![
        (key("events_per_s"), format!("{events_per_s:.0}")),
        (key("chunks"), all.chunk_s.len().to_string()),
        (key("p50_ms"), ms(quantile(&all.chunk_s, 0.50))),
        (key("p99_ms"), ms(quantile(&all.chunk_s, 0.99))),
        (key("max_ms"), ms(quantile(&all.chunk_s, 1.0))),
        (key("traces"), all.traces.to_string()),
        (key("complete_p50_ms"), ms(quantile(&all.complete_s, 0.50))),
        (key("complete_p99_ms"), ms(quantile(&all.complete_s, 0.99))),
        (key("rss_kib"), rss_kib.to_string()),
    ]
}

/// A tree of `PROOF_LEAVES` leaves, and inclusion proofs of spread-out
/// leaves against it: the longest proof, and the median time to build one
/// and to verify one.
fn proofs() -> Vec<(String, String)> {
    let started = Instant::now();
    let mut tree = MerkleTree::new();
    for index in 0..PROOF_LEAVES {
        tree.push(merkle::leaf_hash(&index.to_be_bytes()));
    }
    let build_s = started.elapsed().as_secs_f64();
    let root = tree.root();
    let mut random = SplitMix(0x9e0f);
    let mut longest = 0;
    let mut proof_s = Vec::new();
    let mut verify_s = Vec::new();
    for _ in 0..PROOF_SAMPLES {
        let index = random.below(PROOF_LEAVES);
        let started = Instant::now();
        let proof = tree.inclusion_proof(index, PROOF_LEAVES).unwrap();
        let built = started.elapsed();
        let leaf = merkle::leaf_hash(&index.to_be_bytes());
        let started = Instant::now();
        let ok = merkle::verify_inclusion(&leaf, index, PROOF_LEAVES, &proof, &root);
        let verified = started.elapsed();
        assert!(ok, "the proof of leaf {index} does not verify");
        longest = longest.max(proof.len());
        proof_s.push(built.as_secs_f64());
        verify_s.push(verified.as_secs_f64());
    }
    proof_s.sort_by(f64::total_cmp);
    verify_s.sort_by(f64::total_cmp);
    let ns = |seconds: f64| format!("{:.0}", seconds * 1e9);
    vec![
        ("proof_leaves".to_owned(), PROOF_LEAVES.to_string()),
        ("proof_hashes".to_owned(), longest.to_string()),
        ("proof_ns".to_owned(), ns(quantile(&proof_s, 0.5))),
        ("proof_verify_ns".to_owned(), ns(quantile(&verify_s, 0.5))),
        ("tree_build_s".to_owned(), format!("{build_s:.3}")),
    ]
}

fn main() {
    let binary = PathBuf::from(std::env::var_os("TELEMETRY_BENCH_COLLECTOR").expect(
        "set TELEMETRY_BENCH_COLLECTOR to a telemetry-collector executable \
         (`cargo xtask bench traces` builds one and sets it)",
    ));
    assert!(binary.is_file(), "{} is not a file", binary.display());
    let started = Instant::now();
    let sessions = Arc::new(sessions());
    let bytes: usize = sessions
        .iter()
        .flat_map(|session| &session.chunks)
        .map(Vec::len)
        .sum();
    let chunks = sessions
        .iter()
        .map(|session| session.chunks.len())
        .sum::<usize>();
    let mut values: Vec<(String, String)> = vec![
        ("events_per_chunk".to_owned(), EVENTS_PER_CHUNK.to_string()),
        ("events_per_trace".to_owned(), EVENTS_PER_TRACE.to_string()),
        ("chunk_bytes".to_owned(), (bytes / chunks).to_string()),
        ("measured_s".to_owned(), MEASURED.as_secs().to_string()),
    ];
    eprintln!(
        "trace_ingest: {SESSIONS} sessions sealed in {:.2} s, {} bytes a chunk on average",
        started.elapsed().as_secs_f64(),
        bytes / chunks
    );
    for uploaders in UPLOADERS {
        values.extend(load(&binary, &sessions, uploaders));
    }
    values.extend(proofs());
    let peak = values
        .iter()
        .filter(|(key, _)| key.ends_with("_rss_kib"))
        .filter_map(|(_, value)| value.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    values.push(("rss_kib".to_owned(), peak.to_string()));
    let line: Vec<String> = values
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    println!("traces {}", line.join(" "));
}
