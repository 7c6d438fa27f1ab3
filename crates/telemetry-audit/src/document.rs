//! Reading a payload file: an `insta` `.snap` (a header between `---` lines,
//! then the JSON body) or a plain `.json` file, and walking its strings with
//! the line each one is on.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::AuditError;

/// A parsed payload file.
pub(crate) struct Document {
    /// The JSON text.
    pub(crate) body: String,
    /// The line of the file on which `body` starts (1-based).
    pub(crate) first_line: usize,
    /// The parsed body.
    pub(crate) value: Value,
}

impl Document {
    /// Reads `path`; a `.snap` file must hold a JSON snapshot.
    pub(crate) fn read(path: &Path) -> Result<Self, AuditError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text`, read from `path` (whose extension says whether it is a
    /// snapshot).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Self, AuditError> {
        let (body, first_line) = if path.extension().is_some_and(|ext| ext == "snap") {
            split_snapshot(text).ok_or_else(|| AuditError::Malformed {
                path: path.to_owned(),
                line: 1,
                message: "not an insta snapshot: no header between `---` lines".to_owned(),
            })?
        } else {
            (text, 1)
        };
        let value: Value = serde_json::from_str(body).map_err(|error| AuditError::Malformed {
            path: path.to_owned(),
            line: first_line + error.line().saturating_sub(1),
            message: format!(
                "not JSON ({error}); only JSON payloads can be audited: \
                 snapshot them with insta::assert_json_snapshot!"
            ),
        })?;
        Ok(Self {
            body: body.to_owned(),
            first_line,
            value,
        })
    }

    /// The event name when the document is an envelope (an object with a
    /// string `event` and an object `properties`), as
    /// [`snapshot`](crate::snapshot) writes.
    pub(crate) fn event(&self) -> Option<&str> {
        let object = self.value.as_object()?;
        object.get("properties")?.as_object()?;
        object.get("event")?.as_str()
    }

    /// Every string value and object key, in document order.
    pub(crate) fn strings(&self) -> Vec<StringAt> {
        let mut walk = Walk {
            bytes: self.body.as_bytes(),
            pos: 0,
            line: self.first_line,
            steps: Vec::new(),
            found: Vec::new(),
        };
        walk.value();
        walk.found
    }
}

/// The body of an `insta` snapshot and the line it starts on.
fn split_snapshot(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    let header = &rest[..end];
    let body = &rest[end + "\n---\n".len()..];
    // `---`, the header's lines, `---`.
    let first_line = 1 + header.lines().count() + 1 + 1;
    Some((body, first_line))
}

/// One step from the root to a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A member of an object.
    Key(String),
    /// An element of an array.
    Index(usize),
}

/// A string found in a document.
pub(crate) struct StringAt {
    /// The steps from the root to the value (for a key: to its object).
    pub(crate) steps: Vec<Step>,
    /// Whether the string is an object key rather than a value.
    pub(crate) is_key: bool,
    /// The line it is on.
    pub(crate) line: usize,
    /// The string, unescaped.
    pub(crate) text: String,
}

impl StringAt {
    /// The field as the guard writes it: `timing.p95_ms`, `tags[0]`, and
    /// `languages (key)` for an object key.
    pub(crate) fn field(&self) -> String {
        let mut path = String::new();
        for step in &self.steps {
            match step {
                Step::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.extend(key.chars().flat_map(char::escape_debug));
                }
                Step::Index(index) => {
                    // Writing to a String cannot fail.
                    let _ = write!(path, "[{index}]");
                }
            }
        }
        match (self.is_key, path.is_empty()) {
            (true, true) => "(key)".to_owned(),
            (true, false) => format!("{path} (key)"),
            (false, _) => path,
        }
    }
}

/// A walk over JSON text already known to be well-formed.
struct Walk<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    steps: Vec<Step>,
    found: Vec<StringAt>,
}

impl Walk<'_> {
    fn peek(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(b'\0')
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\r' | b'\n') {
            if self.peek() == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }

    /// Walks one value. Nesting is bounded by `serde_json`'s limit (128),
    /// which the text has passed.
    fn value(&mut self) {
        self.skip_whitespace();
        match self.peek() {
            b'{' => self.container(b'}', |walk, _| {
                let key = walk.record_string(true);
                walk.skip_whitespace();
                walk.pos += 1; // `:`
                walk.steps.push(Step::Key(key));
            }),
            b'[' => self.container(b']', |walk, index| walk.steps.push(Step::Index(index))),
            b'"' => {
                self.record_string(false);
            }
            _ => {
                while !matches!(
                    self.peek(),
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n' | b'\0'
                ) {
                    self.pos += 1;
                }
            }
        }
    }

    /// Walks an object or an array: `enter` reads what comes before each
    /// member's value and pushes its step.
    fn container(&mut self, close: u8, mut enter: impl FnMut(&mut Self, usize)) {
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == close {
            self.pos += 1;
            return;
        }
        for index in 0.. {
            self.skip_whitespace();
            enter(self, index);
            self.value();
            self.steps.pop();
            self.skip_whitespace();
            let separator = self.peek();
            self.pos += 1;
            if separator != b',' {
                break;
            }
        }
    }

    /// Reads a string token and records it where it was found; returns it.
    fn record_string(&mut self, is_key: bool) -> String {
        let line = self.line;
        let text = self.string();
        self.found.push(StringAt {
            steps: self.steps.clone(),
            is_key,
            line,
            text: text.clone(),
        });
        text
    }

    /// Reads a string token, unescaped.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                b'\\' => self.pos += 2,
                b'"' | b'\0' => break,
                _ => self.pos += 1,
            }
        }
        self.pos += 1;
        let token = self.bytes.get(start..self.pos).unwrap_or_default();
        serde_json::from_slice(token).unwrap_or_default()
    }
}
