//! The data dictionary: every event, every field, how each is anonymised,
//! generated from the schema metadata and its doc comments.

use std::fmt::Write as _;
use std::path::Path;

use crate::AuditError;
use telemetry_core::schema::{Conversion, FieldSchema, Schema, Shape};

/// How deep nested structs are listed; deeper ones are named, not expanded.
const MAX_DEPTH: usize = 8;

/// The data dictionary of a set of events, as Markdown.
///
/// ```
/// use telemetry_audit::Manifest;
/// use telemetry_core::{SessionSummary, TelemetrySafe};
///
/// let manifest = Manifest::new("myapp", [SessionSummary::SCHEMA]).render();
/// assert!(manifest.contains("### `session_summary`"));
/// assert!(manifest.contains("| `timing.p95_response_ms` | `f64` | pass-through |  | 95th percentile of response time. |"));
/// ```
#[derive(Debug, Clone)]
pub struct Manifest {
    title: String,
    events: Vec<&'static Schema>,
}

impl Manifest {
    /// The manifest of `title` (the application's name) listing the events
    /// among `schemas`, sorted by event name; structs that are not events
    /// appear inside the events that contain them.
    pub fn new(
        title: impl Into<String>,
        schemas: impl IntoIterator<Item = &'static Schema>,
    ) -> Self {
        let mut events: Vec<&'static Schema> = schemas
            .into_iter()
            .filter(|schema| schema.event.is_some())
            .collect();
        events.sort_by_key(|schema| (schema.event, schema.type_name));
        events.dedup();
        Self {
            title: title.into(),
            events,
        }
    }

    /// The Markdown text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write_intro(&mut out);
        write_envelope(&mut out);
        out.push_str("## Events\n\n| event | type | what it is |\n| --- | --- | --- |\n");
        for schema in &self.events {
            let _ = writeln!(
                out,
                "| [`{event}`](#{event}) | `{}` | {} |",
                schema.type_name,
                cell(first_sentence(&joined(schema.doc))),
                event = schema.event.unwrap_or_default(),
            );
        }
        for schema in &self.events {
            write_event(&mut out, schema);
        }
        self.write_never_collected(&mut out);
        out
    }

    /// Writes the manifest to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), AuditError> {
        let path = path.as_ref();
        std::fs::write(path, self.render()).map_err(|source| AuditError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Fails with [`AuditError::MissingManifest`] when there is no file at
    /// `path` (the error says how to create it), and with
    /// [`AuditError::StaleManifest`], naming the first line that differs,
    /// when it differs from [`render`](Self::render).
    pub fn check(&self, path: impl AsRef<Path>) -> Result<(), AuditError> {
        let path = path.as_ref();
        let expected = self.render();
        let actual = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(AuditError::MissingManifest {
                    path: path.to_owned(),
                });
            }
            Err(source) => {
                return Err(AuditError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if actual == expected {
            return Ok(());
        }
        let mut expected_lines = expected.lines();
        let mut actual_lines = actual.lines();
        let mut line = 1;
        let (want, got) = loop {
            match (expected_lines.next(), actual_lines.next()) {
                (Some(want), Some(got)) if want == got => line += 1,
                (want, got) => break (want.unwrap_or("").to_owned(), got.unwrap_or("").to_owned()),
            }
        };
        Err(AuditError::StaleManifest {
            path: path.to_owned(),
            line,
            expected: want,
            actual: got,
        })
    }

    fn write_intro(&self, out: &mut String) {
        let _ = write!(
            out,
            "# Telemetry manifest\n\n\
             <!-- Generated from the code's schema metadata; do not edit by hand. -->\n\n\
             Everything {title} can collect: every event, every field, and how each value is \
             anonymised before it leaves the machine, generated from the events' \
             `#[derive(TelemetrySafe)]` declarations and their doc comments. A field that is \
             not listed here is never sent.\n\n",
            title = self.title,
        );
    }

    fn write_never_collected(&self, out: &mut String) {
        out.push_str(
            "\n## What is never collected\n\n\
             - Paths, OS strings, IP and socket addresses as they are: a field of such a type \
             does not compile without a conversion.\n",
        );
        let mut forbidden = Vec::new();
        let mut converted = Vec::new();
        for schema in &self.events {
            let event = schema.event.unwrap_or_default();
            visit(schema, "", 0, &mut |key, field| match field.conversion {
                Conversion::Forbidden => forbidden.push(format!(
                    "  - `{event}`: `{key}` (`{}`){}",
                    field.rust_type,
                    description(field.doc)
                )),
                Conversion::PassThrough => {}
                conversion => converted.push(format!(
                    "  - `{event}`: `{key}` (`{}`): only {}",
                    field.rust_type,
                    what_is_sent(conversion)
                )),
            });
        }
        if forbidden.is_empty() {
            out.push_str("- Fields declared `forbidden`: none of these events declares one.\n");
        } else {
            out.push_str("- Fields declared `forbidden`, kept by the code and never sent:\n");
            for line in &forbidden {
                let _ = writeln!(out, "{line}");
            }
        }
        if !converted.is_empty() {
            out.push_str(
                "- The raw values of converted fields, of which only the result is sent:\n",
            );
            for line in &converted {
                let _ = writeln!(out, "{line}");
            }
        }
    }
}

fn write_envelope(out: &mut String) {
    out.push_str(
        "## The envelope\n\n\
         The pipeline sends every event inside an envelope:\n\n\
         | field | value |\n\
         | --- | --- |\n\
         | `uuid` | a UUID v7 drawn when the event is captured: it identifies the event, not the user |\n\
         | `event` | the event name below, with the application's prefix (`myapp_session_summary`) |\n\
         | `distinct_id` | the client id: a random UUID v4 drawn once per installation, derived from nothing about the user or the machine, and reset on request |\n\
         | `timestamp` | when the event was captured, RFC 3339 in UTC |\n\
         | `properties` | the event's fields, as listed below |\n\n\
         When events are sent to PostHog, the transport adds these properties:\n\n\
         | property | value |\n\
         | --- | --- |\n\
         | `$lib` | the name of the library that sent the event |\n\
         | `$lib_version` | its version |\n\
         | `$process_person_profile` | `false`: PostHog builds no person profile |\n\
         | `$geoip_disable` | `true`: PostHog does not look up where the sender's IP address is |\n\n",
    );
}

fn write_event(out: &mut String, schema: &'static Schema) {
    let event = schema.event.unwrap_or_default();
    let _ = write!(
        out,
        "\n### `{event}`\n\n`{}`: {}\n\n\
         | field | type | conversion | hash scope | description |\n\
         | --- | --- | --- | --- | --- |\n",
        schema.type_name,
        cell(&joined(schema.doc)),
    );
    visit(schema, "", 0, &mut |key, field| {
        if field.conversion == Conversion::Forbidden {
            return;
        }
        // The conversion as an attribute names, without the scope, which has
        // its own column.
        let (conversion, scope) = match field.conversion {
            Conversion::Hash(scope) => ("hash".to_owned(), scope.as_str()),
            conversion => (conversion.to_string(), ""),
        };
        let mut about = joined(field.doc);
        if let Shape::Label(labels) = field.shape {
            let labels: Vec<String> = labels.iter().map(|label| format!("`{label}`")).collect();
            let _ = write!(about, " One of {}.", labels.join(", "));
        }
        let _ = writeln!(
            out,
            "| `{key}` | `{}` | {conversion} | {scope} | {} |",
            cell(field.rust_type),
            cell(about.trim()),
        );
    });
}

/// Calls `each` with every field of `schema` in order, nested structs'
/// fields after their own, keyed `parent.child`.
fn visit(
    schema: &'static Schema,
    prefix: &str,
    depth: usize,
    each: &mut dyn FnMut(&str, &'static FieldSchema),
) {
    for field in schema.fields {
        let key = format!("{prefix}{}", field.key);
        each(&key, field);
        if let (Shape::Object(nested), Conversion::PassThrough, true) =
            (field.shape, field.conversion, depth < MAX_DEPTH)
        {
            visit(nested, &format!("{key}."), depth + 1, each);
        }
    }
}

fn what_is_sent(conversion: Conversion) -> String {
    match conversion {
        Conversion::Boolean => "whether it is present".to_owned(),
        Conversion::Count => "the number of its elements".to_owned(),
        Conversion::TextCount => "its length in characters".to_owned(),
        Conversion::Hash(scope) => format!("its keyed hash ({scope} key)"),
        Conversion::Distribution => "how many times each label occurs".to_owned(),
        Conversion::Aggregate(aggregate) => format!("the {} of its numbers", aggregate.as_str()),
        Conversion::PassThrough | Conversion::Forbidden => String::new(),
    }
}

/// A doc comment on one line, rustdoc's links reduced to their text
/// (`` [`Type::new`] `` and `` [`Type`](crate::path) `` to `` `Type` ``), which
/// point nowhere outside rustdoc.
fn joined(doc: &str) -> String {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(start) = rest.find("[`") {
        let Some(end) = rest[start..].find("`]").map(|end| start + end) else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&rest[start + 1..=end]);
        rest = &rest[end + 2..];
        if rest.starts_with('(')
            && let Some(close) = rest.find(')')
        {
            rest = &rest[close + 1..];
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `: doc` for a list item, or nothing.
fn description(doc: &str) -> String {
    let doc = joined(doc);
    if doc.is_empty() {
        doc
    } else {
        format!(": {doc}")
    }
}

/// The first sentence of a doc comment (up to the first `. ` or the end).
fn first_sentence(doc: &str) -> &str {
    let doc = doc.trim();
    doc.find(". ").map_or(doc, |end| &doc[..=end])
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
