//! What to show a user before they opt in: every field an event sends and
//! what it holds, taken from the event's [`Schema`], so that the prompt
//! cannot drift from the payload.

use std::fmt;

use crate::schema::{Conversion, FieldSchema, Schema, Shape};

/// One field a user is told about: its key as sent, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentField {
    /// The key as sent (`model_name`; `timing.p95_response_ms` for a field
    /// of a nested object).
    pub key: String,
    /// What it holds, in words: the field's doc comment, the values it
    /// may take, and how it is anonymised.
    pub description: String,
}

/// The text an application shows before a user enables a kind of
/// telemetry: what is sent, field by field, and what never is.
///
/// `Display` writes it as plain text; [`fields`](Self::fields) gives the
/// fields for a dialog of the application's own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentPrompt {
    /// The question, one line (`Share the embedding models you register?`).
    pub title: String,
    /// When the fields are sent.
    pub intro: String,
    /// Every field sent, in the order sent: the event's own, then the
    /// identifiers every event carries.
    pub fields: Vec<ConsentField>,
    /// What is never sent, and what the user can do afterwards.
    pub closing: String,
}

impl ConsentPrompt {
    /// The fields sent, in the order sent.
    #[must_use]
    pub fn fields(&self) -> &[ConsentField] {
        &self.fields
    }
}

impl fmt::Display for ConsentPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}\n\n{}\n", self.title, self.intro)?;
        for field in &self.fields {
            writeln!(f, "  {}: {}", field.key, field.description)?;
        }
        write!(f, "\n{}", self.closing)
    }
}

/// Every field of `schema` that is sent, nested objects' fields keyed
/// `parent.child` after their parent, each described from its doc comment,
/// its labels and its conversion.
pub(crate) fn schema_fields(schema: &'static Schema) -> Vec<ConsentField> {
    let mut fields = Vec::new();
    collect(schema, "", &mut fields);
    fields
}

fn collect(schema: &'static Schema, prefix: &str, out: &mut Vec<ConsentField>) {
    for field in schema.collected_fields() {
        let key = format!("{prefix}{}", field.key);
        out.push(ConsentField {
            key: key.clone(),
            description: describe(field),
        });
        if let (Conversion::PassThrough, Shape::Object(nested)) = (field.conversion, field.shape) {
            collect(nested, &format!("{key}."), out);
        }
    }
}

fn describe(field: &FieldSchema) -> String {
    let mut about: String = field
        .doc
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if let Shape::Label(labels) = field.shape {
        about.push_str(" Values: ");
        about.push_str(&labels.join(", "));
        about.push('.');
    }
    let how = match field.conversion {
        Conversion::PassThrough | Conversion::Forbidden => None,
        Conversion::Hash(_) => Some("Only a keyed hash is sent, never the value itself."),
        Conversion::Boolean => Some("Only whether it is present is sent."),
        Conversion::Count => Some("Only how many there are is sent."),
        Conversion::TextCount => Some("Only its length is sent, never the text."),
        Conversion::Distribution => Some("Only a count per label is sent."),
        Conversion::Aggregate(_) => Some("Only one number summing them up is sent."),
    };
    if let Some(how) = how {
        about.push(' ');
        about.push_str(how);
    }
    about.trim().to_owned()
}
