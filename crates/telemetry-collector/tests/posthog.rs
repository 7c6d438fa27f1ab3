//! `telemetry-posthog`, unchanged, pointed at the collector: the real
//! transport, end to end.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{Launch, Server, post_bytes, sqlite_counts};
use serde_json::json;
use telemetry_runtime::{Telemetry, TelemetrySafe};

/// The collector's ingest key, which PostHog clients send as `api_key`.
const KEY: &str = "phc_collector_ingest_key_0123";

#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    backend: String,
    hits: u32,
}

fn telemetry(dir: &Path, host: &str, key: &str) -> Telemetry {
    let env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_POSTHOG_API_KEY", key),
        ("MYAPP_TELEMETRY_POSTHOG_HOST", host),
        ("MYAPP_TELEMETRY_BATCH_SIZE", "100"),
        ("MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS", "3600"),
        ("MYAPP_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "5"),
        ("MYAPP_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS", "1"),
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
fn telemetry_posthog_delivers_to_the_collector_unchanged() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        server_dir.path(),
        &Launch::default()
            .env("TELEMETRY_COLLECTOR_INGEST_KEYS", KEY)
            .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "1000"),
    );
    let app_dir = tempfile::tempdir().unwrap();
    let app = telemetry(app_dir.path(), &server.url, KEY);
    for hits in 0..450 {
        app.capture(&Search {
            backend: "bm25".into(),
            hits,
        });
    }
    app.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(sqlite_counts(server_dir.path()), (0, 450));
    drop(app);
    let control = Telemetry::builder("myapp")
        .data_dir(app_dir.path())
        .control()
        .unwrap();
    assert!(
        control.preview().unwrap().is_empty(),
        "the queue was not emptied"
    );

    // What the collector keeps: the event, no client id, no address.
    let connection = rusqlite::Connection::open(server_dir.path().join("collector.db")).unwrap();
    let (source, name, body): (String, String, String) = connection
        .query_row(
            "SELECT source, event_type, body FROM events LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (source.as_str(), name.as_str()),
        ("posthog", "myapp_search")
    );
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["properties"]["backend"], "bm25");
    assert!(body.get("distinct_id").is_none());

    // A client with the wrong key is refused, and pauses rather than drops.
    let other_dir = tempfile::tempdir().unwrap();
    let refused = telemetry(other_dir.path(), &server.url, "phc_not_the_key_0123456");
    refused.capture(&Search {
        backend: "bm25".into(),
        hits: 1,
    });
    assert!(refused.flush(Duration::from_secs(10)).is_err());
    assert_eq!(sqlite_counts(server_dir.path()), (0, 450));
}

#[test]
fn a_batch_is_deduplicated_on_uuid_and_timestamp_and_checked_on_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default());
    let uuid = uuid::Uuid::now_v7().to_string();
    let event = |timestamp: &str, properties: serde_json::Value| json!({"event": "search", "distinct_id": "client-1", "properties": properties, "timestamp": timestamp, "uuid": uuid});
    let body = json!({
        "api_key": "any key on loopback",
        "batch": [
            event("2026-01-23T12:34:56Z", json!({"hits": 1, "$ip": "192.0.2.7"})),
            // Same uuid, another time: PostHog keeps both.
            event("2026-01-23T12:35:56Z", json!({"hits": 2})),
            event("2026-01-23T12:36:56Z", json!({"note": "mail ana@example.com"})),
        ],
        "sent_at": "2026-01-23T12:37:00Z",
    });
    for path in ["/batch/", "/batch"] {
        let answer = post_bytes(
            &format!("{}{path}", server.url),
            &[],
            body.to_string().into_bytes(),
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body, json!({"status": 1}));
    }
    assert_eq!(sqlite_counts(dir.path()), (0, 2));
    let stored = std::fs::read(dir.path().join("collector.db-wal")).unwrap_or_default();
    for never in ["192.0.2.7", "ana@example.com", "client-1"] {
        assert!(
            !stored.windows(never.len()).any(|w| w == never.as_bytes()),
            "{never} was stored"
        );
    }
    let metrics = server.get("/metrics", &[]).text;
    assert!(
        metrics.contains("collector_events_rejected_total{endpoint=\"posthog\",reason=\"pii\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("collector_events_duplicate_total{endpoint=\"posthog\"} 2"),
        "{metrics}"
    );
}
