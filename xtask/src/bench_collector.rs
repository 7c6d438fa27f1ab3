//! `cargo xtask bench collector`: the registry endpoint of
//! `telemetry-collector` (`POST /api/v1/telemetry`) under load, beside the
//! reference design's stack on the same events, in one run; its table goes
//! into `docs/benchmarks.md` between the `bench-collector` markers.
//!
//! Each row is a fresh server on loopback with a fresh database: our
//! collector on SQLite, the reference (FastAPI on uvicorn with Pydantic
//! models, `benches/collector/fastapi_app.py`, in a virtualenv under the
//! target directory), and our collector on PostgreSQL when
//! `TELEMETRY_BENCH_DATABASE_URL` or `TELEMETRY_TEST_DATABASE_URL` is set.
//! `wrk` (installed with apt-get when missing) warms it up, then loads it,
//! with `benches/collector/post_events.lua` posting pre-generated bodies of
//! 100 events whose uuids never repeat. Then the requests that were still in
//! flight when wrk stopped are sent again (a duplicate counts as accepted),
//! the peak RSS is read (`VmHWM`), the server is stopped with SIGTERM, and
//! the rows stored must equal the events sent.
//!
//! `--no-write` prints the table without touching the document;
//! `--reference-only` runs the reference alone (and never writes).
//! `TELEMETRY_BENCH_COLLECTOR=PATH` measures that executable instead of
//! building `telemetry-collector` from this checkout.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};

use crate::bench::{captured, publish, verdict};
use crate::cmd;

const BEGIN: &str = "<!-- bench-collector:begin (written by `cargo xtask bench collector`) -->";
const END: &str = "<!-- bench-collector:end -->";
const COLLECTOR_MANIFEST: &str = "crates/telemetry-collector/Cargo.toml";
const APP_DIR: &str = "benches/collector";
const REQUIREMENTS: &str = "benches/collector/requirements.txt";
const WRK_SCRIPT: &str = "benches/collector/post_events.lua";
const ENDPOINT: &str = "/api/v1/telemetry";
/// The database our collector gets on the PostgreSQL server, created anew
/// for each row.
const PG_DATABASE: &str = "telemetry_collector_bench";

/// Bodies in the file that wrk cycles through (at most 4096: the body's
/// index is three hex digits of each uuid).
const BODIES: u32 = 400;
const EVENTS_PER_BODY: u32 = 100;
/// What the Lua script replaces in every uuid: `PLACEHOLDER` there.
const PLACEHOLDER: &str = "XXXXXXXX";

/// One wrk thread per core: wrk needs far less CPU than any server here.
const WRK_THREADS: u32 = 2;
/// Connections: 8 is the load at which the reference's figure is given
/// (90 requests a second); 64 is many clients at once, where a server that
/// commits concurrent requests together gets large groups and one that
/// queues them shows it in p99.
const LOADS: [u32; 2] = [8, 64];
const WARMUP: &str = "3s";
const MEASURED: &str = "10s";
/// wrk's default of 2 s would count the reference's slow answers at 64
/// connections as errors.
const WRK_TIMEOUT: &str = "10s";

const TARGET_EVENTS_PER_S: f64 = 150_000.0;
const TARGET_P99_MS: f64 = 50.0;
const TARGET_RSS_MIB: f64 = 64.0;
const TARGET_RATIO: f64 = 20.0;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut write = true;
    let mut reference_only = false;
    for arg in args {
        match arg.as_str() {
            "--no-write" => write = false,
            "--reference-only" => reference_only = true,
            other => {
                bail!("`bench collector` takes --no-write and --reference-only, got `{other}`")
            }
        }
    }
    let started = Instant::now();
    let collector = if reference_only {
        None
    } else {
        Some(build_collector()?)
    };
    let work = target_dir()?.join("bench-collector");
    fs::create_dir_all(&work)?;
    ensure_wrk()?;
    let venv = python_venv(&work.join("venv"))?;
    let bodies = Bodies::generate(now()?);
    let bodies_file = work.join("bodies.ndjson");
    fs::write(&bodies_file, bodies.lines.join("\n") + "\n")?;
    let bench = Bench {
        work: &work,
        bodies: &bodies,
        bodies_file: &bodies_file,
        venv: &venv,
    };

    let mut rows = Vec::new();
    if let Some(binary) = &collector {
        for load in LOADS {
            rows.push(bench.measure(
                &System::Collector {
                    binary,
                    postgres: None,
                },
                load,
            )?);
        }
    }
    for load in LOADS {
        rows.push(bench.measure(&System::Reference, load)?);
    }
    let postgres = match (&collector, database_url()) {
        (None, _) => Postgres::NotRun("`--reference-only`".to_owned()),
        (Some(_), None) => Postgres::NotRun(
            "neither `TELEMETRY_BENCH_DATABASE_URL` nor `TELEMETRY_TEST_DATABASE_URL` is set \
             (`source .ci/postgres.sh` starts a server and sets the second)"
                .to_owned(),
        ),
        (Some(binary), Some(admin)) => {
            let server = Postgres::Ran(postgres_version(&admin)?);
            for load in LOADS {
                let system = System::Collector {
                    binary,
                    postgres: Some(&admin),
                };
                rows.push(bench.measure(&system, load)?);
            }
            server
        }
    };
    if let Postgres::NotRun(why) = &postgres {
        eprintln!("bench collector: PostgreSQL skipped: {why}");
    }
    let table = table(&rows, &postgres, &versions()?, reference_only);
    let verified = rows.iter().all(Row::verified);
    publish(
        "bench collector",
        started,
        &table,
        (write && !reference_only && verified).then_some((BEGIN, END)),
    )?;
    ensure!(
        verified,
        "in some rows the rows stored differ from the events sent, or wrk saw errors (see the table); {} not written",
        "docs/benchmarks.md"
    );
    Ok(())
}

/// `TELEMETRY_BENCH_COLLECTOR`, an executable to measure as it is; or else
/// `telemetry-collector` built in release.
pub(crate) fn build_collector() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("TELEMETRY_BENCH_COLLECTOR") {
        let binary = PathBuf::from(binary);
        ensure!(
            binary.is_file(),
            "TELEMETRY_BENCH_COLLECTOR={} is not a file",
            binary.display()
        );
        eprintln!(
            "bench collector: measuring {} (TELEMETRY_BENCH_COLLECTOR), not a build of this checkout",
            binary.display()
        );
        return Ok(binary);
    }
    ensure!(
        Path::new(COLLECTOR_MANIFEST).exists(),
        "the collector's rows need the `telemetry-collector` package, and {COLLECTOR_MANIFEST} \
         does not exist in this checkout; `cargo xtask bench collector --reference-only` runs \
         the reference's rows alone"
    );
    cmd::run(
        "build telemetry-collector",
        "cargo",
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "telemetry-collector",
        ],
    )?;
    let binary = target_dir()?.join("release/telemetry-collector");
    ensure!(binary.exists(), "no {} after the build", binary.display());
    Ok(binary)
}

/// Cargo's target directory, as `cargo metadata` reports it.
fn target_dir() -> anyhow::Result<PathBuf> {
    let output = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .stderr(Stdio::inherit())
        .output()
        .context("could not run `cargo metadata`")?;
    ensure!(output.status.success(), "`cargo metadata` failed");
    let json = String::from_utf8(output.stdout)?;
    let key = "\"target_directory\":\"";
    let start = json
        .find(key)
        .context("no target_directory in `cargo metadata`")?
        + key.len();
    let end = json[start..]
        .find('"')
        .context("unterminated target_directory")?;
    Ok(PathBuf::from(&json[start..start + end]))
}

/// `TELEMETRY_BENCH_DATABASE_URL`, else `TELEMETRY_TEST_DATABASE_URL`: a
/// PostgreSQL server on which the bench may create and drop a database.
fn database_url() -> Option<String> {
    [
        "TELEMETRY_BENCH_DATABASE_URL",
        "TELEMETRY_TEST_DATABASE_URL",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()))
}

/// Installs Debian packages with apt-get (through `sudo -n` when not root),
/// running `apt-get update` only when the install fails without it.
fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0");
    let sudo: &[&str] = if root { &[] } else { &["sudo", "-n"] };
    let install = [
        sudo,
        &[
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
        ],
        packages,
    ]
    .concat();
    let update = [sudo, &["apt-get", "update", "-q"]].concat();
    let step = format!("apt-get install {}", packages.join(" "));
    let (status, _) = cmd::status(&step, install[0], &install[1..], &[])?;
    if !status.success() {
        cmd::run("apt-get update", update[0], &update[1..])?;
        cmd::run(&step, install[0], &install[1..])?;
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn ensure_wrk() -> anyhow::Result<()> {
    if !on_path("wrk") {
        apt_install(&["wrk"])?;
    }
    ensure!(on_path("wrk"), "wrk is not on PATH after installing it");
    Ok(())
}

/// The reference's virtualenv, created and installed from
/// `requirements.txt` only when that file changed since the last install.
fn python_venv(dir: &Path) -> anyhow::Result<PathBuf> {
    let wanted =
        fs::read_to_string(REQUIREMENTS).with_context(|| format!("read {REQUIREMENTS}"))?;
    let stamp = dir.join("installed-requirements.txt");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        eprintln!(
            "bench collector: reusing {} ({REQUIREMENTS} unchanged)",
            dir.display()
        );
        return Ok(dir.to_owned());
    }
    let has_venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !has_venv {
        apt_install(&["python3", "python3-venv"])?;
    }
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    let shown = dir.to_str().context("the target directory is not UTF-8")?;
    cmd::run("python3 -m venv", "python3", &["-m", "venv", shown])?;
    let pip = dir.join("bin/pip");
    cmd::run(
        "pip install",
        pip.to_str().context("not UTF-8")?,
        &["install", "--quiet", "-r", REQUIREMENTS],
    )?;
    fs::write(&stamp, wanted)?;
    Ok(dir.to_owned())
}

/// The pinned versions of the reference stack, from `requirements.txt`.
fn versions() -> anyhow::Result<HashMap<String, String>> {
    let text = fs::read_to_string(REQUIREMENTS)?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once("=="))
        .map(|(name, version)| {
            let name = name.split('[').next().unwrap_or(name).trim().to_lowercase();
            (name, version.trim().to_owned())
        })
        .collect())
}

/// The time since the Unix epoch.
fn now() -> anyhow::Result<Duration> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?)
}

/// The request bodies: one JSON array of 100 events per line, each uuid
/// starting with `PLACEHOLDER`, so that one wrk thread's uuids rise as one
/// client's UUID v7s do.
struct Bodies {
    lines: Vec<String>,
}

/// Models as registries see them: name, source, dimension, version, metric,
/// normalization, modalities.
type Model = (
    &'static str,
    &'static str,
    u32,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const MODELS: &[Model] = &[
    (
        "sentence-transformers/all-mpnet-base-v2",
        "sentence-transformers",
        768,
        Some("2.1.0"),
        Some("cosine"),
        Some("l2"),
        r#"["text"]"#,
    ),
    (
        "sentence-transformers/all-MiniLM-L6-v2",
        "sentence-transformers",
        384,
        Some("2.2.2"),
        Some("cosine"),
        Some("l2"),
        r#"["text"]"#,
    ),
    (
        "BAAI/bge-large-en-v1.5",
        "huggingface",
        1024,
        Some("1.5"),
        Some("cosine"),
        None,
        r#"["text"]"#,
    ),
    (
        "openai/clip-vit-base-patch32",
        "huggingface",
        512,
        None,
        Some("dot"),
        None,
        r#"["text","image"]"#,
    ),
    (
        "text-embedding-3-small",
        "openai",
        1536,
        None,
        Some("cosine"),
        Some("l2"),
        r#"["text"]"#,
    ),
    (
        "nomic-ai/nomic-embed-text-v1.5",
        "ollama",
        768,
        Some("1.5"),
        Some("cosine"),
        None,
        r#"["text"]"#,
    ),
    (
        "intfloat/e5-base-v2",
        "huggingface",
        768,
        Some("2.0"),
        Some("euclidean"),
        Some("l2"),
        r#"["text"]"#,
    ),
    (
        "jinaai/jina-embeddings-v2-base-en",
        "huggingface",
        768,
        None,
        None,
        None,
        r#"["text"]"#,
    ),
];

const DEVICES: &[&str] = &["cpu", "cuda", "mps"];

impl Bodies {
    /// Bodies whose events carry `now` as their timestamp and in their
    /// uuid's last group.
    fn generate(now: Duration) -> Self {
        let mut random = SplitMix(0x7e1e_6e77_c011_ec70);
        let millis = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let timestamp = rfc3339(now.as_secs());
        let string = |value: Option<&str>| value.map_or("null".to_owned(), |v| format!("\"{v}\""));
        let lines = (0..BODIES)
            .map(|body| {
                let client_id = random.uuid_v4();
                let mut line = String::with_capacity(50_000);
                line.push('[');
                for event in 0..EVENTS_PER_BODY {
                    if event > 0 {
                        line.push(',');
                    }
                    let draw = random.next();
                    let (name, source, dimension, version, metric, normalization, modalities) =
                        MODELS[usize::try_from(draw % 8).unwrap_or(0)];
                    let device = DEVICES[usize::try_from((draw >> 8) % 3).unwrap_or(0)];
                    // One in four is a copy on disk: registered as
                    // `local_path`, with the hash of its path.
                    let (source, path_hash) = if (draw >> 16).is_multiple_of(4) {
                        (
                            "local_path",
                            format!("\"{:016x}{:016x}\"", random.next(), random.next()),
                        )
                    } else {
                        (source, "null".to_owned())
                    };
                    let inference = !(draw >> 24).is_multiple_of(20);
                    let _ = write!(
                        line,
                        concat!(
                            r#"{{"uuid":"{}-{:04x}-7{:03x}-8{:03x}-{:012x}","#,
                            r#""event_type":"model_registration","model_name":"{}","#,
                            r#""model_source":"{}","model_version":{},"embedding_dimension":{},"#,
                            r#""modalities":{},"distance_metric":{},"normalization":{},"#,
                            r#""load_success":true,"inference_success":{},"device_type":"{}","#,
                            r#""local_path_hash":{},"timestamp":"{}","client_id":"{}"}}"#
                        ),
                        PLACEHOLDER,
                        millis & 0xffff,
                        body,
                        event,
                        millis,
                        name,
                        source,
                        string(version),
                        dimension,
                        modalities,
                        string(metric),
                        string(normalization),
                        inference,
                        device,
                        path_hash,
                        timestamp,
                        client_id,
                    );
                }
                line.push(']');
                line
            })
            .collect();
        Self { lines }
    }

    /// The body of request `n` of wrk thread `thread` in run `run`, as the
    /// Lua script builds it.
    fn request(&self, run: u32, thread: u32, n: u64) -> String {
        let count = u64::from(BODIES);
        let line = &self.lines[usize::try_from(n % count).unwrap_or(0)];
        line.replace(PLACEHOLDER, &uuid_suffix(run, thread, n / count))
    }
}

/// The first group of a uuid: the Lua script's
/// `string.format("%02x%02x%04x", run, id, pass % 65536)`.
fn uuid_suffix(run: u32, thread: u32, pass: u64) -> String {
    format!("{run:02x}{thread:02x}{:04x}", pass % 65536)
}

/// A small deterministic generator, so that every run posts the same kinds
/// of events.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uuid_v4(&mut self) -> String {
        let (high, low) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xfff,
            0x8000 | (low >> 48) & 0x3fff,
            low & 0xffff_ffff_ffff
        )
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch.
fn rfc3339(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// What is measured.
enum System<'a> {
    /// `telemetry-collector serve`, on SQLite in its data directory, or on
    /// a fresh database of the PostgreSQL server at this URL.
    Collector {
        binary: &'a Path,
        postgres: Option<&'a str>,
    },
    /// `fastapi_app.py` on uvicorn, one worker.
    Reference,
}

impl System<'_> {
    fn slug(&self) -> &'static str {
        match self {
            Self::Collector { postgres: None, .. } => "collector-sqlite",
            Self::Collector { .. } => "collector-postgres",
            Self::Reference => "reference",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    CollectorSqlite,
    CollectorPostgres,
    Reference,
}

/// What a run of the bench shares.
struct Bench<'a> {
    work: &'a Path,
    bodies: &'a Bodies,
    bodies_file: &'a Path,
    venv: &'a Path,
}

impl Bench<'_> {
    fn measure(&self, system: &System<'_>, load: u32) -> anyhow::Result<Row> {
        let dir = self.work.join(format!("{}-c{load}", system.slug()));
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        eprintln!("bench collector: {} at {load} connections", system.slug());
        let (mut server, kind, postgres) = match system {
            System::Collector {
                binary,
                postgres: None,
            } => (
                Server::collector(binary, &dir, None)?,
                Kind::CollectorSqlite,
                None,
            ),
            System::Collector {
                binary,
                postgres: Some(admin),
            } => {
                let url = fresh_database(admin)?;
                (
                    Server::collector(binary, &dir, Some(&url))?,
                    Kind::CollectorPostgres,
                    Some(url),
                )
            }
            System::Reference => (Server::reference(self.venv, &dir)?, Kind::Reference, None),
        };
        let warmup = self.wrk(server.addr, load, WARMUP, 0)?;
        let mut resent = self.resend_in_flight(server.addr, load, 0, &warmup)?;
        let measured = self.wrk(server.addr, load, MEASURED, 1)?;
        resent += self.resend_in_flight(server.addr, load, 1, &measured)?;
        let rss_kib = server.peak_rss_kib()?;
        let status = server.stop()?;
        let stopped_well = status.success()
            || (kind == Kind::Reference
                && std::os::unix::process::ExitStatusExt::signal(&status) == Some(15));
        ensure!(
            stopped_well,
            "{} did not stop cleanly on SIGTERM ({status}); its log: {}",
            system.slug(),
            server.log.display()
        );
        let stored = match (&postgres, kind) {
            (Some(url), _) => postgres_count(url)?,
            (None, Kind::Reference) => sqlite_count(self.venv, &dir.join("reference.db"))?,
            (None, _) => sqlite_count(self.venv, &dir.join("data/collector.db"))?,
        };
        if let System::Collector {
            postgres: Some(admin),
            ..
        } = system
        {
            psql(admin, &format!("DROP DATABASE IF EXISTS {PG_DATABASE}"))?;
        }
        Ok(Row {
            kind,
            load,
            sent_events: (warmup.get("sent")? + measured.get("sent")?) * f64::from(EVENTS_PER_BODY),
            problems: warmup.problems()? + measured.problems()?,
            wrk: measured,
            resent,
            stored,
            rss_kib,
        })
    }

    fn wrk(&self, addr: SocketAddr, load: u32, duration: &str, run: u32) -> anyhow::Result<Wrk> {
        let url = format!("http://{addr}{ENDPOINT}");
        let bodies = self.bodies_file.to_str().context("not UTF-8")?;
        let output = captured(
            &format!("wrk, {load} connections, {duration}"),
            "wrk",
            &[
                &format!("-t{WRK_THREADS}"),
                &format!("-c{load}"),
                &format!("-d{duration}"),
                "--timeout",
                WRK_TIMEOUT,
                "-s",
                WRK_SCRIPT,
                &url,
                "--",
                bodies,
                &run.to_string(),
            ],
        )?;
        Wrk::parse(&output)
    }

    /// Sends again the requests that may have been in flight when wrk
    /// stopped (the last ones of each thread, one per connection), and the
    /// first of each thread: wrk builds one request on its first thread to
    /// check the script, and never sends it.
    fn resend_in_flight(
        &self,
        addr: SocketAddr,
        load: u32,
        run: u32,
        wrk: &Wrk,
    ) -> anyhow::Result<u32> {
        let per_thread = u64::from(load / WRK_THREADS);
        let mut resent = 0;
        for &(thread, sent) in &wrk.threads {
            let tail = sent.saturating_sub(per_thread).max(1)..sent;
            for n in std::iter::once(0).filter(|_| sent > 0).chain(tail) {
                let (status, answer) = post(addr, &self.bodies.request(run, thread, n))?;
                let accepted = json_number(&answer, "accepted");
                ensure!(
                    status == 200 && accepted == Some(f64::from(EVENTS_PER_BODY)),
                    "sending request {n} of wrk thread {thread} again: {status} {answer}"
                );
                resent += 1;
            }
        }
        Ok(resent)
    }
}

/// A server under test, killed if it is still running when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn collector(binary: &Path, dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        let log = dir.join("server.log");
        let data = dir.join("data");
        fs::create_dir_all(&data)?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data);
        // The contract's defaults (no ingest key: loopback peers only), not
        // whatever this shell configures.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TELEMETRY_COLLECTOR_") {
                command.env_remove(name);
            }
        }
        // One client on loopback is one rate-limit bucket (100 requests a
        // second by default); the load generator is many clients, and the
        // reference limits nothing. The limiter's check still runs.
        command
            .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "10000000")
            .env("TELEMETRY_COLLECTOR_RATE_LIMIT_BURST", "10000000");
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("could not start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = sender.send(lines.next());
            for _ in lines {}
        });
        let Ok(Some(Ok(line))) = receiver.recv_timeout(Duration::from_secs(60)) else {
            bail!(
                "telemetry-collector printed no `listening on` line; its log: {}",
                server.log.display()
            );
        };
        server.addr = listening_addr(&line)?;
        Ok(server)
    }

    fn reference(venv: &Path, dir: &Path) -> anyhow::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join("server.log");
        let child = Command::new(venv.join("bin/uvicorn"))
            .args([
                "fastapi_app:app",
                "--app-dir",
                APP_DIR,
                "--host",
                "127.0.0.1",
            ])
            .args(["--port", &port.to_string(), "--workers", "1"])
            .args(["--log-level", "warning", "--no-access-log"])
            .env("BENCH_SQLITE_PATH", dir.join("reference.db"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log)?)
            .spawn()
            .context("could not start uvicorn")?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_err() {
            if server.child.try_wait()?.is_some() || Instant::now() > deadline {
                bail!("uvicorn did not start; its log: {}", server.log.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// `VmHWM`: the most memory the process has held resident.
    fn peak_rss_kib(&self) -> anyhow::Result<f64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .context("no VmHWM in /proc/PID/status")?;
        let kib = line.trim().trim_end_matches("kB").trim();
        Ok(kib.parse()?)
    }

    /// SIGTERM, then up to 30 s for the process to exit.
    fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .status()?;
        ensure!(sent.success(), "could not send SIGTERM to {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("process {pid} still runs 30 s after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The address in `listening on http://127.0.0.1:PORT`.
fn listening_addr(line: &str) -> anyhow::Result<SocketAddr> {
    line.trim()
        .strip_prefix("listening on http://")
        .and_then(|addr| addr.trim_end_matches('/').parse().ok())
        .with_context(|| format!("expected `listening on http://ADDR`, got `{line}`"))
}

/// One POST of `body` to the endpoint, on a connection of its own: the
/// status and the answer's body.
fn post(addr: SocketAddr, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {ENDPOINT} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP response: {response:.200}"))?;
    let answer = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, answer)| answer);
    Ok((status, answer.to_owned()))
}

/// The number after `"key":` in a JSON text.
fn json_number(json: &str, key: &str) -> Option<f64> {
    let quoted = format!("\"{key}\"");
    let after = &json[json.find(&quoted)? + quoted.len()..];
    let value = after.trim_start().strip_prefix(':')?.trim_start();
    let end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    value[..end].parse().ok()
}

fn sqlite_count(venv: &Path, database: &Path) -> anyhow::Result<f64> {
    let output = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(\
             'SELECT count(*) FROM model_registrations').fetchone()[0])",
        ])
        .arg(database)
        .stderr(Stdio::inherit())
        .output()?;
    ensure!(
        output.status.success(),
        "could not count the rows of {}",
        database.display()
    );
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
            sql,
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("could not run psql (Debian's postgresql-client)")?;
    ensure!(output.status.success(), "psql `{sql}` failed");
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

fn postgres_version(admin: &str) -> anyhow::Result<String> {
    let version = psql(admin, "SHOW server_version")?;
    Ok(version
        .split_whitespace()
        .next()
        .unwrap_or(&version)
        .to_owned())
}

fn postgres_count(url: &str) -> anyhow::Result<f64> {
    Ok(psql(url, "SELECT count(*) FROM model_registrations")?.parse()?)
}

/// Creates `PG_DATABASE` anew on the server of `admin` and returns its URL.
fn fresh_database(admin: &str) -> anyhow::Result<String> {
    psql(admin, &format!("DROP DATABASE IF EXISTS {PG_DATABASE}"))?;
    psql(admin, &format!("CREATE DATABASE {PG_DATABASE}"))?;
    with_database(admin, PG_DATABASE)
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let scheme_end = url.find("://").context("not a URL")? + 3;
    let (base, query) = match url.find('?') {
        Some(at) => (&url[..at], &url[at..]),
        None => (url, ""),
    };
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |at| scheme_end + at);
    Ok(format!("{}/{database}{query}", &base[..host_end]))
}

/// The numbers of one wrk run: the `collector_wrk` line, and each thread's
/// `collector_wrk_thread` line.
struct Wrk {
    values: HashMap<String, f64>,
    threads: Vec<(u32, u64)>,
}

impl Wrk {
    fn parse(output: &str) -> anyhow::Result<Self> {
        let mut values = None;
        let mut threads = Vec::new();
        for line in output.lines() {
            let mut words = line.split_whitespace();
            let first = words.next();
            let pairs: HashMap<&str, &str> =
                words.filter_map(|word| word.split_once('=')).collect();
            match first {
                Some("collector_wrk") => {
                    values = Some(
                        pairs
                            .iter()
                            .map(|(key, value)| {
                                let number = value
                                    .parse()
                                    .with_context(|| format!("`{key}={value}` is not a number"))?;
                                Ok(((*key).to_owned(), number))
                            })
                            .collect::<anyhow::Result<_>>()?,
                    );
                }
                Some("collector_wrk_thread") => {
                    let id = pairs.get("id").context("thread line without id")?.parse()?;
                    let sent = pairs
                        .get("sent")
                        .context("thread line without sent")?
                        .parse()?;
                    threads.push((id, sent));
                }
                _ => {}
            }
        }
        let values = values.context("no `collector_wrk` line in wrk's output")?;
        ensure!(
            !threads.is_empty(),
            "no `collector_wrk_thread` line in wrk's output"
        );
        Ok(Self { values, threads })
    }

    fn get(&self, key: &str) -> anyhow::Result<f64> {
        self.values
            .get(key)
            .copied()
            .with_context(|| format!("no `{key}` in the `collector_wrk` line"))
    }

    /// Rejected events, answers other than 200 and socket errors.
    fn problems(&self) -> anyhow::Result<f64> {
        let keys = [
            "rejected",
            "non_200",
            "connect_errors",
            "read_errors",
            "write_errors",
            "timeouts",
        ];
        keys.iter().map(|key| self.get(key)).sum()
    }
}

struct Row {
    kind: Kind,
    load: u32,
    /// The measured run.
    wrk: Wrk,
    /// Events sent by the warm-up and the measured run.
    sent_events: f64,
    /// Rejected events, non-200 answers and socket errors of both runs.
    problems: f64,
    resent: u32,
    stored: f64,
    rss_kib: f64,
}

impl Row {
    fn verified(&self) -> bool {
        self.stored == self.sent_events && self.problems == 0.0
    }

    fn events_per_s(&self) -> f64 {
        self.wrk.get("events_per_s").unwrap_or(0.0)
    }
}

enum Postgres {
    Ran(String),
    NotRun(String),
}

fn grouped(value: f64) -> String {
    let digits = format!("{value:.0}");
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn milliseconds(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn table(
    rows: &[Row],
    postgres: &Postgres,
    versions: &HashMap<String, String>,
    reference_only: bool,
) -> String {
    let version = |name: &str| versions.get(name).map_or("?", String::as_str);
    let reference = format!(
        "reference: FastAPI {} on uvicorn {} (one worker), Pydantic {}; SQLite, one transaction per request",
        version("fastapi"),
        version("uvicorn"),
        version("pydantic")
    );
    let mut out = format!(
        "Targets for `telemetry-collector` on SQLite (WAL, `synchronous=FULL`), at each load: \
         ≥ {} events/s, p99 ≤ {TARGET_P99_MS:.0} ms per 100-event request, peak RSS ≤ \
         {TARGET_RSS_MIB:.0} MiB, ≥ {TARGET_RATIO:.0}× the reference's events/s at the same \
         load. In every row the rows stored must equal the events sent, each acknowledged.\n\n\
         | system | wrk load | events/s | ÷ reference | p50 | p99 | peak RSS | rows stored | targets met |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        grouped(TARGET_EVENTS_PER_S)
    );
    for row in rows {
        let system = match (row.kind, postgres) {
            (Kind::CollectorSqlite, _) => "`telemetry-collector`, SQLite".to_owned(),
            (Kind::CollectorPostgres, Postgres::Ran(version)) => {
                format!("`telemetry-collector`, PostgreSQL {version}")
            }
            (Kind::CollectorPostgres, Postgres::NotRun(_)) => {
                "`telemetry-collector`, PostgreSQL".to_owned()
            }
            (Kind::Reference, _) => reference.clone(),
        };
        let rate = row.events_per_s();
        let baseline = rows
            .iter()
            .find(|other| other.kind == Kind::Reference && other.load == row.load)
            .map(Row::events_per_s);
        let ratio = match (row.kind, baseline) {
            (Kind::Reference, _) | (_, None) => None,
            (_, Some(baseline)) => Some(rate / baseline),
        };
        let p50 = row.wrk.get("p50_ms").unwrap_or(f64::NAN);
        let p99 = row.wrk.get("p99_ms").unwrap_or(f64::NAN);
        let rss_mib = row.rss_kib / 1024.0;
        let stored = if row.verified() {
            format!(
                "{} = sent, all acknowledged ({} requests sent again after wrk stopped)",
                grouped(row.stored),
                row.resent
            )
        } else {
            format!(
                "**{} stored, {} sent; {:.0} rejected, non-200 or socket errors**",
                grouped(row.stored),
                grouped(row.sent_events),
                row.problems
            )
        };
        let met = match row.kind {
            Kind::Reference => "— (reference)".to_owned(),
            Kind::CollectorPostgres => "— (the targets are SQLite's)".to_owned(),
            Kind::CollectorSqlite => {
                let mut missed = Vec::new();
                if rate < TARGET_EVENTS_PER_S {
                    missed.push("events/s");
                }
                if p99.is_nan() || p99 > TARGET_P99_MS {
                    missed.push("p99");
                }
                if rss_mib > TARGET_RSS_MIB {
                    missed.push("RSS");
                }
                if ratio.is_none_or(|ratio| ratio < TARGET_RATIO) {
                    missed.push("÷ reference");
                }
                if !row.verified() {
                    missed.push("rows stored");
                }
                if missed.is_empty() {
                    verdict(true).to_owned()
                } else {
                    format!("{}: {}", verdict(false), missed.join(", "))
                }
            }
        };
        let _ = writeln!(
            out,
            "| {system} | {WRK_THREADS} threads, {} connections, {MEASURED} | {} | {} | {} | {} | {rss_mib:.1} MiB | {stored} | {met} |",
            row.load,
            grouped(rate),
            ratio.map_or("—".to_owned(), |ratio| format!("{ratio:.1}×")),
            milliseconds(p50),
            milliseconds(p99),
        );
    }
    if reference_only {
        out.push_str("\nThe collector's rows were not run (`--reference-only`).\n");
    } else if let Postgres::NotRun(why) = postgres {
        let _ = writeln!(out, "\nPostgreSQL: not run, {why}.");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_lines_parse() {
        let output = "\
Running 10s test @ http://127.0.0.1:1/api/v1/telemetry
collector_wrk_thread id=0 sent=94
collector_wrk_thread id=1 sent=117
collector_wrk requests=202 responses=202 sent=211 accepted=20200 rejected=0 non_200=0 connect_errors=0 read_errors=0 write_errors=0 timeouts=0 seconds=5.041 requests_per_s=40.1 events_per_s=4007.0 p50_ms=92.533 p90_ms=894.737 p99_ms=1815.134 max_ms=2016.781
";
        let wrk = Wrk::parse(output).unwrap();
        assert_eq!(wrk.threads, [(0, 94), (1, 117)]);
        assert_eq!(wrk.get("accepted").unwrap(), 20_200.0);
        assert_eq!(wrk.get("p99_ms").unwrap(), 1815.134);
        assert_eq!(wrk.problems().unwrap(), 0.0);
        assert!(Wrk::parse("collector_wrk_thread id=0 sent=1").is_err());
        assert!(Wrk::parse("collector_wrk sent=x\ncollector_wrk_thread id=0 sent=1").is_err());
    }

    #[test]
    fn requests_are_rebuilt_as_the_lua_script_builds_them() {
        let bodies = Bodies::generate(Duration::from_secs(1_764_622_800));
        assert_eq!(bodies.lines.len(), 400);
        let first = &bodies.lines[0];
        assert_eq!(first.matches(PLACEHOLDER).count(), 100);
        assert_eq!(first.matches("\"uuid\":").count(), 100);
        assert!(first.contains("\"timestamp\":\"2025-12-01T21:00:00Z\""));
        // Request 401 of thread 1 in run 1: the second body, second pass.
        let request = bodies.request(1, 1, 401);
        assert_eq!(request, bodies.lines[1].replace(PLACEHOLDER, "01010001"));
        assert!(!request.contains(PLACEHOLDER));
        // Every uuid is a UUID v7 of 36 characters.
        let uuid = request.split("\"uuid\":\"").nth(1).unwrap();
        let uuid = &uuid[..uuid.find('"').unwrap()];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "7");
        assert_eq!(&uuid[19..20], "8");
        assert!(uuid.starts_with("01010001-"));
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_769_171_696), "2026-01-23T12:34:56Z");
    }

    #[test]
    fn small_parsers() {
        assert_eq!(
            listening_addr("listening on http://127.0.0.1:41234\n").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 41234))
        );
        assert!(listening_addr("started").is_err());
        assert_eq!(
            json_number(r#"{"accepted": 100,"rejected":0}"#, "accepted"),
            Some(100.0)
        );
        assert_eq!(json_number(r#"{"rejected":0}"#, "accepted"), None);
        assert_eq!(
            with_database("postgres://u@127.0.0.1:55432/telemetry_test", "other").unwrap(),
            "postgres://u@127.0.0.1:55432/other"
        );
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x").unwrap(),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
        assert_eq!(grouped(1_234_567.4), "1,234,567");
        assert_eq!(grouped(999.0), "999");
    }
}
