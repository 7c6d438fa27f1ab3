//! The trace client against the real collector: the three example sessions
//! submitted with `telemetry trace submit` and verified offline with
//! `telemetry trace verify`; and a client process killed with `kill -9` at
//! random moments, restarted on its spool, storing what a clean run
//! stores.
//!
//! The `telemetry` binary (package `telemetry-cli`) and the client example
//! `trace_session` (package `telemetry-collector-client`) belong to other
//! packages, so Cargo does not build them for this test: it builds them
//! here, in the same target directory, before using them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::traces::{comparable, send};
use common::{Launch, Server};
use serde_json::Value;

/// `target/debug` (or the profile directory this test runs from).
fn profile_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_telemetry-collector"))
        .parent()
        .expect("a binary sits in its profile directory")
        .to_path_buf()
}

/// Builds the two helper binaries once per test run; returns `telemetry`
/// and `trace_session`.
fn helpers() -> &'static (PathBuf, PathBuf) {
    static HELPERS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let profile = profile_dir();
        let target = profile.parent().expect("a target directory");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "-p",
                "telemetry-cli",
                "--bin",
                "telemetry",
                "-p",
                "telemetry-collector-client",
                "--example",
                "trace_session",
                "--target-dir",
            ])
            .arg(target);
        if profile.file_name().is_some_and(|name| name == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the helper binaries failed");
        (
            profile.join(format!("telemetry{}", std::env::consts::EXE_SUFFIX)),
            profile
                .join("examples")
                .join(format!("trace_session{}", std::env::consts::EXE_SUFFIX)),
        )
    })
}

fn telemetry(args: &[&str]) -> Output {
    Command::new(&helpers().0)
        .args(args)
        .env_remove("TELEMETRY_TELEMETRY_CONFIG")
        .output()
        .expect("telemetry runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces")
}

fn text_of(url: &str) -> String {
    let reply = send("GET", url, &[], None);
    assert_eq!(reply.status, 200, "{url}: {}", reply.text);
    reply.text
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_three_examples_are_submitted_and_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("collector"), &Launch::default());
    let mut submitted = Vec::new();
    for (name, events) in [("simple", 10), ("complex", 24), ("failed", 16)] {
        let example = examples().join(name);
        let output = telemetry(&[
            "trace",
            "submit",
            example.to_str().unwrap(),
            "--collector",
            &server.url,
        ]);
        let text = stdout(&output);
        assert!(output.status.success(), "{name}: {text}{}", stderr(&output));
        let trace_id = text
            .lines()
            .find_map(|line| line.strip_prefix("trace: "))
            .unwrap_or_else(|| panic!("{name}: no trace id in {text}"))
            .to_owned();
        assert!(
            text.contains(&format!("completed: {events} events")),
            "{name}: {text}"
        );
        submitted.push((name, trace_id));
    }

    // Downloaded after the last append, so every proof is against the
    // checkpoint's tree.
    let checkpoint = dir.path().join("checkpoint.txt");
    let key = dir.path().join("log.pub");
    std::fs::write(
        &checkpoint,
        text_of(&format!("{}/v1/log/checkpoint", server.url)),
    )
    .unwrap();
    std::fs::write(&key, text_of(&format!("{}/v1/log/key", server.url))).unwrap();
    for (name, trace_id) in &submitted {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(
            &path,
            text_of(&format!("{}/v1/traces/{trace_id}", server.url)),
        )
        .unwrap();
        let output = telemetry(&[
            "trace",
            "verify",
            path.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        let text = stdout(&output);
        assert!(text.contains("verified"), "{text}");
        assert!(
            text.contains("tree size 3") || text.contains("of size 3"),
            "{text}"
        );

        // `show` reads the same trace from the collector.
        let shown = telemetry(&["trace", "show", trace_id, "--collector", &server.url]);
        assert!(shown.status.success(), "{}", stderr(&shown));
        assert!(stdout(&shown).contains("Timeline"));

        // One changed character in one event: not verified, exit 1, the
        // seq named.
        let mut trace: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let event = trace["events"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|event| event["type"] == "rationale_note")
            .unwrap();
        let seq = event["seq"].as_u64().unwrap();
        let text = event["text"].as_str().unwrap().replacen('e', "a", 1);
        event["text"] = Value::String(text);
        let tampered = dir.path().join(format!("{name}-tampered.json"));
        std::fs::write(&tampered, serde_json::to_vec(&trace).unwrap()).unwrap();
        let output = telemetry(&[
            "trace",
            "verify",
            tampered.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", stdout(&output));
        let reason = stderr(&output);
        assert!(reason.contains("not verified"), "{reason}");
        assert!(
            reason.contains(&seq.to_string()),
            "{name}: seq {seq}: {reason}"
        );
    }
}

/// Runs the client to the end on `spool`; returns the trace id.
fn run_to_completion(url: &str, spool: &Path) -> String {
    let output = Command::new(&helpers().1)
        .arg(url)
        .arg(spool)
        .output()
        .expect("trace_session runs");
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("completed "))
        .unwrap_or_else(|| panic!("no completion in {text}"));
    let (trace_id, events) = line.split_once(' ').unwrap();
    assert_eq!(events, "40");
    trace_id.to_owned()
}

/// A number in `0..bound` that differs from run to run (printed, so that
/// a failure can be read).
fn random_below(bound: u64, salt: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (u64::from(nanos) ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % bound
}

#[test]
fn a_client_killed_at_random_moments_stores_what_a_clean_run_stores() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("collector"), &Launch::default());

    let clean = run_to_completion(&server.url, &dir.path().join("clean"));
    let expected = comparable(
        &serde_json::from_str(&text_of(&format!("{}/v1/traces/{clean}", server.url))).unwrap(),
    );
    assert_eq!(expected["events"].as_array().unwrap().len(), 40);

    let spool = dir.path().join("crashed");
    let mut kills = Vec::new();
    for round in 0..3 {
        // The session takes about 40 × 15 ms; kill somewhere in it.
        let after = Duration::from_millis(20 + random_below(700, round));
        let mut child = Command::new(&helpers().1)
            .arg(&server.url)
            .arg(&spool)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trace_session starts");
        let started = Instant::now();
        while started.elapsed() < after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().expect("kill -9");
        child.wait().unwrap();
        kills.push(after);
    }
    let resumed = run_to_completion(&server.url, &spool);
    let stored = comparable(
        &serde_json::from_str(&text_of(&format!("{}/v1/traces/{resumed}", server.url))).unwrap(),
    );
    assert_eq!(
        stored, expected,
        "killed after {kills:?}: the stored trace differs from a clean run's"
    );
}
