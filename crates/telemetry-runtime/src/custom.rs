//! Events built by the caller rather than derived: for interop, for events
//! whose shape is only known at run time, and for tests of a sink.
//!
//! A [`CustomEvent`] goes through the same pipeline as a derived event
//! ([`Telemetry::capture_custom`](crate::Telemetry::capture_custom)): the
//! guard scans its values (unless the application opted out in code with
//! [`unguarded_custom_events`](crate::TelemetryBuilder::unguarded_custom_events)),
//! then it is queued and sent like any other. Its name is used as given,
//! without the application's prefix, and follows the same rule as a derived
//! event's ([`names::check_event_name`]).

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Timestamp;
use crate::names::{self, InvalidDistinctId, InvalidEventName};
use crate::queue::Envelope;

/// An event built by the caller: a name, properties, and optionally its own
/// distinct id, timestamp and uuid.
///
/// ```
/// use telemetry_runtime::custom::CustomEvent;
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

/// A [`CustomEvent`] that cannot be sent; says which part is wrong, by the
/// rules of [`names`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidCustomEvent {
    /// The event name breaks [`names::check_event_name`].
    #[error(transparent)]
    Name(#[from] InvalidEventName),
    /// The distinct id breaks [`names::check_distinct_id`].
    #[error(transparent)]
    DistinctId(#[from] InvalidDistinctId),
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
        names::check_event_name(&self.event)?;
        let distinct_id = self
            .distinct_id
            .unwrap_or_else(|| default_distinct_id.to_owned());
        names::check_distinct_id(&distinct_id)?;
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
    fn bad_event_names_are_refused_by_name() {
        let error = CustomEvent::new("").into_envelope("client").unwrap_err();
        assert_eq!(error, InvalidCustomEvent::Name(InvalidEventName::Empty));
        let error = CustomEvent::new("a\nb")
            .into_envelope("client")
            .unwrap_err();
        assert!(error.to_string().contains(r#""a\nb""#), "{error}");
        let error = CustomEvent::new("ok")
            .distinct_id("anonymous")
            .into_envelope("client")
            .unwrap_err();
        assert_eq!(
            error,
            InvalidCustomEvent::DistinctId(InvalidDistinctId::Placeholder("anonymous".into()))
        );
    }
}
