//! A server (or a proxy in front of it) that echoes the request on errors
//! must not bring the API key back into logs, errors or the dead-letter
//! file.

use std::collections::HashMap;
use std::time::Duration;

use telemetry_runtime::custom::CustomEvent;
use telemetry_runtime::{FlushError, Telemetry};
use telemetry_test_support::posthog::{FakePostHog, Fault};

const KEY: &str = "phc_echotest0123456789abcdefghijkl";

fn telemetry(dir: &std::path::Path, url: &str) -> Telemetry {
    let env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_POSTHOG_API_KEY", KEY),
        ("MYAPP_TELEMETRY_POSTHOG_HOST", url),
        ("MYAPP_TELEMETRY_MAX_RETRIES", "0"),
        ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "10"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let builder = Telemetry::builder("myapp")
        .data_dir(dir)
        .env(move |name| env.get(name).cloned());
    telemetry_posthog::configure(builder, None)
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn an_echoed_key_reaches_neither_the_error_nor_the_dead_letter_file() {
    let server = FakePostHog::start(KEY);
    let dir = tempfile::tempdir().unwrap();
    let telemetry = telemetry(dir.path(), &server.url());

    // A 5xx that echoes: retried (here: not at all), the error names the status.
    server.push([Fault::Echo(502)]);
    telemetry
        .capture_custom(CustomEvent::new("first").property("n", 1))
        .unwrap();
    let error = telemetry.flush(Duration::from_secs(10)).unwrap_err();
    let FlushError::NotSent(reason) = &error else {
        panic!("expected NotSent, got {error:?}");
    };
    assert!(reason.contains("HTTP 502"), "{reason}");
    assert!(reason.contains("[secret]"), "{reason}");
    assert!(!error.to_string().contains(KEY), "{error}");

    // A 400 that echoes: the batch goes to the dead-letter file, keyless.
    server.push([Fault::Echo(400)]);
    telemetry.flush(Duration::from_secs(10)).unwrap();
    let dead_letter = std::fs::read_to_string(dir.path().join("dead-letter.jsonl")).unwrap();
    assert!(dead_letter.contains("HTTP 400"), "{dead_letter}");
    assert!(!dead_letter.contains(KEY), "{dead_letter}");
    assert_eq!(server.requests().len(), 2);
}
