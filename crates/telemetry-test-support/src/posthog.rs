//! A fake PostHog capture server on loopback: speaks `/batch/` over
//! HTTP/1.1 with keep-alive, decompresses gzip, checks the wire format, and
//! can be told to fail.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// What the server does with one request instead of accepting it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Answer with this status and a `Retry-After` header.
    RetryAfter(u16, String),
    /// Wait this long before answering 200 (past the client's timeout).
    Hang(Duration),
    /// Close the connection without answering.
    Drop,
    /// Answer with this status and the request's own (decompressed) body,
    /// as some proxies do on errors: the API key included.
    Echo(u16),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it arrived (its body fully read).
    pub at: Instant,
    /// The status answered (0 for a dropped connection).
    pub status: u16,
    /// Whether the body came gzipped.
    pub gzip: bool,
    /// The decompressed body's length.
    pub body_len: usize,
    /// The decompressed body, kept as it came: parsed into a `Value` only
    /// when a test asks ([`body`](Self::body)), so that the server's own
    /// work per request stays the checks PostHog makes.
    raw: Arc<[u8]>,
}

impl Request {
    /// The decompressed body, parsed (`Null` when it is not JSON).
    pub fn body(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }

    /// The events of the batch.
    pub fn events(&self) -> Vec<Value> {
        match self.body() {
            Value::Object(mut body) => match body.remove("batch") {
                Some(Value::Array(events)) => events,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// The uuids of the batch, in order.
    pub fn uuids(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|event| event["uuid"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Fault>,
    always: Option<u16>,
    max_body: Option<usize>,
    /// Fail this share of requests with 500, from a seeded generator.
    fail_rate: Option<(f64, u64)>,
    requests: Vec<Request>,
    wire_errors: Vec<String>,
    /// Accept any client library and any RFC 3339 offset, as PostHog does:
    /// for benchmarks that send through other clients too.
    any_client: bool,
}

/// The server. Stops when dropped.
pub struct FakePostHog {
    addr: SocketAddr,
    api_key: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakePostHog {
    /// Starts a server that accepts `api_key`.
    pub fn start(api_key: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            let api_key = api_key.to_owned();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let state = Arc::clone(&state);
                            let stop = Arc::clone(&stop);
                            let api_key = api_key.clone();
                            std::thread::spawn(move || serve(stream, &state, &stop, &api_key));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Self {
            addr,
            api_key: api_key.to_owned(),
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The next requests meet these faults, in order.
    pub fn push(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state().script.extend(faults);
    }

    /// Every request is answered with `status` (`None`: back to normal).
    pub fn always(&self, status: Option<u16>) {
        self.state().always = status;
    }

    /// Bodies over `bytes` (decompressed) get 413.
    pub fn max_body(&self, bytes: usize) {
        self.state().max_body = Some(bytes);
    }

    /// A `rate` share of requests, chosen by a generator seeded with `seed`,
    /// get 500.
    pub fn fail_randomly(&self, rate: f64, seed: u64) {
        self.state().fail_rate = Some((rate, seed.max(1)));
    }

    /// Accepts events from any client library (`$lib`) with any RFC 3339
    /// offset, as PostHog does, instead of checking this crate's format.
    pub fn accept_any_client(&self) {
        self.state().any_client = true;
    }

    /// Forgets every request so far.
    pub fn clear(&self) {
        let mut state = self.state();
        state.requests.clear();
        state.wire_errors.clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Events of the requests answered 2xx, in arrival order.
    pub fn accepted(&self) -> Vec<Value> {
        self.state()
            .requests
            .iter()
            .filter(|request| (200..300).contains(&request.status))
            .flat_map(Request::events)
            .collect()
    }

    /// Wire-format problems found, in words.
    pub fn wire_errors(&self) -> Vec<String> {
        self.state().wire_errors.clone()
    }

    /// Waits up to `timeout` for `n` requests; returns how many arrived.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> usize {
        let until = Instant::now() + timeout;
        loop {
            let seen = self.state().requests.len();
            if seen >= n || Instant::now() >= until {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The API key it accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }
}

impl Drop for FakePostHog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Serves requests on one connection until the client closes it.
fn serve(stream: TcpStream, state: &Mutex<State>, stop: &AtomicBool, api_key: &str) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while !stop.load(Ordering::Relaxed) {
        let Some((head, body)) = read_request(&mut reader, stop) else {
            return;
        };
        let (fault, rules) = {
            let mut state = state.lock().unwrap();
            (state.script.pop_front(), Rules::next(&mut state))
        };
        // Judged outside the lock, so that connections are served in
        // parallel, as by PostHog.
        let (verdict, errors) = judge(&rules, &head, &body, api_key);
        state.lock().unwrap().wire_errors.extend(errors);
        let (status, extra, text, verdict) = match (fault, verdict) {
            (Some(Fault::Drop), verdict) => {
                record(state, verdict, 0);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            (Some(Fault::Hang(pause)), verdict) => {
                std::thread::sleep(pause);
                (200, String::new(), "{\"status\":1}".to_owned(), verdict)
            }
            (Some(Fault::Status(status, text)), verdict) => {
                (status, String::new(), text.to_owned(), verdict)
            }
            (Some(Fault::RetryAfter(status, after)), verdict) => (
                status,
                format!("Retry-After: {after}\r\n"),
                "slow down".to_owned(),
                verdict,
            ),
            (Some(Fault::Echo(status)), verdict) => {
                let text = String::from_utf8_lossy(&verdict.raw).into_owned();
                (status, String::new(), text, verdict)
            }
            (None, verdict) => {
                let status = verdict.status;
                let text = if status == 200 {
                    "{\"status\":1}"
                } else {
                    "refused"
                };
                (status, String::new(), text.to_owned(), verdict)
            }
        };
        record(state, verdict, status);
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

struct Verdict {
    status: u16,
    gzip: bool,
    body_len: usize,
    raw: Arc<[u8]>,
}

fn record(state: &Mutex<State>, verdict: Verdict, status: u16) {
    state.lock().unwrap().requests.push(Request {
        at: Instant::now(),
        status,
        gzip: verdict.gzip,
        body_len: verdict.body_len,
        raw: verdict.raw,
    });
}

/// Reads one request: its head (request line and headers, lower-cased
/// names) and its body. `None` when the connection closed.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    stop: &AtomicBool,
) -> Option<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) => {
                let line = line.trim_end().to_owned();
                if line.is_empty() {
                    if head.is_empty() {
                        continue;
                    }
                    break;
                }
                head.push(line);
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
    let length = header(&head, "content-length")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let mut read = 0;
    while read < length {
        match reader.read(&mut body[read..]) {
            Ok(0) => return None,
            Ok(n) => read += n,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    Some((head, body))
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// What the server's settings say for one request, read under the lock.
struct Rules {
    any_client: bool,
    always: Option<u16>,
    max_body: Option<usize>,
    /// Whether the seeded generator fails this request.
    fail: bool,
}

impl Rules {
    fn next(state: &mut State) -> Self {
        let fail = state.fail_rate.as_mut().is_some_and(|(rate, seed)| {
            // xorshift64: deterministic per seed.
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            #[allow(clippy::cast_precision_loss, reason = "a probability")]
            let draw = (*seed >> 11) as f64 / (1_u64 << 53) as f64;
            draw < *rate
        });
        Self {
            any_client: state.any_client,
            always: state.always,
            max_body: state.max_body,
            fail,
        }
    }
}

/// Checks the request like PostHog's capture endpoint and decides the
/// status it would get without a fault; returns the wire errors found.
fn judge(rules: &Rules, head: &[String], raw: &[u8], api_key: &str) -> (Verdict, Vec<String>) {
    let mut errors = Vec::new();
    let request_line = head.first().map(String::as_str).unwrap_or_default();
    let line_ok = request_line == "POST /batch/ HTTP/1.1"
        || (rules.any_client
            && request_line.starts_with("POST /batch/?")
            && request_line.ends_with(" HTTP/1.1"));
    if !line_ok {
        errors.push(format!("request line {:?}", head.first()));
    }
    if header(head, "content-type") != Some("application/json") {
        errors.push(format!("content-type {:?}", header(head, "content-type")));
    }
    let gzip = header(head, "content-encoding") == Some("gzip");
    let bytes = if gzip {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(raw).read_to_end(&mut out) {
            Ok(_) => out,
            Err(error) => {
                errors.push(format!("gzip: {error}"));
                Vec::new()
            }
        }
    } else {
        raw.to_vec()
    };
    let key_ok = match serde_json::from_slice::<WireBody<'_>>(&bytes) {
        Ok(body) => {
            check_body(&body, rules.any_client, &mut errors);
            body.api_key.as_deref() == Some(api_key)
        }
        Err(error) => {
            errors.push(format!("body is not a batch: {error}"));
            false
        }
    };
    let status = if let Some(status) = rules.always {
        status
    } else if !key_ok {
        401
    } else if !errors.is_empty() {
        400
    } else if rules.max_body.is_some_and(|max| bytes.len() > max) {
        413
    } else if rules.fail {
        500
    } else {
        200
    };
    let verdict = Verdict {
        status,
        gzip,
        body_len: bytes.len(),
        raw: bytes.into(),
    };
    (verdict, errors)
}

/// A `/batch/` body as PostHog reads it: the fields it checks, borrowed.
#[derive(serde::Deserialize)]
struct WireBody<'a> {
    #[serde(borrow)]
    api_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sent_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    batch: Option<Vec<WireEvent<'a>>>,
}

/// One event of a batch, as PostHog checks it.
#[derive(serde::Deserialize)]
struct WireEvent<'a> {
    #[serde(borrow)]
    distinct_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    properties: Option<WireProperties<'a>>,
}

/// The properties PostHog's client check reads.
#[derive(serde::Deserialize)]
struct WireProperties<'a> {
    #[serde(borrow, rename = "$lib")]
    lib: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "$lib_version")]
    lib_version: Option<Cow<'a, str>>,
}

fn check_body(body: &WireBody<'_>, any_client: bool, errors: &mut Vec<String>) {
    let utc = |at: &str| at.ends_with('Z') || (any_client && at.ends_with("+00:00"));
    if body.sent_at.as_deref().is_none_or(|at| !utc(at)) {
        errors.push(format!("sent_at {:?}", body.sent_at));
    }
    let Some(batch) = &body.batch else {
        errors.push("no batch array".into());
        return;
    };
    if batch.is_empty() {
        errors.push("empty batch".into());
    }
    for (at, event) in batch.iter().enumerate() {
        let distinct_id = event.distinct_id.as_deref().unwrap_or_default();
        if distinct_id.is_empty() || distinct_id.chars().count() > 200 || distinct_id == "anonymous"
        {
            errors.push(format!("distinct_id {distinct_id:?} in event {at}"));
        }
        if event.event.as_deref().is_none_or(str::is_empty) {
            errors.push(format!("event name in event {at}"));
        }
        if event
            .uuid
            .as_deref()
            .is_none_or(|uuid| uuid::Uuid::parse_str(uuid).is_err())
        {
            errors.push(format!("uuid {:?} in event {at}", event.uuid));
        }
        if event.timestamp.as_deref().is_none_or(|at| !utc(at)) {
            errors.push(format!("timestamp {:?} in event {at}", event.timestamp));
        }
        let properties = event.properties.as_ref();
        let lib_ok =
            any_client || properties.and_then(|p| p.lib.as_deref()) == Some("telemetry-posthog");
        if !lib_ok || properties.and_then(|p| p.lib_version.as_deref()).is_none() {
            errors.push(format!("$lib in event {at}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(body: &str) -> (u16, Vec<String>) {
        let rules = Rules {
            any_client: false,
            always: None,
            max_body: None,
            fail: false,
        };
        let head = [
            "POST /batch/ HTTP/1.1".to_owned(),
            "Content-Type: application/json".to_owned(),
        ];
        let (verdict, errors) = judge(&rules, &head, body.as_bytes(), "phc_key");
        (verdict.status, errors)
    }

    fn event(uuid: &str, timestamp: &str, properties: &str) -> String {
        format!(
            r#"{{"api_key":"phc_key","sent_at":"2026-01-01T00:00:00Z","batch":[{{"distinct_id":"client-1","event":"x_search","uuid":"{uuid}","timestamp":"{timestamp}","properties":{properties}}}]}}"#
        )
    }

    #[test]
    fn the_server_checks_what_posthog_checks() {
        let uuid = "0190c3a4-6f1e-7a2b-9c3d-4e5f6a7b8c9d";
        let lib = r#"{"$lib":"telemetry-posthog","$lib_version":"0.1.0"}"#;
        assert_eq!(
            judged(&event(uuid, "2026-01-01T00:00:00Z", lib)),
            (200, vec![])
        );

        let (status, errors) = judged(&event("not-a-uuid", "2026-01-01T01:00:00+01:00", "{}"));
        assert_eq!(status, 400);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors.iter().all(|error| error.ends_with("in event 0")),
            "{errors:?}"
        );

        let wrong_key = event(uuid, "2026-01-01T00:00:00Z", lib).replace("phc_key", "phc_other");
        assert_eq!(judged(&wrong_key).0, 401);
        assert_eq!(judged(r#"{"batch":"#).0, 401, "not JSON: no key either");
        assert!(
            judged(r#"{"api_key":"phc_key","batch":[]}"#)
                .1
                .contains(&"empty batch".to_owned())
        );
    }
}
