//! The allow-list: reviewed findings, each with the reason it is fine.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::AuditError;
use crate::finding::Finding;

/// Reviewed findings that the audit reports as allowed rather than failing.
///
/// Read from TOML, one `[[allow]]` table per finding:
///
/// ```toml
/// [[allow]]
/// file = "tests/snapshots/app__search.snap"   # as given to the audit
/// field = "properties.engine"                 # as the finding names it
/// check = "ipv4"                              # optional: only this check
/// reason = "a version number, 1.2.3.4, not an address"
/// ```
///
/// Every entry needs a non-empty `reason`; an entry that matches no finding
/// is reported as stale.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Allowed>,
}

/// One entry of an [`AllowList`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Allowed {
    /// The file, as the finding names it.
    pub file: PathBuf,
    /// The field, as the finding names it.
    pub field: String,
    /// The check ([`Reason::code`](crate::Reason::code)); any check when absent.
    #[serde(default)]
    pub check: Option<String>,
    /// Why the finding is fine.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    allow: Vec<Allowed>,
}

impl AllowList {
    /// Reads an allow-list file; a missing file is an empty list.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(AuditError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses an allow-list read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, AuditError> {
        let malformed = |line: usize, message: String| AuditError::Malformed {
            path: path.to_owned(),
            line,
            message,
        };
        let file: AllowFile = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map_or(1, |span| text[..span.start].lines().count().max(1));
            malformed(line, error.message().to_owned())
        })?;
        if let Some(entry) = file
            .allow
            .iter()
            .find(|entry| entry.reason.trim().is_empty())
        {
            return Err(malformed(
                1,
                format!(
                    "the entry for {} ({}) has no reason; say why the finding is fine",
                    entry.file.display(),
                    entry.field
                ),
            ));
        }
        Ok(Self {
            entries: file.allow,
        })
    }

    /// The entries, in file order.
    #[must_use]
    pub fn entries(&self) -> &[Allowed] {
        &self.entries
    }

    /// The first entry that covers `finding`.
    pub(crate) fn position(&self, finding: &Finding) -> Option<usize> {
        self.entries.iter().position(|entry| {
            entry.file == finding.file
                && entry.field == finding.field
                && entry
                    .check
                    .as_deref()
                    .is_none_or(|check| check == finding.reason.code())
        })
    }
}
