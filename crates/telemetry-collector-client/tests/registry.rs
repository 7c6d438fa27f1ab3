//! The registry sink and the deletion request against a small fake
//! collector on loopback, which answers what each test tells it and
//! records every request.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use serde_json::value::RawValue;
use telemetry_collector_client::{ApiKey, CollectorConfig, DeletionError, send_deletion_request};
use telemetry_runtime::catalogue::{
    DeviceType, DistanceMetric, Modality, ModelRegistrationInput, ModelSource, Normalization,
};
use telemetry_runtime::control::Control;
use telemetry_runtime::queue::{Counters, Envelope, Queue, QueueConfig};
use telemetry_runtime::{ModelRegistration, Telemetry, TelemetryBuilder, Timestamp};

const KEY: &str = "ingest-key-0123456789";

/// One request as the fake collector saw it, its body decompressed.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    /// Header names in lower case.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Recorded {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn events(&self) -> Vec<Value> {
        self.json().as_array().unwrap().clone()
    }
}

/// An answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// Accepts every event of the array it is sent.
fn accept_all(request: &Recorded) -> Answer {
    let count = request.events().len();
    (
        200,
        Vec::new(),
        format!(r#"{{"accepted":{count},"rejected":0,"errors":[]}}"#),
    )
}

/// A collector on loopback: one request per connection, answered by
/// `answer`, recorded.
struct FakeCollector {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeCollector {
    fn start(answer: impl Fn(usize, &Recorded) -> Answer + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let number = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(request.clone());
                    seen.len() - 1
                };
                let (status, headers, body) = answer(number, &request);
                let mut head = format!(
                    "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (name, value) in headers {
                    let _ = write!(head, "{name}: {value}\r\n");
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Recorded> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .ok()?;
        body = plain;
    }
    Some(Recorded {
        path,
        headers,
        body,
    })
}

/// A builder for `myapp` on `dir`, on, configured for `server` with short
/// backoffs; `vars` add to or replace the environment.
fn builder(dir: &Path, server: &FakeCollector, vars: &[(&str, &str)]) -> TelemetryBuilder {
    let mut env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_COLLECTOR_API_KEY", KEY),
        ("MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS", "3600"),
        ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "5"),
        ("MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS", "1"),
        ("MYAPP_TELEMETRY_REQUEST_TIMEOUT_SECONDS", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("MYAPP_TELEMETRY_COLLECTOR_URL".into(), server.url.clone());
    for (name, value) in vars {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let builder = Telemetry::builder("myapp")
        .data_dir(dir)
        .env(move |name| env.get(name).cloned());
    telemetry_collector_client::configure(builder, None).unwrap()
}

fn control(dir: &Path, server: &FakeCollector, vars: &[(&str, &str)]) -> Control {
    builder(dir, server, vars).control().unwrap()
}

/// Queues `n` envelopes `{"n": i}` in `dir`, each padded with `pad` bytes.
fn queue(dir: &Path, n: usize, pad: usize) -> Vec<Envelope> {
    let queue = Queue::open(QueueConfig::new(dir.join("queue"))).unwrap();
    let envelopes: Vec<Envelope> = (0..n)
        .map(|i| {
            let properties = format!(r#"{{"n":{i},"pad":"{}"}}"#, "x".repeat(pad));
            Envelope::new(
                "myapp_search",
                "client-1",
                RawValue::from_string(properties).unwrap(),
            )
        })
        .collect();
    queue.append(&envelopes).unwrap();
    envelopes
}

fn dead_letters(control: &Control) -> Vec<Value> {
    std::fs::read_to_string(control.dead_letter_path())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn registration() -> ModelRegistration {
    ModelRegistration::new(ModelRegistrationInput {
        model_name: "sentence-transformers/all-mpnet-base-v2".into(),
        model_source: ModelSource::SentenceTransformers,
        model_version: "2.1.0".into(),
        embedding_dimension: 768,
        modalities: vec![Modality::Text],
        distance_metric: DistanceMetric::Cosine,
        normalization: Normalization::L2,
        load_success: true,
        inference_success: true,
        device_type: DeviceType::Cpu,
        local_path: None,
        timestamp: Timestamp::parse("2026-01-23T12:34:56Z").unwrap(),
    })
    .unwrap()
}

#[test]
fn a_registration_goes_out_flat_gzipped_with_the_key_as_the_registry_design_shows() {
    let server = FakeCollector::start(|_, request| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(dir.path(), &server, &[]).build().unwrap();
    telemetry.capture(&registration());
    telemetry.flush(Duration::from_secs(20)).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(request.path, "/api/v1/telemetry");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["content-encoding"], "gzip");
    assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));

    let status = control(dir.path(), &server, &[]).status().unwrap();
    let client_id = status.client_id.unwrap().to_string();
    let events = request.events();
    assert_eq!(events.len(), 1);
    let event = events[0].as_object().unwrap();
    let uuid = event["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36, "{uuid}");
    let expected = serde_json::json!({
        "uuid": uuid,
        "event_type": "model_registration",
        "client_id": client_id,
        "model_name": "sentence-transformers/all-mpnet-base-v2",
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
    });
    assert_eq!(events[0], expected);
    assert_eq!(status.queue.events, 0, "a delivered event leaves the queue");

    // What the consent prompt lists is exactly what went on the wire.
    let prompt = ModelRegistration::consent_prompt();
    let mut listed: Vec<&str> = prompt.fields().iter().map(|f| f.key.as_str()).collect();
    let mut sent: Vec<&str> = event.keys().map(String::as_str).collect();
    listed.sort_unstable();
    sent.sort_unstable();
    assert_eq!(listed, sent);
    let text = prompt.to_string();
    for key in sent {
        assert!(text.contains(&format!("\n  {key}: ")), "{key}:\n{text}");
    }
    telemetry.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn without_gzip_or_a_key_the_body_is_plain_and_unauthenticated() {
    let server = FakeCollector::start(|_, request| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    let envelopes = queue(dir.path(), 2, 0);
    let mut control = control(
        dir.path(),
        &server,
        &[
            ("MYAPP_TELEMETRY_GZIP", "false"),
            ("MYAPP_TELEMETRY_COLLECTOR_API_KEY", ""),
        ],
    );
    let report = control.send().unwrap();
    assert_eq!(report.sent, 2);
    let request = &server.requests()[0];
    assert!(!request.headers.contains_key("content-encoding"));
    assert!(!request.headers.contains_key("authorization"));
    let events = request.events();
    assert_eq!(events[1]["uuid"], envelopes[1].uuid.to_string());
    assert_eq!(events[1]["event_type"], "search");
    assert_eq!(events[1]["client_id"], "client-1");
    assert_eq!(events[1]["timestamp"], envelopes[1].timestamp.to_string());
    assert_eq!(events[1]["n"], 1);
}

#[test]
fn a_partial_rejection_settles_the_batch_and_dead_letters_the_rejected_with_reasons() {
    let server = FakeCollector::start(|_, _| {
        (
            200,
            Vec::new(),
            format!(
                r#"{{"accepted":1,"rejected":2,"errors":[{{"index":2,"reason":"embedding_dimension must be at least 1"}},{{"index":0,"reason":"key {KEY} echoed"}}]}}"#
            ),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let envelopes = queue(dir.path(), 3, 0);
    let mut control = control(dir.path(), &server, &[]);
    let report = control.send().unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(report.dead_lettered, 2);
    assert_eq!(server.requests().len(), 1, "partial success is not retried");

    let letters = dead_letters(&control);
    assert_eq!(letters.len(), 2);
    assert_eq!(
        letters[0]["envelope"]["uuid"],
        envelopes[0].uuid.to_string()
    );
    assert_eq!(letters[0]["reason"], "key [secret] echoed");
    assert_eq!(
        letters[1]["envelope"]["uuid"],
        envelopes[2].uuid.to_string()
    );
    assert_eq!(
        letters[1]["reason"],
        "embedding_dimension must be at least 1"
    );
    assert_eq!(letters[1]["sink"], format!("collector {}", server.url));

    let status = control.status().unwrap();
    assert_eq!(
        status.queue.events, 0,
        "the accepted one left the queue too"
    );
    assert_eq!(status.queue.counters.get(Counters::DEAD_LETTERED), 2);
    assert_eq!(control.send().unwrap().sent, 0);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn too_many_requests_is_retried_after_retry_after_with_the_same_events() {
    let server = FakeCollector::start(|number, request| {
        if number == 0 {
            (
                429,
                vec![("Retry-After", "1".to_owned())],
                r#"{"error":"slow down"}"#.to_owned(),
            )
        } else {
            accept_all(request)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), 3, 0);
    let mut control = control(dir.path(), &server, &[]);
    let started = Instant::now();
    let report = control.send().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.sent, 3);
    assert_eq!(report.requests, 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same uuids and timestamps"
    );
}

#[test]
fn a_bad_request_dead_letters_the_whole_batch_with_the_answer() {
    let server = FakeCollector::start(|_, _| {
        (
            400,
            Vec::new(),
            r#"{"error":"the body is not a JSON array"}"#.to_owned(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), 2, 0);
    let mut control = control(dir.path(), &server, &[]);
    let report = control.send().unwrap();
    assert_eq!((report.sent, report.dead_lettered), (0, 2));
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
    let letters = dead_letters(&control);
    assert_eq!(letters.len(), 2);
    for letter in &letters {
        assert_eq!(
            letter["reason"],
            r#"HTTP 400: {"error":"the body is not a JSON array"}"#
        );
    }
    assert_eq!(control.status().unwrap().queue.events, 0);
}

#[test]
fn a_refused_key_pauses_sending_and_keeps_the_batch() {
    let server =
        FakeCollector::start(|_, _| (401, Vec::new(), r#"{"error":"bad key"}"#.to_owned()));
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), 2, 0);
    let mut control = control(dir.path(), &server, &[]);
    let error = control.send().unwrap_err();
    assert!(error.to_string().contains("HTTP 401"), "{error}");
    assert_eq!(server.requests().len(), 1, "not retried");
    assert_eq!(control.status().unwrap().queue.events, 2);
}

#[test]
fn requests_stay_under_5_mib() {
    let server = FakeCollector::start(|_, request| accept_all(request));
    let dir = tempfile::tempdir().unwrap();
    // Twelve events of half a mebibyte: six mebibytes in all.
    queue(dir.path(), 12, 512 << 10);
    let mut control = control(dir.path(), &server, &[("MYAPP_TELEMETRY_BATCH_SIZE", "20")]);
    let report = control.send().unwrap();
    assert_eq!(report.sent, 12);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(report.requests, 2);
    let mut numbers = Vec::new();
    for request in &requests {
        assert!(
            request.body.len() <= 5 << 20,
            "{} bytes",
            request.body.len()
        );
        numbers.extend(
            request
                .events()
                .iter()
                .map(|event| event["n"].as_u64().unwrap()),
        );
    }
    assert_eq!(numbers, (0..12).collect::<Vec<u64>>());
}

#[test]
fn a_deletion_request_names_the_client_and_returns_what_was_deleted() {
    let server = FakeCollector::start(|number, _| match number {
        0 => (200, Vec::new(), r#"{"deleted":3}"#.to_owned()),
        1 => (401, Vec::new(), r#"{"error":"missing key"}"#.to_owned()),
        _ => (200, Vec::new(), "ok".to_owned()),
    });
    let config =
        CollectorConfig::for_url(&format!("{}/", server.url)).with_api_key(ApiKey::new(KEY));
    assert_eq!(send_deletion_request(&config, "client-1"), Ok(3));
    let request = &server.requests()[0];
    assert_eq!(request.path, "/api/v1/deletion");
    assert_eq!(request.json(), serde_json::json!({"client_id": "client-1"}));
    assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));

    let refused = send_deletion_request(&config, "client-1").unwrap_err();
    assert!(
        matches!(&refused, DeletionError::Refused { status: 401, answer, .. } if answer == r#"{"error":"missing key"}"#),
        "{refused:?}"
    );
    let bad = send_deletion_request(&config, "client-1").unwrap_err();
    assert!(matches!(bad, DeletionError::BadAnswer { .. }), "{bad:?}");

    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable =
        send_deletion_request(&CollectorConfig::for_url(&url), "client-1").unwrap_err();
    assert!(
        matches!(unreachable, DeletionError::Unreachable { .. }),
        "{unreachable:?}"
    );
    assert!(matches!(
        send_deletion_request(&CollectorConfig::default(), "client-1"),
        Err(DeletionError::NoCollector(_))
    ));
}
