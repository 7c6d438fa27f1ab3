//! What the audit reports: a [`Finding`] per value, with its [`Reason`].

use std::fmt;
use std::path::PathBuf;

use telemetry_core::guard::Detector;

/// Words in a field name that suggest raw user content. A field named with
/// one (`query`, `file_path`, `userName`) whose string value is sent as is
/// (pass-through) is reported.
pub const RAW_CONTENT_WORDS: &[&str] = &[
    "query", "path", "file", "content", "code", "snippet", "email", "ip", "host", "user",
    "username",
];

/// Strings longer than this many characters are reported: free text rather
/// than a label.
pub const MAX_STRING_CHARS: usize = 100;

/// Why a value was reported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// One of the run-time guard's detectors fired.
    Detected(Detector),
    /// The field's name suggests raw content, and its string value is sent as
    /// is: its conversion is pass-through, or no registered schema says
    /// (`known` is false).
    RawContentName {
        /// The word of the name that matched, from [`RAW_CONTENT_WORDS`].
        word: &'static str,
        /// Whether a registered schema says the conversion is pass-through.
        known: bool,
    },
    /// A string of more than [`MAX_STRING_CHARS`] characters.
    LongString {
        /// Its length in characters.
        chars: usize,
    },
    /// The value equals one that the tests plant (a test secret, a home path).
    Planted,
}

impl Reason {
    /// A stable name for the allow-list's `check`: a detector's name
    /// (`unix_path`), `raw_content_name`, `long_string` or `planted_value`.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Detected(detector) => detector.as_str(),
            Self::RawContentName { .. } => "raw_content_name",
            Self::LongString { .. } => "long_string",
            Self::Planted => "planted_value",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Detected(detector) => write!(f, "{} ({detector})", detector.description()),
            Self::RawContentName { word, known: true } => write!(
                f,
                "the name suggests raw content (`{word}`) and the value is sent as is \
                 (pass-through) ({})",
                self.code()
            ),
            Self::RawContentName { word, known: false } => write!(
                f,
                "the name suggests raw content (`{word}`) and no registered schema says how \
                 it is converted ({})",
                self.code()
            ),
            Self::LongString { chars } => write!(
                f,
                "a string of {chars} characters, more than {MAX_STRING_CHARS}: free text? ({})",
                self.code()
            ),
            Self::Planted => write!(
                f,
                "equals a secret or home path planted by the tests ({})",
                self.code()
            ),
        }
    }
}

/// One reported value: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, as it was given to the audit.
    pub file: PathBuf,
    /// The line of the value (or key) in the file, from 1.
    pub line: usize,
    /// The field, as the guard names it: `properties.timing.p95_ms`,
    /// `properties.tags[0]`, `properties.languages (key)`.
    pub field: String,
    /// Why it was reported.
    pub reason: Reason,
}

impl fmt::Display for Finding {
    /// `file:line: field: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.field,
            self.reason
        )
    }
}
