//! Helpers for the collector's tests: the real binary as a child process,
//! HTTP on loopback, and the PostgreSQL that `.ci/run` provides.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test file uses its own part"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub mod traces;

/// The variable `.ci/run` sets to a PostgreSQL the tests may create
/// databases in.
pub const DATABASE_URL_ENV: &str = "TELEMETRY_TEST_DATABASE_URL";

/// The PostgreSQL URL for tests: fails when `CI` is set and there is none,
/// skips (returns `None`, saying so) otherwise.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(DATABASE_URL_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: CI is set but {DATABASE_URL_ENV} is not: .ci/run starts PostgreSQL and sets it"
            );
            eprintln!(
                "SKIPPED {test}: no PostgreSQL ({DATABASE_URL_ENV} is not set; `source .ci/postgres.sh` starts one)"
            );
            None
        }
    }
}

/// A fresh, empty database on the server at `url`; returns its URL.
pub async fn fresh_database(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test PostgreSQL answers");
    tokio::spawn(connection);
    let name = format!("collector_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("the test user may create databases");
    let (base, _) = url.rsplit_once('/').expect("a URL with a database name");
    format!("{base}/{name}")
}

/// A running `telemetry-collector serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// How to start one.
#[derive(Default, Clone)]
pub struct Launch {
    pub database_url: Option<String>,
    pub env: Vec<(String, String)>,
    pub config: Option<PathBuf>,
}

impl Launch {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn database(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }
}

impl Server {
    pub fn start(data_dir: &Path, launch: &Launch) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_telemetry-collector"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("TELEMETRY_COLLECTOR_CONFIG")
            .env("TELEMETRY_COLLECTOR_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(url) = &launch.database_url {
            command.args(["--database-url", url]);
        }
        if let Some(config) = &launch.config {
            command.arg("--config").arg(config);
        }
        for (name, value) in &launch.env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the collector starts");
        let stdout = child.stdout.take().expect("piped");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("the collector prints its address");
        let stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        let Some(url) = first
            .trim()
            .strip_prefix("listening on ")
            .map(str::to_owned)
        else {
            let _ = child.wait();
            panic!(
                "the collector did not start:\n{}",
                stderr.join().unwrap_or_default()
            );
        };
        Self {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            stderr: Some(stderr),
        }
    }

    /// Sends SIGTERM and waits; returns the exit status and the logs.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        signal(&self.child, "TERM");
        let status = wait(&mut self.child, Duration::from_secs(20));
        let logs = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        (status, logs)
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        post_bytes(
            &format!("{}{path}", self.url),
            &[],
            body.to_string().into_bytes(),
        )
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = agent().get(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.call().expect("the collector answers"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

pub fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            started.elapsed() < limit,
            "the collector did not stop within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

/// An answer: status, `Retry-After`, and the body as JSON (`Null` if not).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
    pub text: String,
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

pub fn post_bytes(url: &str, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Answer {
    let mut request = agent().post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send(body.as_ref()).expect("the collector answers"))
}

/// Reference 004's example event, with a uuid and a client id.
pub fn registration(model: &str, client: &str) -> Value {
    json!({
        "uuid": uuid::Uuid::now_v7().to_string(),
        "event_type": "model_registration",
        "model_name": model,
        "model_source": "sentence-transformers",
        "model_version": "2.1.0",
        "embedding_dimension": 768,
        "modalities": ["text"],
        "distance_metric": "cosine",
        "normalization": "l2",
        "load_success": true,
        "inference_success": true,
        "device_type": "cpu",
        "local_path_hash": null,
        "timestamp": "2026-01-23T12:34:56Z",
        "client_id": client,
    })
}

/// Rows in the SQLite database under `data_dir`: registrations, events.
pub fn sqlite_counts(data_dir: &Path) -> (u64, u64) {
    let connection = rusqlite::Connection::open_with_flags(
        data_dir.join(telemetry_collector::storage::SQLITE_FILE),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the database opens");
    let count = |table: &str| {
        connection
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .expect("count")
    };
    (count("model_registrations"), count("events"))
}

/// Whether a running process's command line contains `text` (processes in
/// the QA sandbox's namespaces included).
pub fn ps_shows(text: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(text))
}
