//! Every naming rule, in one place: application names, the environment
//! prefix and the event prefix derived from them, event names, and distinct
//! ids.
//!
//! | name | rule | example |
//! | --- | --- | --- |
//! | application | 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter | `my-app` |
//! | environment prefix | the application name upper-cased, other characters as `_`, then `_` | `MY_APP_` |
//! | event prefix | the application name lower-cased, other characters as `_` | `my_app` |
//! | event | 1 to 200 ASCII letters, digits, `_`, `-`, `.` or `:` (so never PostHog's `$` names) | `session_summary` |
//! | sent event | `{event prefix}_{event}` | `my_app_session_summary` |
//! | distinct id | 1 to 200 characters, not only white space, not a placeholder PostHog refuses | a UUID |
//!
//! `#[derive(TelemetrySafe)]` checks event names at compile time with its
//! own copy of the event-name rule (a proc-macro crate cannot call this
//! one); a test runs both over one table of names so that they agree.

use std::fmt;

use crate::TelemetryEvent;

/// The longest application name, in bytes (ASCII).
pub const MAX_APP_NAME_LEN: usize = 64;

/// The longest event name, in characters (ASCII, so also bytes).
pub const MAX_EVENT_NAME_CHARS: usize = 200;

/// The longest `distinct_id` PostHog accepts, in characters.
pub const MAX_DISTINCT_ID_CHARS: usize = 200;

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

/// The application name was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "application name {0:?} must be 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter"
)]
pub struct InvalidAppName(pub String);

/// Checks an application name (`myapp`, `my-app`).
pub fn check_app_name(name: &str) -> Result<(), InvalidAppName> {
    let valid = (1..=MAX_APP_NAME_LEN).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(InvalidAppName(name.to_owned()))
    }
}

/// The prefix of the application's environment variables: `MYAPP_` for
/// `myapp`, `MY_APP_` for `my-app`.
#[must_use]
pub fn env_prefix(app_name: &str) -> String {
    let mut prefix = map_ascii(app_name, |c| c.to_ascii_uppercase());
    prefix.push('_');
    prefix
}

/// The event prefix of a valid application name: `my-App` sends events as
/// `my_app_{event}`.
pub fn event_prefix(app_name: &str) -> Result<EventPrefix, InvalidAppName> {
    check_app_name(app_name)?;
    EventPrefix::new(&map_ascii(app_name, |c| c.to_ascii_lowercase()))
        .map_err(|_| InvalidAppName(app_name.to_owned()))
}

/// `name` with ASCII letters and digits mapped by `case`, everything else
/// as `_`.
fn map_ascii(name: &str, case: fn(char) -> char) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                case(c)
            } else {
                '_'
            }
        })
        .collect()
}

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
        let valid = (1..=MAX_APP_NAME_LEN).contains(&prefix.len())
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
    /// allocating (as text, or as a JSON string through `Serialize`).
    #[must_use]
    pub fn qualified<'a>(&'a self, event: &'a str) -> QualifiedName<'a> {
        QualifiedName {
            prefix: &self.0,
            event,
        }
    }
}

impl fmt::Display for EventPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `{prefix}_{event}`, as text or as a JSON string; see
/// [`EventPrefix::qualified`].
#[derive(Debug, Clone, Copy)]
pub struct QualifiedName<'a> {
    prefix: &'a str,
    event: &'a str,
}

impl<'a> QualifiedName<'a> {
    /// The name's text in pieces, one after the other: the prefix, `_` and
    /// the event, to write without formatting.
    #[must_use]
    pub const fn pieces(&self) -> [&'a str; 3] {
        [self.prefix, "_", self.event]
    }
}

impl fmt::Display for QualifiedName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.pieces()
            .iter()
            .try_for_each(|piece| f.write_str(piece))
    }
}

impl serde::Serialize for QualifiedName<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An event name broke the rule of [`check_event_name`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidEventName {
    /// The name is empty.
    #[error("event name is empty")]
    Empty,
    /// The name starts with `$`, which PostHog reserves for its own events.
    #[error("event name {0:?} starts with `$`, which PostHog reserves for its own events")]
    Reserved(String),
    /// The name is longer than [`MAX_EVENT_NAME_CHARS`].
    #[error("event name is {0} characters long; at most {MAX_EVENT_NAME_CHARS} are allowed")]
    TooLong(usize),
    /// The name has a character outside the allowed set.
    #[error(
        "event name {name:?} contains {found:?}; use ASCII letters, digits, `_`, `-`, `.` or `:`"
    )]
    Character {
        /// The name.
        name: String,
        /// The first character not allowed.
        found: char,
    },
}

/// Checks an event name: 1 to 200 ASCII letters, digits, `_`, `-`, `.` or
/// `:`. The same rule for derived events (checked at compile time) and
/// events built at run time.
pub fn check_event_name(name: &str) -> Result<(), InvalidEventName> {
    if name.is_empty() {
        return Err(InvalidEventName::Empty);
    }
    if name.starts_with('$') {
        return Err(InvalidEventName::Reserved(name.to_owned()));
    }
    let chars = name.chars().count();
    if chars > MAX_EVENT_NAME_CHARS {
        return Err(InvalidEventName::TooLong(chars));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        Some(found) => Err(InvalidEventName::Character {
            name: name.to_owned(),
            found,
        }),
        None => Ok(()),
    }
}

/// A distinct id broke the rule of [`check_distinct_id`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidDistinctId {
    /// Empty, only white space, or longer than [`MAX_DISTINCT_ID_CHARS`].
    #[error("distinct_id must be 1 to {MAX_DISTINCT_ID_CHARS} characters, got {0}")]
    Length(usize),
    /// A placeholder PostHog would refuse or merge.
    #[error(
        "distinct_id {0:?} is a placeholder PostHog refuses or merges with everyone else's; use a random per-installation id"
    )]
    Placeholder(String),
}

/// Checks a distinct id against PostHog's rules: 1 to 200 characters, not
/// only white space, not a placeholder.
pub fn check_distinct_id(distinct_id: &str) -> Result<(), InvalidDistinctId> {
    let chars = distinct_id.chars().count();
    if !(1..=MAX_DISTINCT_ID_CHARS).contains(&chars) || distinct_id.trim().is_empty() {
        return Err(InvalidDistinctId::Length(chars));
    }
    let placeholder = PLACEHOLDER_IDS
        .iter()
        .any(|id| id.eq_ignore_ascii_case(distinct_id.trim()))
        || PLACEHOLDER_IDS_EXACT.contains(&distinct_id);
    if placeholder {
        return Err(InvalidDistinctId::Placeholder(distinct_id.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ModelRegistration, SessionSummary};

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
        assert_eq!(
            serde_json::to_string(&prefix.qualified("x")).unwrap(),
            r#""myapp_x""#
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

    #[test]
    fn app_names_give_both_prefixes() {
        assert_eq!(env_prefix("myapp"), "MYAPP_");
        assert_eq!(env_prefix("my-app.cli"), "MY_APP_CLI_");
        assert_eq!(event_prefix("my-App").unwrap().as_str(), "my_app");
        for bad in ["", "1app", "my app", "my.app", "é", &"a".repeat(65)] {
            assert_eq!(check_app_name(bad), Err(InvalidAppName(bad.to_owned())));
            assert!(event_prefix(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_app_name(&"a".repeat(64)), Ok(()));
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
                    Err(InvalidDistinctId::Placeholder(_))
                ),
                "{id}"
            );
        }
        assert_eq!(
            check_distinct_id(&"x".repeat(201)),
            Err(InvalidDistinctId::Length(201))
        );
        assert_eq!(check_distinct_id("  "), Err(InvalidDistinctId::Length(2)));
        assert_eq!(check_distinct_id(&"é".repeat(200)), Ok(()));
        assert_eq!(check_distinct_id("NULL-but-longer"), Ok(()));
    }
}
