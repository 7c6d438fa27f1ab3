//! Where the token-usage database is, and whether recording is on: the
//! environment variables, read in one place.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `{PREFIX}TELEMETRY_DB_ENABLED` | `1` (or `true`, `yes`, `on`) records token usage; anything else, or unset, does not |
//! | `{PREFIX}TELEMETRY_DATABASE_URL` | the database, for this application only |
//! | `DATABASE_URL` | the database, as the reference workflow sets it (`sqlite:///autopack.db`) |
//!
//! A location is `sqlite:///relative.db` (three slashes, then a path
//! relative to the working directory), `sqlite:////abs/path.db` (four: an
//! absolute path), `sqlite://relative.db`, `sqlite:relative.db`, or a plain
//! path. Any other scheme (`postgres://…`) is refused with its name.
//! `DO_NOT_TRACK` set to anything but empty or `0` keeps recording off, as
//! it does for every other kind of telemetry.

use std::fmt;
use std::path::{Path, PathBuf};

use telemetry_runtime::consent;

/// `{PREFIX}TELEMETRY_DB_ENABLED`.
#[must_use]
pub fn enabled_var(env_prefix: &str) -> String {
    format!("{env_prefix}TELEMETRY_DB_ENABLED")
}

/// `{PREFIX}TELEMETRY_DATABASE_URL`.
#[must_use]
pub fn database_url_var(env_prefix: &str) -> String {
    format!("{env_prefix}TELEMETRY_DATABASE_URL")
}

/// The reference workflow's variable, read after the application's own.
pub const DATABASE_URL: &str = "DATABASE_URL";

/// A database location that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// A URL with a scheme other than `sqlite`.
    #[error(
        "{origin}: unsupported database scheme `{scheme}` in {value:?}; token usage is stored in SQLite: use sqlite:///path.db or a plain path"
    )]
    Scheme {
        /// Where the value came from.
        origin: String,
        /// The value.
        value: String,
        /// Its scheme.
        scheme: String,
    },
    /// `sqlite://` with nothing after it.
    #[error("{origin}: {value:?} names no file; use sqlite:///path.db")]
    Empty {
        /// Where the value came from.
        origin: String,
        /// The value.
        value: String,
    },
    /// No location anywhere.
    #[error(
        "no token-usage database: pass --database PATH, or set {app_var} or DATABASE_URL (for example DATABASE_URL=sqlite:///tokens.db)"
    )]
    Missing {
        /// The application's own variable.
        app_var: String,
    },
}

/// A database file, and where its location was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub path: PathBuf,
    /// Where the location came from: `--database`, `DATABASE_URL` …
    pub origin: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.path.display(), self.origin)
    }
}

impl Location {
    /// Parses `value`, a URL or a path, read from `origin`.
    ///
    /// ```
    /// use std::path::Path;
    /// use telemetry_tokens::Location;
    ///
    /// let relative = Location::parse("sqlite:///autopack.db", "DATABASE_URL").unwrap();
    /// assert_eq!(relative.path, Path::new("autopack.db"));
    /// let absolute = Location::parse("sqlite:////var/lib/tokens.db", "DATABASE_URL").unwrap();
    /// assert_eq!(absolute.path, Path::new("/var/lib/tokens.db"));
    /// assert!(Location::parse("postgres://db/x", "DATABASE_URL").is_err());
    /// ```
    pub fn parse(value: &str, origin: &str) -> Result<Self, LocationError> {
        let trimmed = value.trim();
        let path = if let Some(rest) = strip_scheme(trimmed, "sqlite") {
            // `sqlite:///x` is `x` (SQLAlchemy's rule): the third slash ends
            // an empty authority; a fourth starts an absolute path.
            let rest = rest
                .strip_prefix("//")
                .map_or(rest, |rest| rest.strip_prefix('/').unwrap_or(rest));
            let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
            if rest.is_empty() {
                return Err(LocationError::Empty {
                    origin: origin.to_owned(),
                    value: value.to_owned(),
                });
            }
            PathBuf::from(rest)
        } else if let Some(scheme) = url_scheme(trimmed) {
            return Err(LocationError::Scheme {
                origin: origin.to_owned(),
                value: value.to_owned(),
                scheme: scheme.to_owned(),
            });
        } else if trimmed.is_empty() {
            return Err(LocationError::Empty {
                origin: origin.to_owned(),
                value: value.to_owned(),
            });
        } else {
            PathBuf::from(trimmed)
        };
        Ok(Self {
            path,
            origin: origin.to_owned(),
        })
    }

    /// A path given directly (a `--database` flag, a builder call): parsed
    /// like the variables, so `sqlite:///x.db` works there too.
    pub fn from_flag(value: &Path) -> Result<Self, LocationError> {
        Self::parse(&value.to_string_lossy(), "--database")
    }

    /// The location from the environment (read through `env`): the
    /// application's `{PREFIX}TELEMETRY_DATABASE_URL`, then `DATABASE_URL`.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        env_prefix: &str,
    ) -> Result<Self, LocationError> {
        let app_var = database_url_var(env_prefix);
        for name in [app_var.as_str(), DATABASE_URL] {
            if let Some(value) = env(name).filter(|value| !value.trim().is_empty()) {
                return Self::parse(&value, name);
            }
        }
        Err(LocationError::Missing { app_var })
    }
}

/// `rest` after `scheme:` (case-insensitive), if `text` starts so.
fn strip_scheme<'t>(text: &'t str, scheme: &str) -> Option<&'t str> {
    let (head, rest) = text.split_once(':')?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// The scheme of `scheme://…`; `None` for a path (a Windows drive letter
/// `C:\x` is not a scheme).
fn url_scheme(text: &str) -> Option<&str> {
    let (head, rest) = text.split_once("://")?;
    let valid = head.len() > 1
        && head.starts_with(|c: char| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    (valid && !rest.is_empty()).then_some(head)
}

/// Whether token-usage recording is on, and why, as read from the
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    /// Recording is on.
    pub enabled: bool,
    /// Why, in words: `MYAPP_TELEMETRY_DB_ENABLED=1 is set`.
    pub reason: String,
}

impl Switch {
    /// Reads `{PREFIX}TELEMETRY_DB_ENABLED` and `DO_NOT_TRACK` through `env`.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, env_prefix: &str) -> Self {
        let name = enabled_var(env_prefix);
        if let Some(value) = env("DO_NOT_TRACK") {
            let trimmed = value.trim();
            if !trimmed.is_empty() && trimmed != "0" {
                return Self {
                    enabled: false,
                    reason: format!("DO_NOT_TRACK={trimmed} is set"),
                };
            }
        }
        match env(&name) {
            None => Self {
                enabled: false,
                reason: format!("{name} is not set"),
            },
            Some(value) => match consent::parse_switch(&value) {
                Some(enabled) => Self {
                    enabled,
                    reason: format!("{name}={} is set", value.trim()),
                },
                None => Self {
                    enabled: false,
                    reason: format!(
                        "{name}={value:?} is not one of 1/0, true/false, yes/no, on/off"
                    ),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn urls_and_paths_name_the_file() {
        for (value, path) in [
            ("sqlite:///autopack.db", "autopack.db"),
            ("sqlite:////tmp/x/autopack.db", "/tmp/x/autopack.db"),
            (
                "sqlite:///C:/dev/Autopack/seed.db",
                "C:/dev/Autopack/seed.db",
            ),
            ("sqlite://rel.db", "rel.db"),
            ("sqlite:rel.db", "rel.db"),
            ("SQLITE:///x.db?mode=rwc", "x.db"),
            ("/var/lib/tokens.db", "/var/lib/tokens.db"),
            ("tokens.db", "tokens.db"),
            ("C:\\data\\tokens.db", "C:\\data\\tokens.db"),
        ] {
            assert_eq!(
                Location::parse(value, "test").unwrap().path,
                Path::new(path),
                "{value}"
            );
        }
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        let error = Location::parse("postgres://u@db/x", "DATABASE_URL").unwrap_err();
        assert!(matches!(&error, LocationError::Scheme { scheme, .. } if scheme == "postgres"));
        let text = error.to_string();
        assert!(
            text.starts_with("DATABASE_URL: unsupported database scheme `postgres`"),
            "{text}"
        );
        assert!(matches!(
            Location::parse("sqlite:///", "x"),
            Err(LocationError::Empty { .. })
        ));
    }

    #[test]
    fn the_apps_variable_comes_before_database_url() {
        let both = [
            ("MYAPP_TELEMETRY_DATABASE_URL", "sqlite:///mine.db"),
            ("DATABASE_URL", "postgres://shared"),
        ];
        let location = Location::from_env(env(&both), "MYAPP_").unwrap();
        assert_eq!(location.path, Path::new("mine.db"));
        assert_eq!(location.origin, "MYAPP_TELEMETRY_DATABASE_URL");
        let shared = Location::from_env(env(&both[1..]), "MYAPP_").unwrap_err();
        assert!(matches!(shared, LocationError::Scheme { .. }));
        let missing = Location::from_env(env(&[]), "MYAPP_").unwrap_err();
        assert!(missing.to_string().contains("MYAPP_TELEMETRY_DATABASE_URL"));
    }

    #[test]
    fn recording_is_off_unless_enabled() {
        let off = Switch::from_env(env(&[]), "MYAPP_");
        assert!(!off.enabled);
        assert_eq!(off.reason, "MYAPP_TELEMETRY_DB_ENABLED is not set");
        assert!(Switch::from_env(env(&[("MYAPP_TELEMETRY_DB_ENABLED", "1")]), "MYAPP_").enabled);
        assert!(!Switch::from_env(env(&[("MYAPP_TELEMETRY_DB_ENABLED", "0")]), "MYAPP_").enabled);
        let unclear = Switch::from_env(env(&[("MYAPP_TELEMETRY_DB_ENABLED", "maybe")]), "MYAPP_");
        assert!(!unclear.enabled);
        assert!(unclear.reason.contains("\"maybe\""));
        let dnt = Switch::from_env(
            env(&[("MYAPP_TELEMETRY_DB_ENABLED", "1"), ("DO_NOT_TRACK", "1")]),
            "MYAPP_",
        );
        assert!(!dnt.enabled);
        assert_eq!(dnt.reason, "DO_NOT_TRACK=1 is set");
    }
}
