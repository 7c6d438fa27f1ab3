//! Events built by the caller rather than derived: for interop, for events
//! whose shape is only known at run time, and for tests of a sink.
//!
//! A [`CustomEvent`] goes through the same pipeline as a derived event
//! ([`Telemetry::capture_custom`](crate::Telemetry::capture_custom)): the
//! guard scans its values (unless the application opted out in code with
//! [`unguarded_custom_events`](crate::runtime::TelemetryBuilder::unguarded_custom_events)),
//! then it is queued and sent like any other. Its name is used as given,
//! without the application's prefix.

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Timestamp;
use crate::queue::Envelope;

/// The longest `distinct_id` PostHog accepts, in characters.
pub const MAX_DISTINCT_ID_CHARS: usize = 200;

/// The longest event name accepted, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 200;

/// Distinct ids that PostHog treats as placeholders: it refuses to merge
/// persons on them, and events sent with them end up lumped together
/// (PostHog's ingestion, `isDistinctIdIllegal`: the first list compared
/// without case, the second exactly).
const PLACEHOLDER_IDS: [&str; 10] = [
    "anonymous",
    "guest",
    "distinctid",
    "distinct_id",
    "id",
    "not_authenticated",
    "email",
    "undefined",
    "true",
    "false",
];
const PLACEHOLDER_IDS_EXACT: [&str; 6] = ["[object Object]", "NaN", "None", "none", "null", "0"];

/// An event built by the caller: a name, properties, and optionally its own
/// distinct id, timestamp and uuid.
///
/// ```
/// use telemetry_core::custom::CustomEvent;
///
/// let event = CustomEvent::new("model_loaded")
///     .property("backend", "onnx")
///     .property("load_ms", 412);
/// let envelope = event.into_envelope("0f6c…client-id").unwrap();
/// assert_eq!(envelope.properties.get(), r#"{"backend":"onnx","load_ms":412}"#);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CustomEvent {
    event: String,
    distinct_id: Option<String>,
    properties: Map<String, Value>,
    timestamp: Option<OffsetDateTime>,
    uuid: Option<Uuid>,
}

/// A [`CustomEvent`] that cannot be sent; says which part is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCustomEvent {
    /// The event name is empty, too long, or has control characters.
    #[error(
        "event name {0:?} must be 1 to {MAX_EVENT_NAME_CHARS} characters without control characters"
    )]
    Name(String),
    /// The distinct id is empty or longer than PostHog accepts.
    #[error("distinct_id must be 1 to {MAX_DISTINCT_ID_CHARS} characters, got {0}")]
    DistinctIdLength(usize),
    /// The distinct id is a placeholder PostHog would refuse or merge.
    #[error(
        "distinct_id {0:?} is a placeholder PostHog refuses or merges with everyone else's; use a random per-installation id"
    )]
    PlaceholderDistinctId(String),
}

impl CustomEvent {
    /// An event named `event` with no properties.
    pub fn new(event: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            distinct_id: None,
            properties: Map::new(),
            timestamp: None,
            uuid: None,
        }
    }

    /// Sets the property `key` (a later value for the same key wins).
    #[must_use]
    pub fn property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Sends the event under `distinct_id` instead of the installation's
    /// client id.
    #[must_use]
    pub fn distinct_id(mut self, distinct_id: impl Into<String>) -> Self {
        self.distinct_id = Some(distinct_id.into());
        self
    }

    /// When the event happened (default: when it is captured); any offset,
    /// converted to UTC.
    #[must_use]
    pub fn timestamp(mut self, timestamp: OffsetDateTime) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// The event's uuid (default: a fresh UUID v7). PostHog drops a second
    /// event with the same uuid and timestamp.
    #[must_use]
    pub fn uuid(mut self, uuid: Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// The event name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.event
    }

    /// Checks the event and builds its envelope, with `default_distinct_id`
    /// unless the event has its own.
    pub fn into_envelope(self, default_distinct_id: &str) -> Result<Envelope, InvalidCustomEvent> {
        let name_chars = self.event.chars().count();
        if !(1..=MAX_EVENT_NAME_CHARS).contains(&name_chars)
            || self.event.chars().any(char::is_control)
        {
            return Err(InvalidCustomEvent::Name(self.event));
        }
        let distinct_id = self
            .distinct_id
            .unwrap_or_else(|| default_distinct_id.to_owned());
        check_distinct_id(&distinct_id)?;
        let properties = serde_json::to_string(&self.properties)
            .ok()
            .and_then(|text| RawValue::from_string(text).ok())
            .unwrap_or_else(|| unreachable!("a JSON map always serializes"));
        let mut envelope = Envelope::new(self.event, distinct_id, properties);
        if let Some(timestamp) = self.timestamp {
            envelope.timestamp = Timestamp::from(timestamp);
        }
        if let Some(uuid) = self.uuid {
            envelope.uuid = uuid;
        }
        Ok(envelope)
    }
}

/// Checks a distinct id against PostHog's rules: 1 to 200 characters, not a
/// placeholder.
pub fn check_distinct_id(distinct_id: &str) -> Result<(), InvalidCustomEvent> {
    let chars = distinct_id.chars().count();
    if !(1..=MAX_DISTINCT_ID_CHARS).contains(&chars) || distinct_id.trim().is_empty() {
        return Err(InvalidCustomEvent::DistinctIdLength(chars));
    }
    let placeholder = PLACEHOLDER_IDS
        .iter()
        .any(|id| id.eq_ignore_ascii_case(distinct_id.trim()))
        || PLACEHOLDER_IDS_EXACT.contains(&distinct_id);
    if placeholder {
        return Err(InvalidCustomEvent::PlaceholderDistinctId(
            distinct_id.to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn an_event_keeps_its_own_uuid_and_its_timestamp_in_utc() {
        let uuid = Uuid::now_v7();
        let envelope = CustomEvent::new("interop")
            .property("n", 1)
            .timestamp(datetime!(2026-01-23 14:34:56 +02:00))
            .uuid(uuid)
            .into_envelope("client")
            .unwrap();
        assert_eq!(envelope.uuid, uuid);
        assert_eq!(envelope.timestamp.to_string(), "2026-01-23T12:34:56Z");
        assert_eq!(envelope.distinct_id, "client");
        assert_eq!(envelope.event, "interop");
    }

    #[test]
    fn placeholder_and_oversized_distinct_ids_are_refused() {
        for id in [
            "anonymous",
            "Anonymous",
            "guest",
            "null",
            "0",
            "undefined",
            " id ",
        ] {
            assert!(
                matches!(
                    check_distinct_id(id),
                    Err(InvalidCustomEvent::PlaceholderDistinctId(_))
                ),
                "{id}"
            );
        }
        assert_eq!(
            check_distinct_id(&"x".repeat(201)),
            Err(InvalidCustomEvent::DistinctIdLength(201))
        );
        assert_eq!(
            check_distinct_id("  "),
            Err(InvalidCustomEvent::DistinctIdLength(2))
        );
        assert_eq!(check_distinct_id(&"é".repeat(200)), Ok(()));
        assert_eq!(check_distinct_id("NULL-but-longer"), Ok(()));
    }

    #[test]
    fn bad_event_names_are_refused_by_name() {
        let error = CustomEvent::new("").into_envelope("client").unwrap_err();
        assert_eq!(error, InvalidCustomEvent::Name(String::new()));
        let error = CustomEvent::new("a\nb")
            .into_envelope("client")
            .unwrap_err();
        assert!(error.to_string().contains(r#""a\nb""#), "{error}");
    }
}
