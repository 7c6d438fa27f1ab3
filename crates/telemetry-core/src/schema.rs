//! Static metadata that `#[derive(TelemetrySafe)]` records for every type.
//!
//! The data dictionary and the PII audit are generated from this, so it says,
//! for every field, everything a reviewer needs: the key in the payload, the
//! Rust type as written, how the value is anonymised, and the doc comment.

use std::fmt;

use crate::HashScope;

/// What `#[derive(TelemetrySafe)]` knows of one struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Schema {
    /// The Rust type name as written, generics included (`SessionSummary`).
    pub type_name: &'static str,
    /// The event name from `#[telemetry(event = "...")]`, or `None` for a
    /// struct that is only ever nested inside events.
    pub event: Option<&'static str>,
    /// The struct's doc comment, one line per `///` line, trimmed.
    pub doc: &'static str,
    /// Every field in declaration order, `forbidden` ones included.
    pub fields: &'static [FieldSchema],
}

impl Schema {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(
        type_name: &'static str,
        event: Option<&'static str>,
        doc: &'static str,
        fields: &'static [FieldSchema],
    ) -> Self {
        Self {
            type_name,
            event,
            doc,
            fields,
        }
    }

    /// The field whose payload key is `key`.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|field| field.key == key)
    }

    /// Fields that appear in the payload, in order (every field but the
    /// `forbidden` ones).
    pub fn collected_fields(&self) -> impl Iterator<Item = &'static FieldSchema> + use<> {
        self.fields
            .iter()
            .filter(|field| field.conversion != Conversion::Forbidden)
    }
}

/// What `#[derive(TelemetrySafe)]` knows of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldSchema {
    /// The key in the payload: the field name, or its `rename`.
    pub key: &'static str,
    /// The field name in Rust.
    pub ident: &'static str,
    /// The field's type as written in the source (`Option<PathBuf>`).
    pub rust_type: &'static str,
    /// How the value is anonymised.
    pub conversion: Conversion,
    /// The field's doc comment, trimmed; empty when there is none.
    pub doc: &'static str,
    /// What a pass-through value looks like; `Shape::Scalar` for converted fields.
    pub shape: Shape,
}

impl FieldSchema {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(
        key: &'static str,
        ident: &'static str,
        rust_type: &'static str,
        conversion: Conversion,
        doc: &'static str,
        shape: Shape,
    ) -> Self {
        Self {
            key,
            ident,
            rust_type,
            conversion,
            doc,
            shape,
        }
    }
}

/// How one field's value is turned into what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    /// No attribute: the value is sent as is. Compiles only for types that
    /// implement [`TelemetryValue`](crate::TelemetryValue).
    PassThrough,
    /// `#[telemetry(forbidden)]`: never sent; the key is absent.
    Forbidden,
    /// `#[telemetry(boolean)]`: whether a value is present (`Some`, non-empty).
    Boolean,
    /// `#[telemetry(count)]`: the number of elements of a collection.
    Count,
    /// `#[telemetry(text_count)]`: the number of characters of a text.
    TextCount,
    /// `#[telemetry(hash)]`: a keyed HMAC-SHA256, 128 bits in hex.
    Hash(HashScope),
    /// `#[telemetry(distribution)]`: a collection of labels as `{label: count}`.
    Distribution,
    /// `#[telemetry(aggregate)]`: one number summarising a collection of numbers.
    Aggregate(Aggregate),
}

impl fmt::Display for Conversion {
    /// The attribute as a user writes it (`hash(scope = "app")`), or
    /// `pass-through` when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that width and alignment (`{:<28}`) apply.
        match self {
            Self::PassThrough => f.pad("pass-through"),
            Self::Forbidden => f.pad("forbidden"),
            Self::Boolean => f.pad("boolean"),
            Self::Count => f.pad("count"),
            Self::TextCount => f.pad("text_count"),
            Self::Hash(scope) => f.pad(&format!("hash(scope = \"{scope}\")")),
            Self::Distribution => f.pad("distribution"),
            Self::Aggregate(aggregate) => f.pad(&format!("aggregate = \"{}\"", aggregate.as_str())),
        }
    }
}

/// Which number `#[telemetry(aggregate)]` computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// The sum (the default).
    Sum,
    /// The arithmetic mean.
    Mean,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

impl Aggregate {
    /// The name used in attributes: `sum`, `mean`, `min`, `max`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Mean => "mean",
            Self::Min => "min",
            Self::Max => "max",
        }
    }
}

/// What a pass-through value looks like in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A JSON scalar or a collection of scalars.
    Scalar,
    /// An object filtered by the rules of another `TelemetrySafe` struct (or a
    /// collection or map of them).
    Object(&'static Schema),
    /// One of a fixed set of labels: a unit-only enum deriving `TelemetryValue`
    /// (or a collection of them).
    Label(&'static [&'static str]),
}
