//! Consent: whether telemetry is off, local or on, and which source decided.
//!
//! Three modes, as in Go's own telemetry:
//!
//! - [`Mode::Off`]: nothing is recorded.
//! - [`Mode::Local`]: events are recorded in the local queue, where the user
//!   can review them, and never sent. The default of an opt-in application.
//! - [`Mode::On`]: events are recorded and sent by the configured sink. The
//!   default of an opt-out application.
//!
//! The first source that speaks decides, in this order:
//!
//! 1. `DO_NOT_TRACK` set to anything but empty or `0`: off.
//! 2. `{PREFIX}TELEMETRY_ENABLED`, parsed strictly: `true`, `1`, `yes`, `on`
//!    mean on; `false`, `0`, `no`, `off` mean off (case-insensitive, trimmed).
//!    Any other value counts as off, with a warning: an unclear "no" is a no.
//!    Any explicit "off" wins, so an "on" here does not override a user who
//!    ran `telemetry disable`.
//! 3. The user's persisted choice (`telemetry enable`, `local`, `disable`).
//! 4. The application's default.

use std::fmt;
use std::str::FromStr;

/// What telemetry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Nothing is recorded.
    Off,
    /// Recorded locally, viewable, never sent.
    Local,
    /// Recorded and sent by the configured sink.
    On,
}

impl Mode {
    /// `off`, `local` or `on`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Local => "local",
            Self::On => "on",
        }
    }

    /// Whether events are recorded at all.
    #[must_use]
    pub const fn records(self) -> bool {
        !matches!(self, Self::Off)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Text that is not `off`, `local` or `on`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown telemetry mode {0:?}; expected off, local or on")]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Self::Off),
            "local" => Ok(Self::Local),
            "on" => Ok(Self::On),
            _ => Err(UnknownMode(text.to_owned())),
        }
    }
}

/// Whether an application asks before recording (opt-in, the default) or
/// records unless told not to (opt-out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsentPolicy {
    /// Defaults to [`Mode::Local`]: recorded for review, never sent until the
    /// user enables telemetry.
    #[default]
    OptIn,
    /// Defaults to [`Mode::On`].
    OptOut,
}

impl ConsentPolicy {
    /// The mode when no other source decides.
    #[must_use]
    pub const fn default_mode(self) -> Mode {
        match self {
            Self::OptIn => Mode::Local,
            Self::OptOut => Mode::On,
        }
    }
}

/// The source that decided the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `DO_NOT_TRACK` was set to this value.
    DoNotTrack(String),
    /// The application's `{PREFIX}TELEMETRY_ENABLED` variable held a clear
    /// yes or no.
    EnvVar {
        /// The variable.
        name: String,
        /// What it held.
        value: String,
    },
    /// The application's variable held a value that is not a clear yes or no;
    /// counted as off.
    InvalidEnvVar {
        /// The variable.
        name: String,
        /// What it held.
        value: String,
    },
    /// The application's configuration turned telemetry off (for example
    /// `enabled = false` in its config file); says where.
    Configuration(String),
    /// The user's persisted choice.
    UserChoice,
    /// The application's default for its policy.
    AppDefault(ConsentPolicy),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DoNotTrack(value) => write!(f, "DO_NOT_TRACK={value} is set"),
            Self::EnvVar { name, value } => write!(f, "{name}={} is set", value.trim()),
            Self::InvalidEnvVar { name, value } => {
                write!(
                    f,
                    "{name}={value:?} is not true/false/1/0/yes/no/on/off, so it counts as off"
                )
            }
            Self::Configuration(reason) => write!(f, "the configuration turned it off ({reason})"),
            Self::UserChoice => f.write_str("your saved choice"),
            Self::AppDefault(ConsentPolicy::OptIn) => f.write_str(
                "the application's default (opt-in: recorded locally for review, not sent)",
            ),
            Self::AppDefault(ConsentPolicy::OptOut) => {
                f.write_str("the application's default (opt-out)")
            }
        }
    }
}

impl Decision {
    /// Applies the application's configuration kill switch: off, unless an
    /// environment variable already decided (those come first).
    #[must_use]
    pub fn unless_disabled_by(self, disabled_by: Option<&str>) -> Self {
        match (disabled_by, &self.source) {
            (Some(reason), Source::UserChoice | Source::AppDefault(_)) => Self {
                mode: Mode::Off,
                source: Source::Configuration(reason.to_owned()),
            },
            _ => self,
        }
    }
}

/// The decided mode and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What telemetry does.
    pub mode: Mode,
    /// Which source decided.
    pub source: Source,
}

impl Decision {
    /// Decides the mode from the environment (read through `env`, so tests
    /// and embedders need not touch the process environment), the user's
    /// persisted choice and the application's policy.
    pub fn decide(
        env: impl Fn(&str) -> Option<String>,
        env_prefix: &str,
        persisted: Option<Mode>,
        policy: ConsentPolicy,
    ) -> Self {
        if let Some(value) = env("DO_NOT_TRACK") {
            let trimmed = value.trim();
            if !trimmed.is_empty() && trimmed != "0" {
                return Self {
                    mode: Mode::Off,
                    source: Source::DoNotTrack(value),
                };
            }
        }
        let name = enabled_var(env_prefix);
        if let Some(value) = env(&name) {
            return match parse_switch(&value) {
                // Any explicit "off" wins: a user who ran `telemetry
                // disable` stays off whatever the environment says.
                Some(true) if persisted == Some(Mode::Off) => Self {
                    mode: Mode::Off,
                    source: Source::UserChoice,
                },
                Some(true) => Self {
                    mode: Mode::On,
                    source: Source::EnvVar { name, value },
                },
                Some(false) => Self {
                    mode: Mode::Off,
                    source: Source::EnvVar { name, value },
                },
                None => Self {
                    mode: Mode::Off,
                    source: Source::InvalidEnvVar { name, value },
                },
            };
        }
        match persisted {
            Some(mode) => Self {
                mode,
                source: Source::UserChoice,
            },
            None => Self {
                mode: policy.default_mode(),
                source: Source::AppDefault(policy),
            },
        }
    }

    /// A warning to show once at startup, if a variable was unclear.
    #[must_use]
    pub fn warning(&self) -> Option<String> {
        matches!(self.source, Source::InvalidEnvVar { .. })
            .then(|| format!("telemetry is off: {}", self.source))
    }
}

/// `{PREFIX}TELEMETRY_ENABLED`.
#[must_use]
pub fn enabled_var(env_prefix: &str) -> String {
    format!("{env_prefix}TELEMETRY_ENABLED")
}

/// Parses a strict yes/no: `true/false/1/0/yes/no/on/off`, case-insensitive,
/// surrounding white space ignored.
#[must_use]
pub fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn decide(vars: &[(&str, &str)], persisted: Option<Mode>, policy: ConsentPolicy) -> Decision {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Decision::decide(|name| vars.get(name).cloned(), "MYAPP_", persisted, policy)
    }

    use ConsentPolicy::{OptIn, OptOut};
    use Mode::{Local, Off, On};

    #[test]
    fn app_default_depends_on_policy() {
        assert_eq!(decide(&[], None, OptIn).mode, Local);
        assert_eq!(decide(&[], None, OptOut).mode, On);
        assert_eq!(decide(&[], None, OptIn).source, Source::AppDefault(OptIn));
    }

    #[test]
    fn persisted_choice_beats_the_default() {
        for choice in [Off, Local, On] {
            for policy in [OptIn, OptOut] {
                let decision = decide(&[], Some(choice), policy);
                assert_eq!(
                    decision,
                    Decision {
                        mode: choice,
                        source: Source::UserChoice
                    }
                );
            }
        }
    }

    #[test]
    fn env_var_beats_persisted_choice_and_default_except_a_users_off() {
        for policy in [OptIn, OptOut] {
            let on = decide(&[("MYAPP_TELEMETRY_ENABLED", "true")], Some(Off), policy);
            assert_eq!(
                on,
                Decision {
                    mode: Off,
                    source: Source::UserChoice
                }
            );
        }
        for persisted in [None, Some(Off), Some(Local), Some(On)] {
            for policy in [OptIn, OptOut] {
                let off = decide(&[("MYAPP_TELEMETRY_ENABLED", "0")], persisted, policy);
                assert_eq!(off.mode, Off);
                if persisted == Some(Off) {
                    continue;
                }
                let on = decide(&[("MYAPP_TELEMETRY_ENABLED", "true")], persisted, policy);
                assert_eq!(
                    on,
                    Decision {
                        mode: On,
                        source: Source::EnvVar {
                            name: "MYAPP_TELEMETRY_ENABLED".into(),
                            value: "true".into()
                        }
                    }
                );
                assert_eq!(on.source.to_string(), "MYAPP_TELEMETRY_ENABLED=true is set");
            }
        }
    }

    #[test]
    fn do_not_track_beats_everything() {
        for persisted in [None, Some(Off), Some(Local), Some(On)] {
            for policy in [OptIn, OptOut] {
                for enabled in [None, Some("true"), Some("false"), Some("maybe")] {
                    let mut vars = vec![("DO_NOT_TRACK", "1")];
                    if let Some(value) = enabled {
                        vars.push(("MYAPP_TELEMETRY_ENABLED", value));
                    }
                    let decision = decide(&vars, persisted, policy);
                    assert_eq!(
                        decision,
                        Decision {
                            mode: Off,
                            source: Source::DoNotTrack("1".into())
                        }
                    );
                }
            }
        }
    }

    #[test]
    fn do_not_track_variants() {
        for value in ["1", "true", "yes", "anything", " 1 "] {
            assert_eq!(
                decide(&[("DO_NOT_TRACK", value)], Some(On), OptOut).mode,
                Off,
                "{value:?}"
            );
        }
        for value in ["", "0", "  ", " 0 "] {
            assert_eq!(
                decide(&[("DO_NOT_TRACK", value)], Some(On), OptOut).mode,
                On,
                "{value:?}"
            );
        }
    }

    #[test]
    fn enabled_var_is_strict_and_unclear_values_count_as_off_with_a_warning() {
        for value in ["true", "TRUE", "1", "yes", "on", " On "] {
            assert_eq!(
                decide(&[("MYAPP_TELEMETRY_ENABLED", value)], None, OptIn).mode,
                On,
                "{value:?}"
            );
        }
        for value in ["false", "0", "no", "off", "OFF"] {
            assert_eq!(
                decide(&[("MYAPP_TELEMETRY_ENABLED", value)], None, OptOut).mode,
                Off,
                "{value:?}"
            );
        }
        for value in ["", "2", "enable", "y", "treu"] {
            let decision = decide(&[("MYAPP_TELEMETRY_ENABLED", value)], Some(On), OptOut);
            assert_eq!(decision.mode, Off, "{value:?}");
            let warning = decision.warning().unwrap();
            assert!(warning.contains("MYAPP_TELEMETRY_ENABLED"), "{warning}");
        }
        assert_eq!(decide(&[], None, OptIn).warning(), None);
    }

    #[test]
    fn modes_parse_and_display() {
        for mode in [Off, Local, On] {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
        }
        assert_eq!("LOCAL".parse::<Mode>(), Ok(Local));
        assert!("maybe".parse::<Mode>().is_err());
    }
}
