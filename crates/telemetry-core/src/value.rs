//! Safe by type: what may pass through without a conversion.
//!
//! A field without a `#[telemetry(...)]` attribute is sent as is, so it
//! compiles only when its type implements [`TelemetryValue`]. This crate
//! implements it for numbers, `bool`, `char`, text, `Option`, sequences, sets
//! and maps with text or label keys, and the derives add it for structs
//! (`TelemetrySafe`, filtered by their own rules) and unit-only enums
//! (`TelemetryValue`, sent as a label).
//!
//! It is deliberately **not** implemented for `Path`, `PathBuf`, `OsStr`,
//! `OsString`, `IpAddr`, `Ipv4Addr`, `Ipv6Addr`, `SocketAddr` and friends:
//! they may identify a person or a machine, and must say how they are
//! anonymised (`hash`, `boolean`, `forbidden`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::rc::Rc;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::Anonymizer;
use crate::schema::Shape;

/// A type whose values may be sent as they are.
///
/// Implement it by deriving: `#[derive(TelemetrySafe)]` for structs (nested
/// values are filtered by their own field rules) or `#[derive(TelemetryValue)]`
/// for unit-only enums (sent as a label). Implementing it by hand for a type
/// that holds personal data defeats the filter; don't.
#[diagnostic::on_unimplemented(
    message = "`{Self}` may identify a person or a machine and cannot be sent raw",
    label = "`{Self}` is not declared safe to send as telemetry",
    note = "add #[telemetry(hash)], #[telemetry(boolean)] or #[telemetry(forbidden)] to the field (or `count`, `text_count`, `distribution`, `aggregate`)",
    note = "a type of your own becomes safe by deriving `TelemetrySafe` (a struct) or `TelemetryValue` (a unit-only enum)"
)]
pub trait TelemetryValue {
    /// What the value looks like in the payload, for the data dictionary.
    const SHAPE: Shape = Shape::Scalar;

    /// Writes the value, filtered, into `serializer`.
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error>;
}

/// A value that serves as a label: a key of a map, or an element counted by
/// `#[telemetry(distribution)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a telemetry label",
    label = "expected text or a unit-only enum deriving `TelemetryValue`",
    note = "labels are map keys and the elements counted by #[telemetry(distribution)]"
)]
pub trait Label {
    /// The label text.
    fn label(&self) -> &str;
}

/// Serializes a [`TelemetryValue`] with its anonymizer: the adapter from this
/// crate's traits to `serde::Serialize`.
pub(crate) struct Filtered<'a, T: ?Sized> {
    pub(crate) value: &'a T,
    pub(crate) anonymizer: &'a Anonymizer,
}

impl<T: TelemetryValue + ?Sized> Serialize for Filtered<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize_value(self.anonymizer, serializer)
    }
}

macro_rules! plain {
    ($($ty:ty),* $(,)?) => {$(
        impl TelemetryValue for $ty {
            #[inline]
            fn serialize_value<S: Serializer>(&self, _: &Anonymizer, serializer: S) -> Result<S::Ok, S::Error> {
                Serialize::serialize(self, serializer)
            }
        }
    )*};
}

plain!(
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    str,
    String,
    ()
);

impl TelemetryValue for Cow<'_, str> {
    #[inline]
    fn serialize_value<S: Serializer>(
        &self,
        _: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self)
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: TelemetryValue + ?Sized> TelemetryValue for $ty<T> {
            const SHAPE: Shape = T::SHAPE;
            #[inline]
            fn serialize_value<S: Serializer>(&self, anonymizer: &Anonymizer, serializer: S) -> Result<S::Ok, S::Error> {
                T::serialize_value(self, anonymizer, serializer)
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: TelemetryValue + ?Sized> TelemetryValue for &T {
    const SHAPE: Shape = T::SHAPE;
    #[inline]
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        T::serialize_value(self, anonymizer, serializer)
    }
}

impl<T: TelemetryValue> TelemetryValue for Option<T> {
    const SHAPE: Shape = T::SHAPE;
    #[inline]
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match self {
            Some(value) => serializer.serialize_some(&Filtered { value, anonymizer }),
            None => serializer.serialize_none(),
        }
    }
}

fn serialize_seq<'a, T, S, I>(
    items: I,
    anonymizer: &Anonymizer,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    T: TelemetryValue + 'a,
    S: Serializer,
    I: ExactSizeIterator<Item = &'a T>,
{
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for value in items {
        seq.serialize_element(&Filtered { value, anonymizer })?;
    }
    seq.end()
}

macro_rules! sequence {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<$($generics)*> TelemetryValue for $ty {
            const SHAPE: Shape = T::SHAPE;
            fn serialize_value<S: Serializer>(&self, anonymizer: &Anonymizer, serializer: S) -> Result<S::Ok, S::Error> {
                serialize_seq(self.iter(), anonymizer, serializer)
            }
        }
    )*};
}

sequence!(
    [T] => [T: TelemetryValue],
    [T; N] => [T: TelemetryValue, const N: usize],
    Vec<T> => [T: TelemetryValue],
    VecDeque<T> => [T: TelemetryValue],
    BTreeSet<T> => [T: TelemetryValue],
);

/// Hash sets are sent sorted, so that equal sets give equal payloads.
impl<T: TelemetryValue + Ord, H: BuildHasher> TelemetryValue for HashSet<T, H> {
    const SHAPE: Shape = T::SHAPE;
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut sorted: Vec<&T> = self.iter().collect();
        sorted.sort_unstable();
        serialize_seq(sorted.into_iter(), anonymizer, serializer)
    }
}

fn serialize_entries<'a, K, V, S, I>(
    entries: I,
    anonymizer: &Anonymizer,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    K: Label + ?Sized + 'a,
    V: TelemetryValue + 'a,
    S: Serializer,
    I: ExactSizeIterator<Item = (&'a K, &'a V)>,
{
    let mut map = serializer.serialize_map(Some(entries.len()))?;
    for (key, value) in entries {
        map.serialize_entry(key.label(), &Filtered { value, anonymizer })?;
    }
    map.end()
}

impl<K: Label, V: TelemetryValue> TelemetryValue for BTreeMap<K, V> {
    const SHAPE: Shape = V::SHAPE;
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serialize_entries(self.iter(), anonymizer, serializer)
    }
}

/// Hash maps are sent sorted by key, so that equal maps give equal payloads.
impl<K: Label, V: TelemetryValue, H: BuildHasher> TelemetryValue for HashMap<K, V, H> {
    const SHAPE: Shape = V::SHAPE;
    fn serialize_value<S: Serializer>(
        &self,
        anonymizer: &Anonymizer,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut sorted: Vec<(&K, &V)> = self.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.label().cmp(b.0.label()));
        serialize_entries(sorted.into_iter(), anonymizer, serializer)
    }
}

impl Label for str {
    fn label(&self) -> &str {
        self
    }
}

impl Label for String {
    fn label(&self) -> &str {
        self
    }
}

impl Label for Cow<'_, str> {
    fn label(&self) -> &str {
        self
    }
}

impl<T: Label + ?Sized> Label for &T {
    fn label(&self) -> &str {
        T::label(self)
    }
}

impl<T: Label + ?Sized> Label for Box<T> {
    fn label(&self) -> &str {
        T::label(self)
    }
}

impl<T: Label + ?Sized> Label for Arc<T> {
    fn label(&self) -> &str {
        T::label(self)
    }
}

impl<T: Label + ?Sized> Label for Rc<T> {
    fn label(&self) -> &str {
        T::label(self)
    }
}
