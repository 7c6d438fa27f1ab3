//! RFC 3339 timestamps in UTC, the one time format of every payload.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{Anonymizer, TelemetryValue};

/// A point in time, kept and written in UTC as RFC 3339
/// (`2026-01-23T12:34:56.5Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    #[must_use]
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Parses RFC 3339 text with any offset, converting it to UTC.
    pub fn parse(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(Self::from)
    }

    /// The time as a `time::OffsetDateTime` in UTC.
    #[must_use]
    pub const fn as_offset_date_time(&self) -> OffsetDateTime {
        self.0
    }
}

impl From<OffsetDateTime> for Timestamp {
    /// Converts to UTC: the same instant, written with `Z`.
    fn from(time: OffsetDateTime) -> Self {
        Self(time.to_offset(time::UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Years 0..=9999 in UTC always format; others cannot be RFC 3339.
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    /// Reads RFC 3339 text with any offset, converting it to UTC.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(|error| {
            serde::de::Error::custom(format_args!("invalid RFC 3339 timestamp {text:?}: {error}"))
        })
    }
}

impl TelemetryValue for Timestamp {
    fn serialize_value<S: Serializer>(
        &self,
        _: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        self.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_offsets_are_converted_to_utc() {
        let stamp = Timestamp::parse("2026-01-23T14:34:56+02:00").unwrap();
        assert_eq!(stamp.to_string(), "2026-01-23T12:34:56Z");
        assert_eq!(
            serde_json::to_string(&stamp).unwrap(),
            "\"2026-01-23T12:34:56Z\""
        );
    }

    #[test]
    fn fractions_are_kept() {
        let stamp = Timestamp::parse("2026-01-23T12:34:56.250Z").unwrap();
        assert_eq!(stamp.to_string(), "2026-01-23T12:34:56.25Z");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Timestamp::parse("yesterday").is_err());
        let error = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("invalid RFC 3339 timestamp \"yesterday\""),
            "{error}"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let stamp = Timestamp::parse("2026-01-23T12:34:56.123456789Z").unwrap();
        let json = serde_json::to_string(&stamp).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), stamp);
    }
}
