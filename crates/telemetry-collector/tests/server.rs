//! The collector as its users run it: the real binary, on loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Launch, Server, post_bytes, registration, sqlite_counts};
use serde_json::{Value, json};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for name in ["collector.db", "collector.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend(bytes);
        }
    }
    all
}

#[test]
fn the_registry_answers_per_event_and_counts_a_retried_batch_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let mut local = registration("/home/ana/models/mpnet", "client-1");
    local["model_source"] = json!("local_path");
    let mut missing = registration("m/x", "client-1");
    missing.as_object_mut().unwrap().remove("device_type");
    let mut mail = registration("m/y", "client-1");
    mail["device_type"] = json!("ana@example.com's laptop");
    let mut nul = registration("m/z", "client-1");
    nul["model_version"] = json!("2.1\u{0}");
    let mut typed = registration("m/w", "client-1");
    typed["embedding_dimension"] = json!("ana@example.com");
    let batch = json!([
        registration("sentence-transformers/all-mpnet-base-v2", "client-1"),
        local,
        missing,
        mail,
        7,
        nul,
        typed
    ]);

    let answer = server.post("/api/v1/telemetry", &batch);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["accepted"], 1);
    assert_eq!(answer.body["rejected"], 6);
    let errors = answer.body["errors"].as_array().unwrap();
    let indices: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [1, 2, 3, 4, 5, 6]);
    let reason = |at: usize| errors[at]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason(0).contains("`model_name` looks like an absolute path"),
        "{}",
        reason(0)
    );
    assert!(reason(0).contains("local_path_hash"), "{}", reason(0));
    assert!(
        reason(1).contains("missing field `device_type`"),
        "{}",
        reason(1)
    );
    assert!(
        reason(2).contains("`device_type` looks like an e-mail address"),
        "{}",
        reason(2)
    );
    assert!(reason(3).contains("not a JSON object"), "{}", reason(3));
    assert!(
        reason(4).contains("`model_version` holds a NUL character"),
        "{}",
        reason(4)
    );
    assert!(reason(5).contains("expected u32"), "{}", reason(5));
    // No reason repeats what was refused.
    assert!(!answer.text.contains("/home/ana") && !answer.text.contains("ana@example.com"));

    // The same batch again, as a client retrying after a lost answer.
    let again = server.post("/api/v1/telemetry", &batch);
    assert_eq!(
        (
            again.body["accepted"].as_u64(),
            again.body["rejected"].as_u64()
        ),
        (Some(1), Some(6))
    );
    assert_eq!(sqlite_counts(dir.path()), (1, 0));
    let stored = database_bytes(dir.path());
    for never in ["/home/ana", "ana@example.com", "client-1"] {
        assert!(
            !stored.windows(never.len()).any(|w| w == never.as_bytes()),
            "{never} reached the database"
        );
    }
}

#[test]
fn operator_event_types_are_checked_against_their_schema() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        "[event_types.search_performed]\nquery_tokens = \"integer\"\nmode = \"string\"\ntags = \"string[]?\"\n",
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &Launch {
            config: Some(config),
            ..Launch::default()
        },
    );
    let event = |extra: Value| {
        let mut event = json!({
            "uuid": uuid::Uuid::now_v7().to_string(),
            "event_type": "search_performed",
            "timestamp": "2026-01-23T12:34:56Z",
            "client_id": "client-1",
            "query_tokens": 12,
            "mode": "semantic",
        });
        for (key, value) in extra.as_object().unwrap() {
            event[key] = value.clone();
        }
        event
    };
    let answer = server.post(
        "/api/v1/telemetry",
        &json!([
            event(json!({"tags": ["a", "b"]})),
            event(json!({"query_tokens": "twelve"})),
            event(json!({"surprise": 1})),
            event(json!({"mode": "see /etc/passwd"})),
            {"event_type": "never_registered", "client_id": "c", "timestamp": "2026-01-23T12:34:56Z"},
        ]),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["accepted"], 1, "{}", answer.text);
    let reasons: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "`query_tokens` is not of its type",
            "unknown field `surprise` for event type `search_performed`",
            "`mode` looks like an absolute path (unix_path)",
            "event type `never_registered` is not registered with this collector",
        ]
    );
    assert_eq!(sqlite_counts(dir.path()), (0, 1));
}

#[test]
fn bodies_over_the_limits_are_refused_with_413_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let url = format!("{}/api/v1/telemetry", server.url);

    // Refused on its declared length, before the body is read.
    let mut huge = TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    write!(
        huge,
        "POST /api/v1/telemetry HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        (5 << 20) + 1
    )
    .unwrap();
    let mut answer = String::new();
    huge.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("5242880 bytes as sent"), "{answer}");

    // 24 MiB of zeros is 24 KiB gzipped: refused once 20 MiB are inflated.
    let bomb = gzip(&vec![b'0'; 24 << 20]);
    assert!(bomb.len() < 1 << 20);
    let answer = post_bytes(&url, &[("content-encoding", "gzip")], bomb);
    assert_eq!(answer.status, 413);
    assert!(
        answer.text.contains("inflates to over 20971520 bytes"),
        "{}",
        answer.text
    );

    let mut big = registration("m/a", "c");
    big["model_version"] = json!("v".repeat(1 << 20));
    let answer = server.post("/api/v1/telemetry", &json!([registration("m/a", "c"), big]));
    assert_eq!(answer.status, 413);
    assert!(answer.text.contains("event 1 is"), "{}", answer.text);
    assert!(
        answer.text.contains("each event at most 1048576 bytes"),
        "{}",
        answer.text
    );

    let answer = post_bytes(&url, &[], br#"{"not": "an array"}"#);
    assert_eq!(answer.status, 400);
    assert!(
        answer.text.contains("not a JSON array of events"),
        "{}",
        answer.text
    );

    // Gzip is taken within the limits, and nothing refused was stored.
    let body = json!([registration("m/a", "c")]).to_string();
    let answer = post_bytes(&url, &[("content-encoding", "gzip")], gzip(body.as_bytes()));
    assert_eq!(answer.body["accepted"], 1, "{}", answer.text);
    assert_eq!(sqlite_counts(dir.path()), (1, 0));
}

#[test]
fn ingest_and_read_keys_are_separate() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::default()
        .env(
            "TELEMETRY_COLLECTOR_INGEST_KEYS",
            "ingest-key-0123456789,second-ingest-key-0123",
        )
        .env("TELEMETRY_COLLECTOR_READ_KEYS", "read-key-0123456789");
    let server = Server::start(dir.path(), &launch);
    let url = format!("{}/api/v1/telemetry", server.url);
    let body = || json!([registration("m/a", "c")]).to_string().into_bytes();

    let none = post_bytes(&url, &[], body());
    assert_eq!(none.status, 401);
    assert!(none.text.contains("Authorization: Bearer"), "{}", none.text);
    let wrong = post_bytes(
        &url,
        &[("authorization", "Bearer read-key-0123456789")],
        body(),
    );
    assert_eq!(wrong.status, 401);
    let right = post_bytes(
        &url,
        &[("authorization", "Bearer second-ingest-key-0123")],
        body(),
    );
    assert_eq!(right.status, 200, "{}", right.text);

    assert_eq!(
        server
            .get(
                "/api/v1/models",
                &[("authorization", "Bearer ingest-key-0123456789")]
            )
            .status,
        401
    );
    let models = server.get(
        "/api/v1/models",
        &[("authorization", "Bearer read-key-0123456789")],
    );
    assert_eq!(models.status, 200);
    assert_eq!(models.body["registrations"], 1);
    // Health needs no key: a load balancer asks it.
    assert_eq!(server.get("/healthz", &[]).status, 200);
}

#[test]
fn a_client_is_rate_limited_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::default()
        .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "1")
        .env("TELEMETRY_COLLECTOR_RATE_LIMIT_BURST", "2");
    let server = Server::start(dir.path(), &launch);
    let url = format!("{}/api/v1/telemetry", server.url);
    let statuses: Vec<(u16, Option<String>)> = (0..4)
        .map(|_| {
            let answer = post_bytes(&url, &[], b"[]");
            (answer.status, answer.retry_after)
        })
        .collect();
    assert_eq!(statuses[0].0, 200);
    assert_eq!(statuses[1].0, 200);
    assert_eq!(statuses[2].0, 429);
    let wait: u64 = statuses[2]
        .1
        .as_deref()
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After: {wait}");
    let metrics = server.get("/metrics", &[]).text;
    assert!(
        metrics.contains("collector_requests_rate_limited_total 2"),
        "{metrics}"
    );
}

#[test]
fn a_forwarded_request_is_not_loopback_unless_its_proxy_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let url = |server: &Server| format!("{}/api/v1/telemetry", server.url);
    // A reverse proxy on this host connects from 127.0.0.1 for clients
    // anywhere: without keys, what it forwards is refused.
    let untrusted = Server::start(dir.path(), &Launch::default());
    let answer = post_bytes(&url(&untrusted), &[("x-forwarded-for", "127.0.0.1")], b"[]");
    assert_eq!(answer.status, 403, "{}", answer.text);
    assert_eq!(post_bytes(&url(&untrusted), &[], b"[]").status, 200);
    drop(untrusted);

    let trusted = Server::start(
        dir.path(),
        &Launch::default().env("TELEMETRY_COLLECTOR_TRUSTED_PROXIES", "127.0.0.1"),
    );
    let from = |hops: &str| post_bytes(&url(&trusted), &[("x-forwarded-for", hops)], b"[]").status;
    assert_eq!(
        from("203.0.113.9, 127.0.0.1"),
        403,
        "a remote client, without a key"
    );
    assert_eq!(from("::1"), 200, "a loopback client, through the proxy");
    let answer = post_bytes(&url(&trusted), &[], b"[]");
    assert_eq!(answer.status, 403);
    assert!(
        answer.text.contains("did not say whom it forwards"),
        "{}",
        answer.text
    );
}

#[test]
fn a_deletion_request_removes_the_client_from_every_view() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let batch = json!([
        registration("m/a", "leaving-client"),
        registration("m/b", "leaving-client"),
        registration("m/a", "staying-client"),
    ]);
    assert_eq!(server.post("/api/v1/telemetry", &batch).body["accepted"], 3);
    let deleted = server.post("/api/v1/deletion", &json!({"client_id": "leaving-client"}));
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.body["deleted"], 2);
    let models = server.get("/api/v1/models", &[]).body;
    assert_eq!(models["registrations"], 1);
    assert_eq!(models["models"][0]["model_name"], "m/a");
    assert_eq!(models["models"][0]["clients"], 1);
    let bad = server.post("/api/v1/deletion", &json!({"client": "x"}));
    assert_eq!(bad.status, 400);
}

#[test]
fn metrics_count_accepted_and_rejected_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let mut local = registration("/home/ana/x", "c");
    local["model_source"] = json!("local_path");
    server.post(
        "/api/v1/telemetry",
        &json!([registration("m/a", "c"), local, {"event_type": "model_registration"}]),
    );
    let metrics = server.get("/metrics", &[]).text;
    for line in [
        "collector_events_accepted_total{endpoint=\"registry\"} 1",
        "collector_events_rejected_total{endpoint=\"registry\",reason=\"pii\"} 1",
        "collector_events_rejected_total{endpoint=\"registry\",reason=\"schema\"} 1",
        "collector_requests_total{endpoint=\"registry\",status=\"200\"} 1",
        "collector_request_duration_seconds_count{endpoint=\"registry\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
}

#[test]
fn requests_past_max_in_flight_are_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &Launch::default().env("TELEMETRY_COLLECTOR_MAX_IN_FLIGHT", "1"),
    );
    let address = server.url.trim_start_matches("http://").to_owned();
    // A request whose body never finishes holds the one slot.
    let mut slow = TcpStream::connect(&address).unwrap();
    write!(
        slow,
        "POST /api/v1/telemetry HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n[",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let answer = server.post("/api/v1/telemetry", &json!([]));
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert!(
        answer.text.contains("1 requests are in flight"),
        "{}",
        answer.text
    );
    drop(slow);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.post("/api/v1/telemetry", &json!([])).status, 200);
}

#[test]
fn sigterm_finishes_in_flight_requests_and_closes_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = json!([registration("m/a", "c")]).to_string();
    // A request in flight when the signal comes: its body arrives after.
    let mut in_flight = TcpStream::connect(&address).unwrap();
    write!(
        in_flight,
        "POST /api/v1/telemetry HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    common::signal(&server.child, "TERM");
    std::thread::sleep(Duration::from_millis(200));
    in_flight.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"accepted\":1"), "{answer}");
    let (status, logs) = server.terminate();
    assert!(status.success(), "{status}\n{logs}");
    assert!(logs.contains("collector stopped"), "{logs}");
    assert!(
        !dir.path().join("collector.db-wal").exists(),
        "the WAL was not checkpointed"
    );
    assert_eq!(sqlite_counts(dir.path()), (1, 0));
}

#[test]
fn what_was_acknowledged_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let mut acknowledged = 0;
    for _ in 0..20 {
        let batch: Vec<Value> = (0..50)
            .map(|n| registration("m/a", &format!("c{n}")))
            .collect();
        let answer = server.post("/api/v1/telemetry", &Value::Array(batch));
        assert_eq!(answer.status, 200);
        acknowledged += answer.body["accepted"].as_u64().unwrap();
    }
    server.kill();
    assert_eq!(sqlite_counts(dir.path()).0, acknowledged);
    let restarted = Server::start(dir.path(), &Launch::default());
    assert_eq!(
        restarted.get("/api/v1/models", &[]).body["registrations"],
        acknowledged
    );
}

#[test]
fn a_wrong_setting_names_the_key_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)], config: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_telemetry-collector"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path());
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let error = run(&[("TELEMETRY_COLLECTOR_RETENTION_DAYS", "ninety")], None);
    assert!(
        error
            .contains("`retention_days` (environment variable TELEMETRY_COLLECTOR_RETENTION_DAYS)"),
        "{error}"
    );
    let file = dir.path().join("collector.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nretension_days = 3\n").unwrap();
    let error = run(&[], Some(&file));
    assert!(error.contains("`retension_days`"), "{error}");
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(error.contains("unknown key"), "{error}");
    std::fs::write(&file, "[event_types.search]\nn = \"int\"\n").unwrap();
    let error = run(&[], Some(&file));
    assert!(
        error.contains("`event_types.search.n`: `int` is not a field type"),
        "{error}"
    );
    let error = run(&[("TELEMETRY_COLLECTOR_INGEST_KEYS", "short")], None);
    assert!(
        error.contains("`ingest_keys`: a key must be at least 16 characters"),
        "{error}"
    );
}
