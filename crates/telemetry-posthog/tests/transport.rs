//! `Telemetry::capture` → queue → courier → a fake PostHog on loopback.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemetry_runtime::consent::{Mode, Source};
use telemetry_runtime::custom::CustomEvent;
use telemetry_runtime::queue::Counters;
use telemetry_runtime::{FlushError, TelemetryBuilder};
use telemetry_runtime::{Telemetry, TelemetrySafe};
use telemetry_test_support::posthog::{FakePostHog, Fault};

const KEY: &str = "phc_testkey1234";

/// A small event, as an application would derive it.
#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    backend: String,
    hits: u32,
}

fn search(hits: u32) -> Search {
    Search {
        backend: "bm25".into(),
        hits,
    }
}

/// A builder for `myapp` on `dir`, on, sending to `server`, with short
/// backoffs; `vars` add to or replace the environment.
fn builder(dir: &Path, server: &FakePostHog, vars: &[(&str, &str)]) -> TelemetryBuilder {
    let mut env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_POSTHOG_API_KEY", KEY),
        ("MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS", "3600"),
        ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "5"),
        ("MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS", "1"),
        ("MYAPP_TELEMETRY_REQUEST_TIMEOUT_SECONDS", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("MYAPP_TELEMETRY_POSTHOG_HOST".into(), server.url());
    for (name, value) in vars {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let builder = Telemetry::builder("myapp")
        .data_dir(dir)
        .env(move |name| env.get(name).cloned());
    telemetry_posthog::configure(builder, None).unwrap()
}

fn start(dir: &Path, server: &FakePostHog, vars: &[(&str, &str)]) -> Telemetry {
    let telemetry = builder(dir, server, vars).build().unwrap();
    assert_eq!(telemetry.decision().mode, Mode::On);
    telemetry
}

fn counters(dir: &Path, server: &FakePostHog) -> Counters {
    builder(dir, server, &[])
        .control()
        .unwrap()
        .status()
        .unwrap()
        .queue
        .counters
}

const FLUSH: Duration = Duration::from_secs(20);

#[test]
fn events_captured_together_go_out_in_one_gzipped_request_in_posthog_format() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    for hits in 0..5 {
        telemetry.capture(&search(hits));
    }
    // What the user previews is what is sent, uuid and timestamp included.
    let control = builder(dir.path(), &server, &[]).control().unwrap();
    let started = Instant::now();
    let mut previewed = control.preview().unwrap();
    while previewed.len() < 5 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
        previewed = control.preview().unwrap();
    }
    assert_eq!(previewed.len(), 5);
    telemetry.flush(FLUSH).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].gzip);
    assert_eq!(server.wire_errors(), Vec::<String>::new());
    let events = requests[0].events();
    assert_eq!(events.len(), 5);
    let first = &events[0];
    assert_eq!(first["event"], "myapp_search");
    assert_eq!(first["properties"]["backend"], "bm25");
    assert_eq!(first["properties"]["hits"], 0);
    assert_eq!(first["properties"]["$process_person_profile"], false);
    assert_eq!(first["properties"]["$geoip_disable"], true);
    assert_eq!(first["properties"]["$lib"], "telemetry-posthog");
    let status = builder(dir.path(), &server, &[])
        .control()
        .unwrap()
        .status()
        .unwrap();
    assert_eq!(
        first["distinct_id"].as_str(),
        status.client_id.map(|id| id.to_string()).as_deref()
    );
    for (envelope, event) in previewed.iter().zip(&events) {
        assert_eq!(event["uuid"], envelope.uuid.to_string());
        assert_eq!(event["timestamp"], envelope.timestamp.to_string());
    }
    assert_eq!(status.queue.events, 0, "delivered events leave the queue");

    // Nothing queued: a flush sends nothing.
    telemetry.flush(FLUSH).unwrap();
    assert_eq!(server.requests().len(), 1);
    telemetry.shutdown(FLUSH).unwrap();
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_full_batch_goes_out_without_a_flush_and_gzip_can_be_turned_off() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(
        dir.path(),
        &server,
        &[
            ("MYAPP_TELEMETRY_BATCH_SIZE", "4"),
            ("MYAPP_TELEMETRY_GZIP", "false"),
        ],
    );
    for hits in 0..4 {
        telemetry.capture(&search(hits));
    }
    assert_eq!(server.wait_for_requests(1, Duration::from_secs(10)), 1);
    let request = &server.requests()[0];
    assert!(!request.gzip);
    assert_eq!(request.events().len(), 4);
    // Below the batch size, nothing goes out until the interval or a flush.
    telemetry.capture(&search(9));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests().len(), 1);
    telemetry.flush(FLUSH).unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn the_interval_sends_what_is_queued() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(
        dir.path(),
        &server,
        &[("MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS", "1")],
    );
    telemetry.capture(&search(1));
    assert_eq!(server.wait_for_requests(1, Duration::from_secs(10)), 1);
    assert_eq!(server.accepted().len(), 1);
}

#[test]
fn server_errors_are_retried_with_the_same_uuids_and_timestamps() {
    let server = FakePostHog::start(KEY);
    server.push([
        Fault::Status(500, "boom"),
        Fault::Status(502, "bad gateway"),
        Fault::Status(504, "timeout"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    for hits in 0..3 {
        telemetry.capture(&search(hits));
    }
    telemetry.flush(FLUSH).unwrap();
    let requests = server.requests();
    let statuses: Vec<u16> = requests.iter().map(|request| request.status).collect();
    assert_eq!(statuses, [500, 502, 504, 200]);
    let identities = |request: &telemetry_test_support::posthog::Request| -> Vec<(Value, Value)> {
        request
            .events()
            .iter()
            .map(|event| (event["uuid"].clone(), event["timestamp"].clone()))
            .collect()
    };
    for request in &requests[1..] {
        assert_eq!(identities(request), identities(&requests[0]));
    }
    assert_eq!(server.accepted().len(), 3);
}

#[test]
fn a_batch_that_exhausts_its_retries_stays_queued_until_the_next_start() {
    let server = FakePostHog::start(KEY);
    server.always(Some(503));
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[("MYAPP_TELEMETRY_MAX_RETRIES", "2")]);
    for hits in 0..3 {
        telemetry.capture(&search(hits));
    }
    let error = telemetry.flush(FLUSH).unwrap_err();
    assert!(
        matches!(&error, FlushError::NotSent(reason) if reason.contains("HTTP 503")),
        "{error}"
    );
    assert_eq!(server.requests().len(), 3, "max_retries 2: three attempts");
    telemetry.shutdown(Duration::from_secs(2)).ok();
    assert_eq!(
        builder(dir.path(), &server, &[])
            .control()
            .unwrap()
            .preview()
            .unwrap()
            .len(),
        3
    );

    // Next start, the server is back: the queue is the retry.
    server.always(None);
    let telemetry = start(dir.path(), &server, &[]);
    telemetry.flush(FLUSH).unwrap();
    assert_eq!(server.accepted().len(), 3);
}

#[test]
fn retry_after_is_honoured() {
    let server = FakePostHog::start(KEY);
    server.push([Fault::RetryAfter(429, "1".into())]);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    telemetry.capture(&search(1));
    telemetry.flush(FLUSH).unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[test]
fn a_hanging_server_times_out_and_a_dropped_connection_is_retried() {
    let server = FakePostHog::start(KEY);
    server.push([Fault::Hang(Duration::from_secs(3)), Fault::Drop]);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(
        dir.path(),
        &server,
        &[("MYAPP_TELEMETRY_REQUEST_TIMEOUT_SECONDS", "1")],
    );
    telemetry.capture(&search(1));
    let started = Instant::now();
    telemetry.flush(FLUSH).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout cut the hang short"
    );
    // The hung request may be recorded after the others: it finishes last.
    assert_eq!(server.wait_for_requests(3, Duration::from_secs(5)), 3);
    let accepted: HashSet<String> = server
        .accepted()
        .iter()
        .map(|event| event["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(accepted.len(), 1);
}

#[test]
fn a_too_large_batch_is_split_and_a_single_event_too_large_is_dropped_and_counted() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    let padded = |n: usize| CustomEvent::new("padded").property("pad", "a".repeat(n));
    for _ in 0..4 {
        telemetry.capture_custom(padded(600)).unwrap();
    }
    // One event, bigger than the server accepts even alone.
    telemetry.capture_custom(padded(3000)).unwrap();
    // Two padded events fit; four do not.
    server.max_body(2000);
    telemetry.flush(FLUSH).unwrap();
    let statuses: Vec<(u16, usize)> = server
        .requests()
        .iter()
        .map(|request| (request.status, request.events().len()))
        .collect();
    // [0..5] → 413; [0..2] → 200; [2..5] → 413; [2] → 200; [3..5] → 413;
    // [3] → 200; [4] → 413, dropped.
    assert_eq!(
        statuses,
        [
            (413, 5),
            (200, 2),
            (413, 3),
            (200, 1),
            (413, 2),
            (200, 1),
            (413, 1)
        ]
    );
    assert_eq!(server.accepted().len(), 4);
    assert_eq!(
        counters(dir.path(), &server).get(Counters::DROPPED_TOO_LARGE),
        1
    );
    let status = builder(dir.path(), &server, &[])
        .control()
        .unwrap()
        .status()
        .unwrap();
    assert_eq!(status.queue.events, 0);
}

#[test]
fn a_rejected_batch_goes_to_the_dead_letter_file_with_the_answer() {
    let server = FakePostHog::start(KEY);
    server.push([Fault::Status(400, "{\"detail\":\"invalid payload\"}")]);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    telemetry.capture(&search(1));
    telemetry.capture(&search(2));
    telemetry.flush(FLUSH).unwrap();
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
    let control = builder(dir.path(), &server, &[]).control().unwrap();
    let text = std::fs::read_to_string(control.dead_letter_path()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["reason"],
        "HTTP 400: {\"detail\":\"invalid payload\"}"
    );
    assert_eq!(lines[1]["envelope"]["properties"]["hits"], 2);
    assert_eq!(
        counters(dir.path(), &server).get(Counters::DEAD_LETTERED),
        2
    );
    assert_eq!(control.status().unwrap().queue.events, 0);
    // Purging (or turning telemetry off) removes dead letters too.
    control.purge().unwrap();
    assert!(!control.dead_letter_path().exists());
}

#[test]
fn a_wrong_api_key_pauses_sending_instead_of_looping() {
    let server = FakePostHog::start("phc_the_right_key");
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[("MYAPP_TELEMETRY_BATCH_SIZE", "1")]);
    let started = Instant::now();
    let mut hits = 0;
    while started.elapsed() < Duration::from_secs(5) {
        telemetry.capture(&search(hits));
        hits += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let error = telemetry.flush(FLUSH).unwrap_err();
    assert!(matches!(error, FlushError::NotSent(_)), "{error}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one refused request, then a pause");
    assert_eq!(requests[0].status, 401);
    telemetry.shutdown(Duration::from_secs(2)).ok();
    let queued = builder(dir.path(), &server, &[])
        .control()
        .unwrap()
        .preview()
        .unwrap();
    assert_eq!(queued.len(), hits as usize, "every event stays on disk");
}

#[test]
fn configuration_turns_telemetry_off_and_nothing_is_sent() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("myapp.toml");
    std::fs::write(&file, "[telemetry]\nenabled = false\n").unwrap();
    let vars: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_POSTHOG_API_KEY".to_owned(), KEY.to_owned()),
        ("MYAPP_TELEMETRY_POSTHOG_HOST".to_owned(), server.url()),
    ]
    .into();
    let builder = Telemetry::builder("myapp")
        .opt_out()
        .data_dir(dir.path().join("data"))
        .env(move |name| vars.get(name).cloned());
    let telemetry = telemetry_posthog::configure(builder, Some(&file))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(telemetry.decision().mode, Mode::Off);
    assert!(
        matches!(&telemetry.decision().source, Source::Configuration(reason) if reason.contains("myapp.toml")),
        "{}",
        telemetry.decision().source
    );
    assert!(!telemetry.is_recording());
    telemetry.capture(&search(1));
    assert_eq!(telemetry.flush(FLUSH), Err(FlushError::NotRecording));
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.requests().is_empty());
}

#[test]
fn without_an_api_key_events_stay_in_the_local_queue() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(
        dir.path(),
        &server,
        &[("MYAPP_TELEMETRY_POSTHOG_API_KEY", "")],
    );
    telemetry.capture(&search(1));
    telemetry.flush(FLUSH).unwrap();
    assert!(server.requests().is_empty());
    assert_eq!(telemetry.preview().unwrap().len(), 1);
}

#[test]
fn custom_events_keep_their_identity_and_are_guarded() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = start(dir.path(), &server, &[]);
    let uuid = uuid::Uuid::now_v7();
    // Any offset is sent in UTC.
    let an_hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::HOUR)
        .to_offset(time::macros::offset!(+2))
        .replace_nanosecond(0)
        .unwrap();
    telemetry
        .capture_custom(
            CustomEvent::new("interop_check")
                .property("ok", true)
                .distinct_id("installation-42")
                .uuid(uuid)
                .timestamp(an_hour_ago),
        )
        .unwrap();
    telemetry
        .capture_custom(CustomEvent::new("leaky").property("file", "/home/ana/notes.txt"))
        .unwrap();
    let error = telemetry
        .capture_custom(CustomEvent::new("x").distinct_id("anonymous"))
        .unwrap_err();
    assert!(error.to_string().contains("anonymous"), "{error}");
    telemetry.flush(FLUSH).unwrap();
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 1, "the guard dropped the leaky event");
    assert_eq!(accepted[0]["uuid"], uuid.to_string());
    assert_eq!(accepted[0]["distinct_id"], "installation-42");
    let sent_at = accepted[0]["timestamp"].as_str().unwrap();
    assert!(sent_at.ends_with('Z'), "{sent_at}");
    assert_eq!(
        time::OffsetDateTime::parse(sent_at, &time::format_description::well_known::Rfc3339)
            .unwrap(),
        an_hour_ago
    );
    assert_eq!(telemetry.counters().dropped_by_guard, 1);
}

#[test]
fn twenty_thousand_events_through_a_flaky_server_arrive_exactly_once() {
    const EVENTS: u32 = 20_000;
    let server = FakePostHog::start(KEY);
    server.fail_randomly(0.3, 0x5eed);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = builder(
        dir.path(),
        &server,
        &[
            ("MYAPP_TELEMETRY_MAX_RETRIES", "30"),
            ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "1"),
        ],
    )
    .channel_capacity(EVENTS as usize)
    .queue_max_bytes(256 << 20)
    .build()
    .unwrap();
    for hits in 0..EVENTS {
        telemetry.capture(&search(hits));
    }
    assert_eq!(telemetry.counters().captured, u64::from(EVENTS));
    telemetry.flush(Duration::from_secs(300)).unwrap();
    let requests = server.requests();
    let failed = requests
        .iter()
        .filter(|request| request.status == 500)
        .count();
    assert!(
        failed > requests.len() / 5,
        "{failed} of {} failed",
        requests.len()
    );
    let accepted = server.accepted();
    let distinct: HashSet<&str> = accepted
        .iter()
        .map(|event| event["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(distinct.len(), EVENTS as usize);
    let hits: HashSet<u64> = accepted
        .iter()
        .map(|event| event["properties"]["hits"].as_u64().unwrap())
        .collect();
    assert_eq!(hits.len(), EVENTS as usize, "every event, none twice");
    assert_eq!(server.wire_errors(), Vec::<String>::new());
}
