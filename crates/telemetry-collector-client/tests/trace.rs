//! The trace client and recorder against a small fake collector on
//! loopback that keeps the protocol's rules (idempotency keys, chunk and
//! seq conflicts, upload tokens, the chain checked on `complete`) and can
//! be told to fail. The real collector is exercised in
//! `telemetry-collector`'s `tests/trace_client.rs`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use telemetry_collector_client::trace::{
    RecorderError, RecorderOptions, TraceClient, TraceRecorder, idempotency_key,
};
use telemetry_collector_client::{ApiKey, CollectorConfig};
use telemetry_runtime::policy::RetryPolicy;
use telemetry_trace::wire::CreateTrace;
use telemetry_trace::{Chunk, Event, EventKind, RationaleKind, verify_chain};

const INGEST_KEY: &str = "ingest-key-0123456789";

/// One request as the fake saw it, its body decompressed.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn bearer(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
    }
}

#[derive(Debug, Default)]
struct FakeTrace {
    token: String,
    tokens_issued: u32,
    events: BTreeMap<u64, Event>,
    chunks: BTreeMap<u64, Vec<u8>>,
    keys: HashMap<String, (Vec<u8>, String)>,
    completed: Option<Value>,
}

#[derive(Debug, Default)]
struct State {
    traces: BTreeMap<String, FakeTrace>,
    artifacts: BTreeMap<String, Vec<u8>>,
    requests: Vec<Request>,
    /// Answers to give before the real ones, by a path's last segment
    /// (`events:ingest`), one per matching request.
    failures: Vec<(&'static str, u16)>,
    /// Each event's seq, every time a chunk carried it.
    sent_seqs: Vec<u64>,
}

struct FakeCollector {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeCollector {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let (status, body) = answer(&mut shared.lock().unwrap(), request);
                let head = format!(
                    "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Self { url, state }
    }

    fn fail(&self, endpoint: &'static str, status: u16) {
        self.state.lock().unwrap().failures.push((endpoint, status));
    }

    fn client(&self) -> TraceClient {
        let config = CollectorConfig::for_url(&self.url).with_api_key(ApiKey::new(INGEST_KEY));
        TraceClient::new(&config)
            .unwrap()
            .with_retry(RetryPolicy::new(
                3,
                Duration::from_millis(5),
                Duration::from_millis(20),
            ))
    }

    fn with<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap())
    }
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({ "error": message }).to_string())
}

fn answer(state: &mut State, request: Request) -> (u16, String) {
    state.requests.push(request);
    let request = state.requests.last().unwrap().clone();
    let endpoint = request
        .path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    if let Some(at) = state
        .failures
        .iter()
        .position(|(name, _)| endpoint.starts_with(name))
    {
        let (_, status) = state.failures.remove(at);
        return error(status, "injected");
    }
    let segments: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    match (request.method.as_str(), &segments[..]) {
        ("POST", ["v1", "traces"]) => {
            if request.bearer() != Some(INGEST_KEY) {
                return error(401, "ingest key");
            }
            let create: CreateTrace = serde_json::from_slice(&request.body).unwrap();
            if !create.consent {
                return error(403, "no consent, no trace");
            }
            let id = format!("trace-{}", state.traces.len() + 1);
            let trace = state.traces.entry(id.clone()).or_default();
            created(&id, trace, 201)
        }
        ("POST", ["v1", "traces", id, "token"]) => {
            if request.bearer() != Some(INGEST_KEY) {
                return error(401, "ingest key");
            }
            let id = (*id).to_owned();
            let trace = state.traces.get_mut(&id).unwrap();
            created(&id, trace, 200)
        }
        (_, ["v1", "traces", id, rest @ ..]) => {
            let id = (*id).to_owned();
            let Some(trace) = state.traces.get_mut(&id) else {
                return error(404, "unknown trace");
            };
            if request.bearer() != Some(trace.token.as_str()) {
                return error(401, "upload token expired");
            }
            match (request.method.as_str(), rest) {
                ("POST", ["events:ingest"]) => ingest(&mut state.sent_seqs, &id, trace, &request),
                ("GET", ["upload-status"]) => {
                    let next_event_seq = trace.events.keys().next_back().map_or(0, |seq| seq + 1);
                    let next_chunk_seq = trace.chunks.keys().next_back().map_or(0, |seq| seq + 1);
                    (
                        200,
                        json!({
                            "trace_id": id,
                            "state": if trace.completed.is_some() { "complete" } else { "open" },
                            "next_chunk_seq": next_chunk_seq,
                            "next_event_seq": next_event_seq,
                            "missing_seqs": (0..next_event_seq).filter(|seq| !trace.events.contains_key(seq)).collect::<Vec<_>>(),
                            "chunks": trace.chunks.len(),
                            "events": trace.events.len(),
                        })
                        .to_string(),
                    )
                }
                ("PUT", ["artifacts", sha256]) => {
                    if hex::encode(Sha256::digest(&request.body)) != *sha256 {
                        return error(422, "the bytes' SHA-256 is not the one named");
                    }
                    let known = state
                        .artifacts
                        .insert((*sha256).to_owned(), request.body.clone())
                        .is_some();
                    (if known { 200 } else { 201 }, String::new())
                }
                ("POST", ["complete"]) => {
                    if let Some(completed) = &trace.completed {
                        return (200, completed.to_string());
                    }
                    let events: Vec<Event> = trace.events.values().cloned().collect();
                    match verify_chain(&events) {
                        Ok(head) => {
                            let completed = json!({
                                "trace_id": id, "event_hash_chain": head,
                                "num_events": events.len(), "leaf_index": 0, "tree_size": 1,
                            });
                            trace.completed = Some(completed.clone());
                            (200, completed.to_string())
                        }
                        Err(chain) => error(422, &format!("broken chain at seq {}", chain.seq)),
                    }
                }
                _ => error(404, "no route"),
            }
        }
        _ => error(404, "no route"),
    }
}

fn created(id: &str, trace: &mut FakeTrace, status: u16) -> (u16, String) {
    trace.tokens_issued += 1;
    trace.token = format!("upload-token-{id}-{}", trace.tokens_issued);
    (
        status,
        json!({
            "trace_id": id, "upload_token": trace.token,
            "expires_at": "2030-01-01T00:00:00Z", "message": "created",
        })
        .to_string(),
    )
}

fn ingest(
    sent: &mut Vec<u64>,
    id: &str,
    trace: &mut FakeTrace,
    request: &Request,
) -> (u16, String) {
    let Some(key) = request.headers.get("idempotency-key") else {
        return error(400, "Idempotency-Key is required");
    };
    if trace.completed.is_some() {
        return error(409, "the trace is complete");
    }
    if let Some((body, answer)) = trace.keys.get(key) {
        return if *body == request.body {
            (200, answer.clone())
        } else {
            error(422, "the key was used with another payload")
        };
    }
    let chunk: Chunk = serde_json::from_slice(&request.body).unwrap();
    if trace.chunks.contains_key(&chunk.chunk_seq) {
        return error(409, "chunk_seq stored with other content");
    }
    let mut accepted = 0;
    let mut duplicates = 0;
    for event in &chunk.events {
        sent.push(event.seq);
        match trace.events.get(&event.seq) {
            Some(stored) if stored == event => duplicates += 1,
            Some(_) => return error(409, "seq stored with other content"),
            None => accepted += 1,
        }
    }
    for event in chunk.events {
        trace.events.insert(event.seq, event);
    }
    trace.chunks.insert(chunk.chunk_seq, request.body.clone());
    let answer = json!({
        "trace_id": id, "chunk_seq": chunk.chunk_seq, "accepted": accepted,
        "duplicates": duplicates, "redactions": 0,
    })
    .to_string();
    trace
        .keys
        .insert(key.clone(), (request.body.clone(), answer.clone()));
    (200, answer)
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.split('?').next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|length| length.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    if headers.get("content-encoding").map(String::as_str) == Some("gzip") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .ok()?;
        body = plain;
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn session(consent: bool) -> CreateTrace {
    CreateTrace {
        participant_id: "p-7f3a9c2e".into(),
        consent,
        task_id: "BUG-456".into(),
        task_title: "Fix the calculator's divide".into(),
        task_description: None,
        repo_origin: "https://github.com/example/calculator".into(),
        start_commit: "0123456789abcdef0123456789abcdef01234567".into(),
        environment: telemetry_trace::Environment::default(),
    }
}

fn options(spool: &Path) -> RecorderOptions {
    RecorderOptions::new(spool, "/work/repo")
        .with_chunk_events(3)
        .with_chunk_interval(Duration::from_secs(3600))
        .with_retry(RetryPolicy::new(
            3,
            Duration::from_millis(5),
            Duration::from_millis(20),
        ))
}

fn note(text: &str) -> EventKind {
    EventKind::RationaleNote {
        kind: RationaleKind::Observation,
        text: text.into(),
    }
}

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn without_consent_there_is_no_trace_and_nothing_on_disk() {
    let server = FakeCollector::start();
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let error = TraceRecorder::open(server.client(), session(false), options(&spool)).unwrap_err();
    assert!(matches!(error, RecorderError::NoConsent), "{error}");
    assert!(!spool.exists(), "nothing is written without consent");
    std::thread::sleep(Duration::from_millis(50));
    assert!(server.with(|state| state.requests.is_empty()));
}

#[test]
fn a_session_goes_up_in_chunks_with_content_keys_and_completes() {
    let server = FakeCollector::start();
    let dir = tempfile::tempdir().unwrap();
    let recorder =
        TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    for (at, text) in ["one", "two", "three", "four", "five", "six", "seven"]
        .iter()
        .enumerate()
    {
        let seq = recorder
            .record_at(
                note(text),
                1_700_000_000.0 + f64::from(u32::try_from(at).unwrap()),
            )
            .unwrap();
        assert_eq!(seq, at as u64);
    }
    let completed = recorder.finish(WAIT).unwrap();
    assert_eq!(completed.num_events, 7);
    server.with(|state| {
        let trace = &state.traces["trace-1"];
        assert_eq!(trace.chunks.keys().copied().collect::<Vec<_>>(), [0, 1, 2]);
        let events: Vec<Event> = trace.events.values().cloned().collect();
        assert_eq!(verify_chain(&events).unwrap(), completed.event_hash_chain);
        assert_eq!(events[3].id, "evt-003");
        assert_eq!(events[3].ts_client_s, 1_700_000_003.0);
        let ingests: Vec<&Request> = state
            .requests
            .iter()
            .filter(|r| r.path.ends_with("events:ingest"))
            .collect();
        for request in &ingests {
            let chunk: Chunk = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(
                request.headers["idempotency-key"],
                idempotency_key(chunk.chunk_seq, &request.body)
            );
            assert_eq!(request.headers["content-encoding"], "gzip");
            assert!(chunk.events.len() <= 3);
        }
        assert_eq!(
            state.sent_seqs,
            (0..7).collect::<Vec<_>>(),
            "each event sent once"
        );
    });
}

#[test]
fn free_text_is_redacted_before_it_is_sealed_and_paths_are_made_relative() {
    let server = FakeCollector::start();
    let dir = tempfile::tempdir().unwrap();
    let recorder =
        TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    recorder
        .record(note("asked ana.lopez@example.com about the rounding"))
        .unwrap();
    recorder
        .record(EventKind::FileEdit {
            file_path: "/work/repo/src/./calc.py".into(),
            diff_unified: "--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1 +1 @@\n-a - b\n+a + b\n"
                .into(),
            buffer_hash_after: format!("sha256:{}", "ab".repeat(32)),
        })
        .unwrap();
    let outside = recorder.record(EventKind::FileEdit {
        file_path: "/etc/passwd".into(),
        diff_unified: String::new(),
        buffer_hash_after: "ab".repeat(32),
    });
    assert!(
        matches!(outside, Err(RecorderError::OutsideRepository)),
        "{outside:?}"
    );
    assert_eq!(recorder.next_seq(), 2, "the refused edit took no seq");
    recorder.finish(WAIT).unwrap();
    server.with(|state| {
        let events = &state.traces["trace-1"].events;
        let EventKind::RationaleNote { text, .. } = &events[&0].kind else {
            panic!("a note")
        };
        assert!(!text.contains("ana.lopez"), "{text}");
        assert!(text.contains("[email]"), "{text}");
        assert_eq!(events[&0].redactions, 1);
        let EventKind::FileEdit { file_path, .. } = &events[&1].kind else {
            panic!("an edit")
        };
        assert_eq!(file_path, "src/calc.py");
        let events: Vec<Event> = events.values().cloned().collect();
        verify_chain(&events).unwrap();
    });
}

#[test]
fn failures_are_retried_and_an_expired_token_is_refreshed_with_the_ingest_key() {
    let server = FakeCollector::start();
    server.fail("events:ingest", 503);
    server.fail("events:ingest", 401);
    let dir = tempfile::tempdir().unwrap();
    let recorder =
        TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    for text in ["a", "b", "c", "d"] {
        recorder.record(note(text)).unwrap();
    }
    let completed = recorder.finish(WAIT).unwrap();
    assert_eq!(completed.num_events, 4);
    server.with(|state| {
        assert_eq!(state.traces["trace-1"].tokens_issued, 2, "one refresh");
        assert!(
            state
                .requests
                .iter()
                .any(|r| r.path == "/v1/traces/trace-1/token")
        );
    });
}

#[test]
fn a_reopened_spool_resumes_the_same_trace_without_resending() {
    let server = FakeCollector::start();
    let dir = tempfile::tempdir().unwrap();
    let first = TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    for text in ["a", "b", "c", "d"] {
        first.record(note(text)).unwrap();
    }
    first.flush(WAIT).unwrap();
    assert_eq!(first.pending(), 0);
    let trace_id = first.trace_id().unwrap();
    drop(first);

    let other = TraceRecorder::open(
        server.client(),
        session(true).clone_with_task("BUG-9"),
        options(dir.path()),
    );
    assert!(
        matches!(other, Err(RecorderError::OtherSession { .. })),
        "{other:?}"
    );

    let second = TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    assert_eq!(second.next_seq(), 4);
    assert_eq!(second.trace_id().as_deref(), Some(trace_id.as_str()));
    second.record(note("e")).unwrap();
    let completed = second.finish(WAIT).unwrap();
    assert_eq!(completed.num_events, 5);
    server.with(|state| {
        assert_eq!(state.traces.len(), 1, "the same trace");
        assert_eq!(
            state.sent_seqs,
            (0..5).collect::<Vec<_>>(),
            "nothing sent twice"
        );
        let events: Vec<Event> = state.traces[&trace_id].events.values().cloned().collect();
        verify_chain(&events).unwrap();
    });

    // Complete: the spool takes no more.
    let done = TraceRecorder::open(server.client(), session(true), options(dir.path())).unwrap();
    assert!(matches!(
        done.record(note("f")),
        Err(RecorderError::Completed)
    ));
}

#[test]
fn a_chunk_sent_again_replays_the_stored_answer() {
    let server = FakeCollector::start();
    let client = server.client();
    let created = client.create(&session(true)).unwrap();
    let token = ApiKey::new(created.upload_token);
    let mut events = vec![Event {
        id: "evt-000".into(),
        seq: 0,
        ts_client_s: 1.0,
        ts_server_s: None,
        redactions: 0,
        server_redactions: 0,
        prev_hash: String::new(),
        hash: String::new(),
        kind: note("x"),
    }];
    telemetry_trace::seal(&mut events);
    let chunk = Chunk {
        chunk_id: "chunk-000".into(),
        chunk_seq: 0,
        events,
    };
    let first = client.ingest(&created.trace_id, &token, &chunk).unwrap();
    let again = client.ingest(&created.trace_id, &token, &chunk).unwrap();
    assert_eq!(first, again);
    let status = client.upload_status(&created.trace_id, &token).unwrap();
    assert_eq!((status.next_chunk_seq, status.next_event_seq), (1, 1));
    let (artifact, known) = client
        .put_artifact(&created.trace_id, &token, b"3 passed", Some("text/plain"))
        .unwrap();
    assert!(!known);
    assert_eq!(artifact.size, 8);
    let (_, known) = client
        .put_artifact(&created.trace_id, &token, b"3 passed", Some("text/plain"))
        .unwrap();
    assert!(known, "content-addressed: the second is a 200");

    let wrong = client
        .ingest(&created.trace_id, &ApiKey::new("not-the-token"), &chunk)
        .unwrap_err();
    assert_eq!(wrong.status(), Some(401));
    assert!(!wrong.to_string().contains("not-the-token"));
}

trait WithTask {
    fn clone_with_task(self, task_id: &str) -> Self;
}

impl WithTask for CreateTrace {
    fn clone_with_task(mut self, task_id: &str) -> Self {
        task_id.clone_into(&mut self.task_id);
        self
    }
}
