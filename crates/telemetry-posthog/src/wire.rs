//! PostHog's batch capture format.
//!
//! `POST {host}/batch/` with `{"api_key": …, "batch": [event, …], "sent_at": …}`
//! where each event is `{"event", "distinct_id", "properties", "timestamp",
//! "uuid"}`: the format of PostHog's server-side clients (`posthog-python`'s
//! `batch_post` to `/batch/`, with `sent_at` and the event's own `uuid` and
//! `timestamp`). PostHog deduplicates on `uuid` together with
//! `timestamp`, so both come from the envelope, fixed at capture, and a
//! retried request carries the same values.

use std::io::Write;

use telemetry_runtime::Timestamp;
use telemetry_runtime::queue::Envelope;

/// The body size PostHog's own clients aim for: `posthog-python`'s consumer
/// (`BATCH_SIZE_LIMIT = 5 * 1024 * 1024`, "the maximum request body size is
/// currently 20MiB, let's be conservative").
pub const MAX_REQUEST_BYTES: usize = 5 << 20;

/// The largest single event sent: `posthog-python`'s consumer refuses events
/// over `MAX_MSG_SIZE = 900 * 1024`.
pub const MAX_EVENT_BYTES: usize = 900 << 10;

/// `$lib`: who sent the event.
pub const LIB: &str = "telemetry-posthog";

/// `$lib_version`.
pub const LIB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes events into batch bodies.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    /// The properties added to every event, as JSON members without braces.
    added: String,
}

/// One event that could not be encoded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooLarge { event: String, bytes: usize },
    NotAnObject { event: String },
}

impl Encoder {
    pub(crate) fn new(strict_privacy: bool) -> Self {
        let mut added = format!("\"$lib\":\"{LIB}\",\"$lib_version\":\"{LIB_VERSION}\"");
        if strict_privacy {
            // No person profile for anonymous events, no GeoIP enrichment:
            // PostHog's documented properties for both.
            added.push_str(",\"$process_person_profile\":false,\"$geoip_disable\":true");
        }
        Self { added }
    }

    /// Appends `envelope` as one event object to `out`.
    ///
    /// The added properties come last, so that they win over a property of
    /// the same name (PostHog keeps the last of duplicate keys).
    pub(crate) fn event(&self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let start = out.len();
        let properties = envelope.properties.get().trim();
        let Some(inner) = properties
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        else {
            return Err(Refusal::NotAnObject {
                event: envelope.event.clone(),
            });
        };
        let inner = inner.trim();
        out.extend_from_slice(b"{\"event\":");
        write_json_str(out, &envelope.event);
        out.extend_from_slice(b",\"distinct_id\":");
        write_json_str(out, &envelope.distinct_id);
        out.extend_from_slice(b",\"properties\":{");
        out.extend_from_slice(inner.as_bytes());
        if !inner.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(self.added.as_bytes());
        out.extend_from_slice(b"},\"timestamp\":\"");
        let _ = write!(out, "{}", envelope.timestamp);
        out.extend_from_slice(b"\",\"uuid\":\"");
        let _ = write!(out, "{}", envelope.uuid.hyphenated());
        out.extend_from_slice(b"\"}");
        let bytes = out.len() - start;
        if bytes > MAX_EVENT_BYTES {
            out.truncate(start);
            return Err(Refusal::TooLarge {
                event: envelope.event.clone(),
                bytes,
            });
        }
        Ok(())
    }
}

/// Builds one body: `{"api_key":…,"batch":[…],"sent_at":…}` from events
/// already encoded and joined with commas.
pub(crate) fn body(api_key: &str, events: &[u8], sent_at: Timestamp) -> Vec<u8> {
    let mut body = Vec::with_capacity(events.len() + api_key.len() + 80);
    body.extend_from_slice(b"{\"api_key\":");
    write_json_str(&mut body, api_key);
    body.extend_from_slice(b",\"batch\":[");
    body.extend_from_slice(events);
    body.extend_from_slice(b"],\"sent_at\":\"");
    let _ = write!(body, "{sent_at}");
    body.extend_from_slice(b"\"}");
    body
}

fn write_json_str(out: &mut Vec<u8>, text: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;

    fn envelope(properties: &str) -> Envelope {
        Envelope::new(
            "myapp_search",
            "client-1",
            RawValue::from_string(properties.to_owned()).unwrap(),
        )
    }

    fn encode(encoder: &Encoder, envelope: &Envelope) -> serde_json::Value {
        let mut out = Vec::new();
        encoder.event(envelope, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn an_event_carries_its_envelope_and_the_privacy_properties() {
        let envelope = envelope(r#"{"hits":3}"#);
        let event = encode(&Encoder::new(true), &envelope);
        assert_eq!(
            event,
            serde_json::json!({
                "event": "myapp_search",
                "distinct_id": "client-1",
                "properties": {
                    "hits": 3,
                    "$lib": "telemetry-posthog",
                    "$lib_version": LIB_VERSION,
                    "$process_person_profile": false,
                    "$geoip_disable": true,
                },
                "timestamp": envelope.timestamp.to_string(),
                "uuid": envelope.uuid.to_string(),
            })
        );
    }

    #[test]
    fn without_strict_privacy_only_the_library_is_added() {
        let event = encode(&Encoder::new(false), &envelope(" { } "));
        assert_eq!(
            event["properties"],
            serde_json::json!({"$lib": "telemetry-posthog", "$lib_version": LIB_VERSION})
        );
    }

    #[test]
    fn the_privacy_properties_win_over_an_event_that_sets_them() {
        let mut out = Vec::new();
        Encoder::new(true)
            .event(&envelope(r#"{"$geoip_disable":false}"#), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["properties"]["$geoip_disable"], true);
    }

    #[test]
    fn an_event_over_900_kib_is_refused_and_leaves_nothing_behind() {
        let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        let mut out = b"[".to_vec();
        let refusal = Encoder::new(true)
            .event(&envelope(&big), &mut out)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::TooLarge { bytes, .. } if bytes > MAX_EVENT_BYTES));
        assert_eq!(out, b"[");
    }

    #[test]
    fn the_body_names_the_key_the_batch_and_when_it_was_sent() {
        let sent_at = Timestamp::parse("2026-01-23T12:34:56Z").unwrap();
        let body = body("phc_key", br#"{"a":1},{"b":2}"#, sent_at);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"api_key":"phc_key","batch":[{"a":1},{"b":2}],"sent_at":"2026-01-23T12:34:56Z"}"#
        );
    }
}
