//! The collector's registry format.
//!
//! `POST {collector_url}/api/v1/telemetry` with a JSON array of flat
//! events, one per envelope:
//!
//! ```text
//! [{"uuid":"0195…","event_type":"model_registration","client_id":"a1b2…",
//!   "model_name":"…", …the event's properties…, "timestamp":"2026-01-23T12:34:56Z"}]
//! ```
//!
//! - `uuid` is the envelope's, fixed at capture: the collector counts an
//!   event it already holds as accepted, so a batch sent again adds nothing.
//! - `event_type` is the event's name without the application's prefix
//!   (`myapp_model_registration` is sent as `model_registration`), as the
//!   registry names its events.
//! - `client_id` is the envelope's `distinct_id`, the installation's id.
//! - The properties follow as members of the same object, spliced as
//!   queued. A property named `uuid`, `event_type` or `client_id` is left
//!   out: those are the envelope's. A property `timestamp` (the event's
//!   own time, as `model_registration` has) is kept; without one, the
//!   envelope's capture time is sent as `timestamp`.
//!
//! The answer is `200 {"accepted": N, "rejected": M, "errors": [{"index": i,
//! "reason": "…"}]}`, `index` counting from 0 in the request's array.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use telemetry_runtime::names::EventPrefix;
use telemetry_runtime::queue::Envelope;

/// The path of the registry endpoint, after `collector_url`.
pub const TELEMETRY_PATH: &str = "/api/v1/telemetry";

/// The path of the deletion endpoint, after `collector_url`.
pub const DELETION_PATH: &str = "/api/v1/deletion";

/// The largest request body sent: the collector refuses bodies over 5 MiB.
pub const MAX_REQUEST_BYTES: usize = 5 << 20;

/// The largest single event sent: the collector refuses an event over
/// 1 MiB, so one is refused here, and counted, without being sent.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The keys every flat event starts with, taken from the envelope.
pub const ENVELOPE_KEYS: [&str; 3] = ["uuid", "event_type", "client_id"];

/// `User-Agent`: who sent the request.
pub(crate) const USER_AGENT: &str =
    concat!("telemetry-collector-client/", env!("CARGO_PKG_VERSION"));

/// Writes envelopes as flat events.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    /// `{prefix}_`, taken off event names.
    prefix: String,
}

/// One event that could not be encoded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooLarge { event: String, bytes: usize },
    NotAnObject { event: String },
}

impl Encoder {
    pub(crate) fn new(prefix: &EventPrefix) -> Self {
        Self {
            prefix: format!("{prefix}_"),
        }
    }

    /// The registry's name for the envelope's event.
    pub(crate) fn event_type<'a>(&self, event: &'a str) -> &'a str {
        event.strip_prefix(&self.prefix).unwrap_or(event)
    }

    /// Appends `envelope` as one flat event to `out`; on a refusal `out` is
    /// left as it was.
    pub(crate) fn event(&self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), Refusal> {
        let properties = envelope.properties.get();
        // The top-level keys, to keep the envelope's identity and to know
        // whether the event has its own time; values are only delimited.
        let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(properties) else {
            return Err(Refusal::NotAnObject {
                event: envelope.event.clone(),
            });
        };
        let start = out.len();
        out.extend_from_slice(b"{\"uuid\":\"");
        let _ = write!(out, "{}", envelope.uuid.hyphenated());
        out.extend_from_slice(b"\",\"event_type\":");
        write_json_str(out, self.event_type(&envelope.event));
        out.extend_from_slice(b",\"client_id\":");
        write_json_str(out, &envelope.distinct_id);
        let clash = members
            .iter()
            .any(|(key, _)| ENVELOPE_KEYS.contains(&key.as_ref()));
        if clash {
            for (key, value) in &members {
                if !ENVELOPE_KEYS.contains(&key.as_ref()) {
                    out.push(b',');
                    write_json_str(out, key);
                    out.push(b':');
                    out.extend_from_slice(value.get().as_bytes());
                }
            }
        } else {
            let inner = properties.trim();
            let inner = inner[1..inner.len() - 1].trim();
            if !inner.is_empty() {
                out.push(b',');
                out.extend_from_slice(inner.as_bytes());
            }
        }
        if !members.iter().any(|(key, _)| key == "timestamp") {
            out.extend_from_slice(b",\"timestamp\":\"");
            let _ = write!(out, "{}", envelope.timestamp);
            out.push(b'"');
        }
        out.push(b'}');
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

fn write_json_str(out: &mut Vec<u8>, text: &str) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The members of a JSON object: keys (borrowed unless escaped) and raw
/// values, in order.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    members.push((key, map.next_value()?));
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A key, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The registry's answer to a 200.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct IngestAnswer {
    #[serde(default)]
    pub(crate) accepted: u64,
    #[serde(default)]
    pub(crate) rejected: u64,
    #[serde(default)]
    pub(crate) errors: Vec<IngestError>,
}

/// One event the registry refused.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct IngestError {
    pub(crate) index: usize,
    #[serde(default)]
    pub(crate) reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event: &str, properties: &str) -> Envelope {
        Envelope::new(
            event,
            "client-1",
            RawValue::from_string(properties.to_owned()).unwrap(),
        )
    }

    fn encoder() -> Encoder {
        Encoder::new(&EventPrefix::new("myapp").unwrap())
    }

    fn encode(envelope: &Envelope) -> (String, serde_json::Value) {
        let mut out = Vec::new();
        encoder().event(envelope, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value = serde_json::from_str(&text).unwrap();
        (text, value)
    }

    #[test]
    fn an_event_is_flat_with_the_envelope_s_identity_first_and_the_properties_as_queued() {
        let envelope = envelope("myapp_search", r#"{ "hits": 3, "ratio": 0.10 }"#);
        let (text, value) = encode(&envelope);
        assert_eq!(
            text,
            format!(
                r#"{{"uuid":"{}","event_type":"search","client_id":"client-1","hits": 3, "ratio": 0.10,"timestamp":"{}"}}"#,
                envelope.uuid, envelope.timestamp
            )
        );
        assert_eq!(value["hits"], 3);
    }

    #[test]
    fn the_event_s_own_timestamp_is_kept_and_the_envelope_s_identity_wins() {
        let envelope = envelope(
            "other_search",
            r#"{"client_id":"spoofed","timestamp":"2026-01-23T12:34:56Z","uu\u0069d":"x","n":[1,{"a":2}]}"#,
        );
        let (text, value) = encode(&envelope);
        assert_eq!(text.matches("\"timestamp\"").count(), 1, "{text}");
        assert_eq!(value["timestamp"], "2026-01-23T12:34:56Z");
        assert_eq!(value["client_id"], "client-1");
        assert_eq!(value["uuid"], envelope.uuid.to_string());
        assert_eq!(value["n"], serde_json::json!([1, {"a": 2}]));
        assert_eq!(
            value["event_type"], "other_search",
            "another prefix is kept"
        );
        assert_eq!(value.as_object().unwrap().len(), 5, "{text}");
    }

    #[test]
    fn an_empty_object_gives_the_envelope_alone() {
        let (_, value) = encode(&envelope("myapp_ping", " {} "));
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "event_type", "timestamp", "uuid"]);
    }

    #[test]
    fn an_event_over_1_mib_or_not_an_object_is_refused_and_leaves_nothing_behind() {
        let big = format!(r#"{{"blob":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        let mut out = b"[".to_vec();
        let refusal = encoder()
            .event(&envelope("myapp_big", &big), &mut out)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::TooLarge { bytes, .. } if bytes > MAX_EVENT_BYTES));
        assert_eq!(out, b"[");
        let refusal = encoder()
            .event(&envelope("myapp_list", "[1,2]"), &mut out)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::NotAnObject { .. }));
        assert_eq!(out, b"[");
    }

    #[test]
    fn an_answer_may_leave_out_what_it_does_not_need() {
        let answer: IngestAnswer = serde_json::from_str(
            r#"{"accepted":2,"rejected":1,"errors":[{"index":1,"reason":"bad"}],"extra":true}"#,
        )
        .unwrap();
        assert_eq!(answer.errors[0].index, 1);
        assert_eq!(
            serde_json::from_str::<IngestAnswer>(r#"{"accepted":3}"#).unwrap(),
            IngestAnswer {
                accepted: 3,
                ..IngestAnswer::default()
            }
        );
    }
}
