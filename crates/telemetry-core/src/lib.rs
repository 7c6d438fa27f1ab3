//! Privacy-first product telemetry for Rust.
//!
//! Declare an event as a plain struct and say, per field, how its value is
//! anonymised. The derive writes a serializer that sends only the filtered
//! values, and the compiler refuses raw values that may identify a person or a
//! machine (paths, OS strings, IP addresses).
//!
//! ```
//! use std::path::PathBuf;
//! use telemetry_core::{Anonymizer, HashKey, TelemetrySafe};
//!
//! /// Aggregated statistics for one session.
//! #[derive(TelemetrySafe)]
//! #[telemetry(event = "session_summary")]
//! struct Session {
//!     /// Searches performed.
//!     total_searches: u64,
//!     /// The repository searched, as a keyed hash.
//!     #[telemetry(hash)]
//!     repository: PathBuf,
//!     /// Whether a custom configuration file was used.
//!     #[telemetry(boolean)]
//!     custom_config: Option<PathBuf>,
//!     /// How many files were open.
//!     #[telemetry(count)]
//!     open_files: Vec<PathBuf>,
//!     /// Length of the query in characters.
//!     #[telemetry(text_count)]
//!     query: String,
//!     /// Searches per language.
//!     #[telemetry(distribution)]
//!     languages: Vec<String>,
//!     /// Tokens returned, summed over all searches.
//!     #[telemetry(aggregate)]
//!     tokens_per_search: Vec<u64>,
//!     /// Never sent.
//!     #[telemetry(forbidden)]
//!     api_key: String,
//! }
//!
//! let session = Session {
//!     total_searches: 8,
//!     repository: PathBuf::from("/home/ana/secret-project"),
//!     custom_config: None,
//!     open_files: vec![PathBuf::from("/home/ana/secret-project/src/main.rs")],
//!     query: String::from("fn parse_invoice"),
//!     languages: vec!["rust".into(), "python".into(), "rust".into()],
//!     tokens_per_search: vec![120, 80, 200],
//!     api_key: String::from("sk-live-123"),
//! };
//!
//! let anonymizer = Anonymizer::new(&HashKey::from_bytes([7; 32]));
//! let json = serde_json::to_string(&session.telemetry_view(&anonymizer)).unwrap();
//! assert!(json.starts_with(r#"{"total_searches":8,"repository":""#));
//! assert!(json.ends_with(
//!     r#","custom_config":false,"open_files":1,"query":16,"languages":{"python":1,"rust":2},"tokens_per_search":400}"#
//! ));
//! assert!(!json.contains("ana") && !json.contains("invoice") && !json.contains("sk-live"));
//! ```
//!
//! See [`convert`] for what each attribute accepts and sends, [`schema`] for
//! the metadata every derived type carries, [`TelemetryValue`] for what may
//! pass through without an attribute, [`guard`] for the fail-closed check
//! of every payload for values that look personal or secret, and
//! [`catalogue`] and [`baseline`] for the events this toolkit defines and the
//! comparator behind them, and [`sampling`] for deterministic, consistent
//! probability sampling by id (OpenTelemetry's `th` thresholds). With the
//! `registry` feature, `registry` lists every type that derives
//! `TelemetrySafe`.
//!
//! This crate only defines events. Recording and sending them (consent,
//! identity, the durable queue, the background threads) is
//! `telemetry-runtime`, which re-exports everything here; reviewing them
//! (payload snapshots, the PII audit, the data dictionary) is
//! `telemetry-audit`, a dev-dependency.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The derive names this crate by its absolute path; this lets the crate use
// its own derive.
extern crate self as telemetry_core;

mod aggregator;
mod anonymizer;
pub mod baseline;
pub mod catalogue;
pub mod convert;
pub mod guard;
pub mod names;
mod pricing;
#[cfg(feature = "registry")]
pub mod registry;
pub mod sampling;
pub mod schema;
pub mod sketch;
mod timestamp;
mod validate;
mod value;

use serde::{Serialize, Serializer};

pub use aggregator::{MAX_LABELS, OTHER_LABEL, SearchRecord, SessionAggregator};
pub use anonymizer::{
    Anonymizer, HashDigest, HashKey, HashScope, KeyGenerationError, MissingAppKey,
};
pub use catalogue::{ModelRegistration, PerformanceBenchmark, SemanticValidation, SessionSummary};
pub use names::EventPrefix;
pub use pricing::CostModel;
pub use schema::Schema;
pub use timestamp::Timestamp;
pub use validate::InvalidEvent;
pub use value::{Label, TelemetryValue};

/// Derives [`TelemetrySafe`] (and [`TelemetryValue`], so the struct nests in
/// other events) for a struct with named fields.
///
/// Container attributes: `#[telemetry(event = "name")]` makes the struct an
/// event ([`TelemetryEvent`]); without it the struct can only be nested.
/// `#[telemetry(crate = "path")]` names this crate when it is re-exported.
///
/// Field attributes, at most one conversion per field:
///
/// | attribute | sends |
/// | --- | --- |
/// | none | the value itself; its type must implement [`TelemetryValue`] |
/// | `hash`, `hash(scope = "app")` | keyed HMAC-SHA256, 128 bits in hex |
/// | `boolean` | whether the value is present |
/// | `count` | the number of elements |
/// | `text_count` | the number of characters |
/// | `distribution` | `{label: count}` |
/// | `aggregate`, `aggregate = "sum" \| "mean" \| "min" \| "max"` | one number |
/// | `forbidden` | nothing: the key is absent |
///
/// `#[telemetry(rename = "key")]` changes the payload key and combines with
/// any conversion.
pub use telemetry_derive::TelemetrySafe;

/// Derives [`TelemetryValue`] and [`Label`] for a unit-only enum, sent as a
/// label.
///
/// Labels are the variant names as written, like serde's; change them with
/// `#[telemetry(rename_all = "snake_case")]` on the enum (also `lowercase`,
/// `UPPERCASE`, `camelCase`, `PascalCase`, `SCREAMING_SNAKE_CASE`,
/// `kebab-case`) or `#[telemetry(rename = "label")]` on a variant.
///
/// ```
/// use telemetry_core::TelemetryValue;
///
/// #[derive(TelemetryValue)]
/// #[telemetry(rename_all = "snake_case")]
/// enum Period { Daily, Weekly, #[telemetry(rename = "per_month")] Monthly }
/// ```
pub use telemetry_derive::TelemetryValue;

/// A struct that can be sent as telemetry: it knows its [`Schema`] and writes
/// itself filtered, field by field, into any serde serializer.
///
/// Derive it; see [`derive@TelemetrySafe`].
pub trait TelemetrySafe {
    /// What the derive recorded: event name, fields, conversions, docs.
    const SCHEMA: &'static Schema;

    /// Writes the filtered object into `serializer`, without building an
    /// intermediate value. Fails only when a field hashed with
    /// `scope = "app"` meets an anonymizer without an app-wide key.
    fn serialize_filtered<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error>;

    /// A [`serde::Serialize`] view of the filtered object, for any serde
    /// format: `serde_json::to_writer(&mut buf, &event.telemetry_view(&anonymizer))`.
    fn telemetry_view<'a>(&'a self, anonymizer: &'a Anonymizer) -> TelemetryView<'a, Self> {
        TelemetryView {
            value: self,
            anonymizer,
        }
    }

    /// The filtered object as a JSON map: convenient, but slower than
    /// [`telemetry_view`](Self::telemetry_view), which streams.
    fn serialize_for_telemetry(
        &self,
        anonymizer: &Anonymizer,
    ) -> Result<serde_json::Map<String, serde_json::Value>, serde_json::Error> {
        match serde_json::to_value(self.telemetry_view(anonymizer))? {
            serde_json::Value::Object(map) => Ok(map),
            _ => unreachable!("a derived TelemetrySafe type always serializes as an object"),
        }
    }
}

/// A [`TelemetrySafe`] struct that is an event in its own right, named with
/// `#[telemetry(event = "name")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a telemetry event",
    label = "`{Self}` has no event name",
    note = "name the event with #[telemetry(event = \"name\")] beside #[derive(TelemetrySafe)]"
)]
pub trait TelemetryEvent: TelemetrySafe {
    /// The event name, as given to `#[telemetry(event = "...")]`.
    const EVENT: &'static str;
}

/// The filtered view of a [`TelemetrySafe`] value; see
/// [`TelemetrySafe::telemetry_view`].
pub struct TelemetryView<'a, T: ?Sized> {
    value: &'a T,
    anonymizer: &'a Anonymizer,
}

impl<T: TelemetrySafe + ?Sized> Serialize for TelemetryView<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize_filtered(self.anonymizer, serializer)
    }
}

impl<T: ?Sized> Clone for TelemetryView<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for TelemetryView<'_, T> {}

/// Registers a derived type's schema with [`registry`] when the `registry`
/// feature is on. The derive calls it for every non-generic struct; the
/// definition is chosen by this crate's features, so the calling crate needs
/// no feature of its own.
#[cfg(feature = "registry")]
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    ($ty:ty) => {
        $crate::__private::inventory::submit! {
            $crate::registry::Registered::new(
                <$ty as $crate::TelemetrySafe>::SCHEMA,
                ::core::module_path!(),
            )
        }
    };
}

/// Without the `registry` feature, registering is nothing at all.
#[cfg(not(feature = "registry"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    ($ty:ty) => {};
}

/// What the derives expand to. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use serde;

    #[cfg(feature = "registry")]
    pub use inventory;

    pub use crate::__register as register;
    pub use crate::schema::{Aggregate, Conversion, FieldSchema, Schema, Shape};

    use serde::ser::SerializeStruct;

    use crate::convert::{
        Aggregated, Countable, Distribution, HashInput, Hashed, LabelCounts, Numbers, Presence,
        TextLength,
    };
    use crate::value::Filtered;
    use crate::{Anonymizer, HashScope, TelemetryValue};

    /// The shape of a pass-through field, and the one place its
    /// `TelemetryValue` bound is checked, so that a missing impl is reported
    /// once, under the field's type.
    #[inline]
    #[must_use]
    pub const fn shape<T: TelemetryValue + ?Sized>() -> Shape {
        T::SHAPE
    }

    // Each writer takes the struct state and returns a plain `Result`, not an
    // `impl Serialize`: an opaque return type repeats the bound check at the
    // caller, which the user would see as a second error on `#[derive]`.

    #[inline]
    pub fn pass<M: SerializeStruct, T: TelemetryValue + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
        anonymizer: &Anonymizer,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &Filtered { value, anonymizer })
    }

    #[inline]
    pub fn hash<M: SerializeStruct, T: HashInput + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
        anonymizer: &Anonymizer,
        scope: HashScope,
    ) -> Result<(), M::Error> {
        state.serialize_field(
            key,
            &Hashed {
                value,
                anonymizer,
                scope,
                field: key,
            },
        )
    }

    #[inline]
    pub fn boolean<M: SerializeStruct, T: Presence + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &value.is_present())
    }

    #[inline]
    pub fn count<M: SerializeStruct, T: Countable + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &value.element_count())
    }

    #[inline]
    pub fn text_count<M: SerializeStruct, T: TextLength + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &value.char_count())
    }

    #[inline]
    pub fn distribution<M: SerializeStruct, T: LabelCounts + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &Distribution(value))
    }

    #[inline]
    pub fn aggregate<M: SerializeStruct, T: Numbers + ?Sized>(
        state: &mut M,
        key: &'static str,
        value: &T,
        aggregate: Aggregate,
    ) -> Result<(), M::Error> {
        state.serialize_field(key, &Aggregated { value, aggregate })
    }

    #[inline]
    pub fn label<T: crate::Label + ?Sized>(value: &T) -> &str {
        value.label()
    }
}
