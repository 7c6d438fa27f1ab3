//! `#[telemetry(distribution)]`: how often each label occurs, never in which order
//! or alongside what.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::Label;

/// A collection of labels that `#[telemetry(distribution)]` sends as
/// `{label: count}`, sorted by label.
///
/// Sequences and sets count each element once; maps from a label to an
/// unsigned count (`HashMap<String, u64>`) are already distributions and add
/// their counts.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(distribution)] cannot count labels in `{Self}`",
    label = "#[telemetry(distribution)] needs a collection of labels (text or unit-only enums), or a map from label to count",
    note = "for example `Vec<String>`, `&[Language]` or `HashMap<String, u64>`"
)]
pub trait LabelCounts {
    /// Whether there is no collection at all (`Option::None`), sent as `null`.
    fn is_absent(&self) -> bool {
        false
    }

    /// Calls `add` with every label and how many times it occurs.
    fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64));
}

/// An unsigned count: the value type of a map that is already a distribution.
pub trait LabelWeight {
    /// The count as `u64`.
    fn weight(&self) -> u64;
}

macro_rules! weight {
    ($($ty:ty),*) => {$(
        impl LabelWeight for $ty {
            #[inline]
            fn weight(&self) -> u64 {
                u64::try_from(*self).unwrap_or(u64::MAX)
            }
        }
    )*};
}

weight!(u8, u16, u32, u64, usize);

macro_rules! labels {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<$($generics)*> LabelCounts for $ty {
            fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
                for label in self.iter() {
                    add(label.label(), 1);
                }
            }
        }
    )*};
}

labels!(
    [T] => [T: Label],
    [T; N] => [T: Label, const N: usize],
    Vec<T> => [T: Label],
    VecDeque<T> => [T: Label],
    BTreeSet<T> => [T: Label],
    HashSet<T, H> => [T: Label, H],
);

impl<K: Label, V: LabelWeight> LabelCounts for BTreeMap<K, V> {
    fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
        for (label, weight) in self {
            add(label.label(), weight.weight());
        }
    }
}

impl<K: Label, V: LabelWeight, H> LabelCounts for HashMap<K, V, H> {
    fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
        for (label, weight) in self {
            add(label.label(), weight.weight());
        }
    }
}

impl<T: LabelCounts> LabelCounts for Option<T> {
    fn is_absent(&self) -> bool {
        self.as_ref().is_none_or(LabelCounts::is_absent)
    }

    fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
        if let Some(labels) = self {
            labels.for_each_label(add);
        }
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: LabelCounts + ?Sized> LabelCounts for $ty<T> {
            fn is_absent(&self) -> bool {
                T::is_absent(self)
            }
            fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
                T::for_each_label(self, add);
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: LabelCounts + ?Sized> LabelCounts for &T {
    fn is_absent(&self) -> bool {
        T::is_absent(self)
    }
    fn for_each_label<'a>(&'a self, add: &mut dyn FnMut(&'a str, u64)) {
        T::for_each_label(self, add);
    }
}

/// Counts the labels of `value`, sorted by label.
pub(crate) fn tally<T: LabelCounts + ?Sized>(value: &T) -> BTreeMap<&str, u64> {
    let mut counts = BTreeMap::new();
    value.for_each_label(&mut |label, weight| {
        let count: &mut u64 = counts.entry(label).or_default();
        *count = count.saturating_add(weight);
    });
    counts
}

/// A field as `#[telemetry(distribution)]` sends it.
pub(crate) struct Distribution<'a, T: ?Sized>(pub(crate) &'a T);

impl<T: LabelCounts + ?Sized> Serialize for Distribution<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_absent() {
            return serializer.serialize_none();
        }
        let counts = tally(self.0);
        let mut map = serializer.serialize_map(Some(counts.len()))?;
        for (label, count) in &counts {
            map.serialize_entry(label, count)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_label_sorted() {
        let languages = vec!["rust", "python", "rust", "go", "python", "python"];
        let counts = tally(&languages);
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [("go", 1), ("python", 3), ("rust", 2)]
        );
    }

    #[test]
    fn empty_collection_is_an_empty_object_and_none_is_null() {
        let json = serde_json::to_string(&Distribution(&Vec::<String>::new())).unwrap();
        assert_eq!(json, "{}");
        let json = serde_json::to_string(&Distribution(&None::<Vec<String>>)).unwrap();
        assert_eq!(json, "null");
    }

    #[test]
    fn maps_from_label_to_count_are_distributions_already() {
        let counts = HashMap::from([("rust".to_string(), 4u64), ("go".to_string(), 1)]);
        assert_eq!(
            serde_json::to_string(&Distribution(&counts)).unwrap(),
            r#"{"go":1,"rust":4}"#
        );
    }

    #[test]
    fn unicode_labels_are_kept_whole() {
        let json = serde_json::to_string(&Distribution(&["日本語", "日本語"])).unwrap();
        assert_eq!(json, r#"{"日本語":2}"#);
    }
}
