//! The PII audit of payload files: the guard's detectors on every string,
//! plus checks that only make sense at review time.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use crate::AuditError;
use crate::allow::{AllowList, Allowed};
use crate::document::{Document, Step, StringAt};
use crate::finding::{Finding, MAX_STRING_CHARS, RAW_CONTENT_WORDS, Reason};
use telemetry_core::guard;
use telemetry_core::schema::{Conversion, Schema, Shape};

/// The PII audit of payload files.
///
/// Every string value and object key of a file is checked with the
/// run-time guard's detectors ([`guard::detect`]); then string values are
/// checked for raw-content field names ([`RAW_CONTENT_WORDS`]) sent
/// pass-through, for length ([`MAX_STRING_CHARS`]) and for equality with a
/// planted test value. An envelope written by [`snapshot`](crate::snapshot)
/// names its event, whose schema (among those given to [`Audit::new`]) says
/// each field's conversion.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    schemas: Vec<&'static Schema>,
    planted: BTreeSet<String>,
    allow: AllowList,
}

impl Audit {
    /// An audit that knows these schemas (usually
    /// [`registry::registered`](telemetry_core::registry::registered)).
    pub fn new(schemas: impl IntoIterator<Item = &'static Schema>) -> Self {
        Self {
            schemas: schemas.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Values the tests plant (test secrets, home paths): a payload value
    /// equal to one is reported.
    #[must_use]
    pub fn planted<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.planted.extend(values.into_iter().map(Into::into));
        self
    }

    /// Reviewed findings to leave out of [`Report::findings`].
    #[must_use]
    pub fn allow(mut self, allow: AllowList) -> Self {
        self.allow = allow;
        self
    }

    /// Audits `files` (`.snap` or `.json`) and applies the allow-list.
    pub fn run<P: AsRef<Path>>(&self, files: &[P]) -> Result<Report, AuditError> {
        let mut report = Report {
            files: files.len(),
            ..Report::default()
        };
        let mut used = vec![false; self.allow.entries().len()];
        for file in files {
            for finding in self.scan_file(file.as_ref())? {
                match self.allow.position(&finding) {
                    Some(index) => {
                        used[index] = true;
                        report.allowed.push(finding);
                    }
                    None => report.findings.push(finding),
                }
            }
        }
        report.unused = self
            .allow
            .entries()
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(entry, _)| entry.clone())
            .collect();
        Ok(report)
    }

    /// Every finding in one file, before the allow-list.
    pub fn scan_file(&self, file: &Path) -> Result<Vec<Finding>, AuditError> {
        Ok(self.scan_document(file, &Document::read(file)?))
    }

    /// Every finding in `text`, reported as read from `file` (whose
    /// extension, `.snap` or not, says how to read it).
    pub fn scan_text(&self, file: &Path, text: &str) -> Result<Vec<Finding>, AuditError> {
        Ok(self.scan_document(file, &Document::parse(file, text)?))
    }

    fn scan_document(&self, file: &Path, document: &Document) -> Vec<Finding> {
        let event = document.event();
        let schema = event.and_then(|event| {
            self.schemas
                .iter()
                .copied()
                .find(|schema| schema.event == Some(event))
        });
        let mut findings = Vec::new();
        for text in document.strings() {
            let mut report = |reason| {
                findings.push(Finding {
                    file: file.to_owned(),
                    line: text.line,
                    field: text.field(),
                    reason,
                });
            };
            if let Some(detector) = guard::detect(&text.text) {
                report(Reason::Detected(detector));
            }
            if self.planted.contains(&text.text) {
                report(Reason::Planted);
            }
            if text.is_key {
                continue;
            }
            let chars = text.text.chars().count();
            if chars > MAX_STRING_CHARS {
                report(Reason::LongString { chars });
            }
            let payload = match (event, text.steps.split_first()) {
                (Some(_), Some((Step::Key(key), rest))) if key == "properties" => rest,
                // The envelope's own fields are the pipeline's.
                (Some(_), _) => continue,
                (None, _) => &text.steps[..],
            };
            if let Some(reason) = raw_content(schema, payload, &text) {
                report(reason);
            }
        }
        findings
    }
}

/// The raw-content check of one string value at `steps` in the payload,
/// whose `schema` is known or not (a bare payload, an unregistered event).
fn raw_content(schema: Option<&'static Schema>, steps: &[Step], text: &StringAt) -> Option<Reason> {
    let (name, conversion) = owning_field(schema, steps)?;
    let word = raw_content_word(name)?;
    match conversion {
        Some(Conversion::PassThrough) => Some(Reason::RawContentName { word, known: true }),
        Some(_) => None,
        // Without a schema a keyed digest is most likely a hashed field.
        None if guard::is_hash_digest(&text.text) => None,
        None => Some(Reason::RawContentName { word, known: false }),
    }
}

/// The field a value at `steps` belongs to: the deepest schema field on the
/// path, with its conversion; without a schema, the last key on the path.
fn owning_field<'s>(
    schema: Option<&'static Schema>,
    steps: &'s [Step],
) -> Option<(&'s str, Option<Conversion>)> {
    let Some(mut current) = schema else {
        return steps.iter().rev().find_map(|step| match step {
            Step::Key(key) => Some((key.as_str(), None)),
            Step::Index(_) => None,
        });
    };
    let mut owner = None;
    let mut nested = Some(current);
    for step in steps {
        let Step::Key(key) = step else { continue };
        // A key that is not a field of the current struct is a map key inside
        // the owning field: it changes nothing.
        if let Some(field) = nested.and_then(|schema| schema.field(key)) {
            owner = Some((key.as_str(), Some(field.conversion)));
            nested = match field.shape {
                Shape::Object(schema) => {
                    current = schema;
                    Some(current)
                }
                Shape::Scalar | Shape::Label(_) => None,
            };
        }
    }
    owner
}

/// The first word of `name` (split at `_`, `-`, `.` and lower-to-upper case
/// changes, compared without case) that is in [`RAW_CONTENT_WORDS`].
fn raw_content_word(name: &str) -> Option<&'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        let boundary = matches!(c, '_' | '-' | '.' | ' ') || (previous_lower && c.is_uppercase());
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    words.push(word);
    words.iter().find_map(|word| {
        RAW_CONTENT_WORDS
            .iter()
            .copied()
            .find(|candidate| candidate == word)
    })
}

/// What an [`Audit::run`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// How many files were audited.
    pub files: usize,
    /// Findings that no allow-list entry covers: each one fails the audit.
    pub findings: Vec<Finding>,
    /// Findings that an allow-list entry covers.
    pub allowed: Vec<Finding>,
    /// Allow-list entries that matched nothing: stale, so they fail the audit
    /// too.
    pub unused: Vec<Allowed>,
}

impl Report {
    /// Whether the audit passes: no finding outside the allow-list, and no
    /// stale entry in it.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.unused.is_empty()
    }

    /// `Ok` when [`is_clean`](Self::is_clean); otherwise the report as an
    /// error.
    pub fn ensure_clean(self) -> Result<Self, AuditError> {
        if self.is_clean() {
            Ok(self)
        } else {
            Err(AuditError::Findings(Box::new(self)))
        }
    }
}

impl fmt::Display for Report {
    /// One line per finding and per stale allow-list entry, then a summary.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        for entry in &self.unused {
            writeln!(
                f,
                "allow-list entry for {}: {} matches nothing; remove it",
                entry.file.display(),
                entry.field
            )?;
        }
        write!(
            f,
            "audited {} file{}: {} finding{}, {} allowed, {} stale allow-list entr{}",
            self.files,
            plural(self.files, "", "s"),
            self.findings.len(),
            plural(self.findings.len(), "", "s"),
            self.allowed.len(),
            self.unused.len(),
            plural(self.unused.len(), "y", "ies"),
        )
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::raw_content_word;

    #[test]
    fn field_names_are_split_into_words() {
        assert_eq!(raw_content_word("query"), Some("query"));
        assert_eq!(raw_content_word("file_path"), Some("file"));
        assert_eq!(raw_content_word("userName"), Some("user"));
        assert_eq!(raw_content_word("remote-ip"), Some("ip"));
        assert_eq!(raw_content_word("files"), None);
        assert_eq!(raw_content_word("zip_count"), None);
        assert_eq!(raw_content_word("hostname"), None);
        assert_eq!(raw_content_word("local_path_hash"), Some("path"));
    }
}
