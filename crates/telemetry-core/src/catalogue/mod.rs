//! The events an application needs to prove efficiency claims without
//! collecting what its users do. Each is declared with
//! `#[derive(TelemetrySafe)]`; each constructor validates, so that a payload is
//! never silently wrong ([`InvalidEvent`](crate::InvalidEvent) names the field).
//!
//! | event | what it proves |
//! | --- | --- |
//! | [`SessionSummary`] (`session_summary`) | how a session went: searches, latency, tokens saved |
//! | [`PerformanceBenchmark`] (`performance_benchmark`) | the tool against a naive baseline |
//! | [`SemanticValidation`] (`semantic_validation`) | whether semantic categories track real usage |
//! | [`ModelRegistration`] (`model_registration`) | which embedding models load where (opt-in) |
//!
//! Event names get the application's prefix when sent: see [`EventPrefix`].

mod benchmark;
mod model;
mod semantic;
mod session;

pub use benchmark::{
    BaselineApproach, BenchmarkCounts, BenchmarkInput, Improvement, PerformanceBenchmark,
};
pub use model::{
    DeviceType, DistanceMetric, Modalities, ModelRegistration, ModelRegistrationInput, ModelSource,
    Normalization,
};
pub use semantic::{Period, SemanticValidation, SemanticValidationInput};
pub use session::{SessionSummary, SessionSummaryInput, SessionTiming, SessionTokens};

use std::fmt;

use crate::TelemetryEvent;

/// The application-level prefix of event names: `myapp` sends
/// `session_summary` as `myapp_session_summary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPrefix(String);

/// An event prefix was not 1 to 64 lowercase ASCII letters, digits or `_`,
/// starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event prefix {0:?} must be 1 to 64 lowercase ASCII letters, digits or `_`, starting with a letter"
)]
pub struct InvalidPrefix(pub String);

impl EventPrefix {
    /// Checks and wraps a prefix such as `myapp`.
    pub fn new(prefix: &str) -> Result<Self, InvalidPrefix> {
        let valid = (1..=64).contains(&prefix.len())
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(prefix.to_owned()))
        } else {
            Err(InvalidPrefix(prefix.to_owned()))
        }
    }

    /// The prefix itself.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The full name of event `E`: `{prefix}_{E::EVENT}`.
    #[must_use]
    pub fn event_name<E: TelemetryEvent + ?Sized>(&self) -> String {
        self.name(E::EVENT)
    }

    /// The full name of an event called `event`.
    #[must_use]
    pub fn name(&self, event: &str) -> String {
        self.qualified(event).to_string()
    }

    /// The full name of an event called `event`, to write without
    /// allocating (capture's hot path).
    pub(crate) fn qualified<'a>(&'a self, event: &'a str) -> QualifiedName<'a> {
        QualifiedName {
            prefix: &self.0,
            event,
        }
    }
}

/// `{prefix}_{event}`, as text or as a JSON string.
pub(crate) struct QualifiedName<'a> {
    prefix: &'a str,
    event: &'a str,
}

impl fmt::Display for QualifiedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.prefix, self.event)
    }
}

impl serde::Serialize for QualifiedName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for EventPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_event_names() {
        let prefix = EventPrefix::new("myapp").unwrap();
        assert_eq!(
            prefix.event_name::<SessionSummary>(),
            "myapp_session_summary"
        );
        assert_eq!(
            prefix.event_name::<ModelRegistration>(),
            "myapp_model_registration"
        );
    }

    #[test]
    fn refuses_prefixes_that_are_not_identifiers() {
        for bad in ["", "MyApp", "my app", "1app", "my-app", &"a".repeat(65)] {
            assert_eq!(
                EventPrefix::new(bad),
                Err(InvalidPrefix(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(EventPrefix::new("my_app2").is_ok());
    }
}
