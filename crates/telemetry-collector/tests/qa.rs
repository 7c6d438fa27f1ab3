//! The QA pipeline end to end, on the real binary: a completed trace's
//! tests run again in the sandbox by a `serve` worker and the session
//! judged; a `worker` process on the same database taking the jobs; a
//! worker killed mid-job and its job claimed again after the lease; a
//! runner that cannot run retried, then failed with its reason; and
//! complete bodies refused field by field.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::traces::send;
use common::{Launch, Server, ps_shows};
use serde_json::{Value, json};
use telemetry_collector::demo;
use telemetry_collector_client::CollectorConfig;
use telemetry_collector_client::trace::TraceClient;

fn client(server: &Server) -> TraceClient {
    TraceClient::new(&CollectorConfig::for_url(&server.url)).unwrap()
}

fn trace(server: &Server, trace_id: &str) -> Value {
    let reply = send(
        "GET",
        &format!("{}/v1/traces/{trace_id}", server.url),
        &[],
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    serde_json::from_str(&reply.text).unwrap()
}

/// Waits for the trace's QA job to end (done or failed); returns the trace.
fn wait_for_qa(server: &Server, trace_id: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let trace = trace(server, trace_id);
        let state = trace["qa"]["job"]["state"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if state == "done" || state == "failed" {
            return trace;
        }
        assert!(
            started.elapsed() < limit,
            "the QA job is still {state} after {limit:?}: {}",
            trace["qa"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn quick(launch: Launch) -> Launch {
    launch
        .env("TELEMETRY_COLLECTOR_QA__POLL_INTERVAL_MS", "50")
        .env("TELEMETRY_COLLECTOR_QA__BACKOFF_SECONDS", "1")
}

#[test]
fn a_serve_worker_validates_the_fix_in_the_sandbox_and_judges_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &quick(Launch::default()));
    let client = client(&server);
    let complex = demo::submit(&client, "complex").unwrap();
    let failed = demo::submit(&client, "failed").unwrap();

    let trace = wait_for_qa(&server, &complex, Duration::from_secs(60));
    let qa = &trace["qa"];
    assert_eq!(qa["job"]["state"], "done", "{qa}");
    assert_eq!(qa["job"]["attempts"], 1);
    let validation = &qa["validation"];
    assert_eq!(validation["tests_passed"], true, "{validation}");
    assert_eq!(validation["verdict"], "verified");
    assert_eq!(validation["framework"], "pytest");
    assert!(
        validation["runner"]
            .as_str()
            .unwrap()
            .starts_with("sandbox/"),
        "{validation}"
    );
    assert_eq!(validation["counts"]["passed"], 9, "{validation}");
    assert_eq!(validation["counts"]["failed"], 0);
    assert_eq!(validation["exit_code"], 0);
    // The log is kept as a blob, named by its hash, and is the trace's.
    let log = validation["log"]["sha256"].as_str().unwrap();
    let blob = dir.path().join("blobs/artifacts/sha256").join(log);
    let text = std::fs::read_to_string(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    assert!(text.contains("passed"), "{text}");
    let judge = &qa["judge"];
    assert_eq!(judge["judge"], "heuristic");
    assert_eq!(judge["scores"].as_object().unwrap().len(), 6, "{judge}");
    assert_eq!(judge["reasons"].as_object().unwrap().len(), 6, "{judge}");
    assert!(judge["overall"].as_f64().unwrap() > 0.0);

    let trace = wait_for_qa(&server, &failed, Duration::from_secs(60));
    let validation = &trace["qa"]["validation"];
    assert_eq!(validation["tests_passed"], false, "{validation}");
    assert_eq!(validation["verdict"], "not_verified");
    assert_eq!(validation["counts"]["passed"], 4, "{validation}");
    assert_eq!(validation["counts"]["failed"], 1);
    assert!(
        validation["reason"].as_str().unwrap().contains("1 failed"),
        "{validation}"
    );
}

#[test]
fn a_completion_without_a_workspace_is_judged_and_its_validation_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &quick(Launch::default()));
    let client = client(&server);
    let (trace_id, token) = demo::upload(&client, "simple").unwrap();
    client.complete(&trace_id, &token).unwrap();
    let trace = wait_for_qa(&server, &trace_id, Duration::from_secs(60));
    assert_eq!(
        trace["qa"]["validation"]["verdict"], "skipped",
        "{}",
        trace["qa"]
    );
    assert!(trace["qa"]["judge"]["overall"].is_f64(), "{}", trace["qa"]);
}

/// `telemetry-collector worker` on `data_dir`, with `env`.
fn worker(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_telemetry-collector"));
    command
        .args(["worker", "--workers", "1", "--data-dir"])
        .arg(data_dir)
        .env_remove("TELEMETRY_COLLECTOR_CONFIG")
        .env("TELEMETRY_COLLECTOR_QA__POLL_INTERVAL_MS", "50")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("the worker starts")
}

/// A workspace whose one test runs `sleep SECONDS` (a process with that
/// argument, for `ps_shows`), then passes.
fn slow_workspace(seconds: &str) -> Vec<u8> {
    let runner = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces/run_tests.py"),
    )
    .unwrap();
    let test = format!(
        "import subprocess\n\ndef test_slow():\n    subprocess.run(['sleep', '{seconds}'], check=True)\n"
    );
    demo::tar_gz([
        ("run_tests.py".to_owned(), runner.as_slice()),
        ("tests/test_slow.py".to_owned(), test.as_bytes()),
    ])
    .unwrap()
}

const COMMAND: [&str; 3] = ["python3", "run_tests.py", "--junitxml=report.xml"];

#[test]
fn a_job_whose_worker_was_killed_is_claimed_again_after_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    // `serve` runs no worker: the two `worker` processes take the job.
    let server = Server::start(
        dir.path(),
        &Launch::default().env("TELEMETRY_COLLECTOR_QA__WORKERS", "0"),
    );
    let client = client(&server);
    let (trace_id, token) = demo::upload(&client, "simple").unwrap();
    // A sleep no other test runs, to find its process by.
    let marker = "4.0625";
    demo::complete_with_workspace(
        &client,
        &trace_id,
        &token,
        &slow_workspace(marker),
        &COMMAND,
    )
    .unwrap();
    assert_eq!(trace(&server, &trace_id)["qa"]["job"]["state"], "queued");

    let lease = [("TELEMETRY_COLLECTOR_QA__LEASE_SECONDS", "3")];
    let mut first = worker(dir.path(), &lease);
    let started = Instant::now();
    while !ps_shows(marker) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the tests never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(trace(&server, &trace_id)["qa"]["job"]["state"], "running");
    first.kill().unwrap();
    first.wait().unwrap();
    // Its sandbox dies with it (well before the lease lets another worker
    // run the tests again).
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !ps_shows(marker),
        "the killed worker's test run outlived it"
    );
    let mut second = worker(dir.path(), &lease);
    let trace = wait_for_qa(&server, &trace_id, Duration::from_secs(60));
    second.kill().unwrap();
    second.wait().unwrap();
    let qa = &trace["qa"];
    assert_eq!(qa["job"]["state"], "done", "{qa}");
    assert_eq!(qa["job"]["attempts"], 2, "the lost attempt counts: {qa}");
    assert_eq!(qa["validation"]["tests_passed"], true, "{qa}");
}

#[test]
fn a_runner_that_cannot_run_is_retried_then_failed_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let launch = quick(Launch::default())
        .env("TELEMETRY_COLLECTOR_QA__RUNNER", "docker")
        .env(
            "TELEMETRY_COLLECTOR_QA__DOCKER_IMAGE",
            "telemetry-collector-test/absent:never",
        )
        .env("TELEMETRY_COLLECTOR_QA__MAX_ATTEMPTS", "2");
    let server = Server::start(dir.path(), &launch);
    let client = client(&server);
    let trace_id = demo::submit(&client, "simple").unwrap();
    let trace = wait_for_qa(&server, &trace_id, Duration::from_secs(60));
    let job = &trace["qa"]["job"];
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("docker") || reason.contains("Docker"),
        "{reason}"
    );
    assert!(reason.contains("attempt 2 of 2"), "{reason}");
    assert!(trace["qa"]["judge"].is_null(), "no results on a failed job");
}

#[test]
fn a_complete_body_is_refused_by_the_field_that_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &Launch::default().env("TELEMETRY_COLLECTOR_QA__WORKERS", "0"),
    );
    let client = client(&server);
    let (trace_id, token) = demo::upload(&client, "simple").unwrap();
    let absent = "ab".repeat(32);
    let url = format!("{}/v1/traces/{trace_id}/complete", server.url);
    let auth = format!("Bearer {}", token.expose());
    let body = |validation: Value| json!({ "validation": validation }).to_string();
    let good = json!({
        "workspace_sha256": absent,
        "test_command": ["python3", "run_tests.py"],
        "framework": "pytest",
    });
    let cases = [
        (
            {
                let mut v = good.clone();
                v["framework"] = json!("mocha");
                v
            },
            422,
            "validation.framework",
        ),
        (
            {
                let mut v = good.clone();
                v["test_command"] = json!([]);
                v
            },
            422,
            "validation.test_command",
        ),
        (
            {
                let mut v = good.clone();
                v["report_path"] = json!("../etc/passwd");
                v
            },
            422,
            "validation.report_path",
        ),
        (good.clone(), 409, "validation.workspace_sha256"),
    ];
    for (validation, status, field) in cases {
        let reply = send(
            "POST",
            &url,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", &uuid::Uuid::new_v4().to_string()),
            ],
            Some(body(validation).as_bytes()),
        );
        assert_eq!(reply.status, status, "{field}: {}", reply.text);
        assert!(reply.text.contains(field), "{field}: {}", reply.text);
    }
    // Nothing was completed by the refused bodies.
    assert_eq!(trace(&server, &trace_id)["qa"], Value::Null);
}
