//! `#[telemetry(count)]` and `#[telemetry(text_count)]`: how many, never which.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

/// A collection whose length `#[telemetry(count)]` sends.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(count)] cannot count the elements of `{Self}`",
    label = "#[telemetry(count)] needs a collection: a Vec, slice, array, set or map, or an `Option` of one",
    note = "for the characters of a text, use #[telemetry(text_count)]; for a `bool`, no attribute or #[telemetry(boolean)]"
)]
pub trait Countable {
    /// The number of elements, or `None` when there is no collection
    /// (`Option::None`), sent as `null`.
    fn element_count(&self) -> Option<usize>;
}

macro_rules! collection {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<$($generics)*> Countable for $ty {
            #[inline]
            fn element_count(&self) -> Option<usize> {
                Some(self.len())
            }
        }
    )*};
}

collection!(
    [T] => [T],
    [T; N] => [T, const N: usize],
    Vec<T> => [T],
    VecDeque<T> => [T],
    BTreeSet<T> => [T],
    HashSet<T, H> => [T, H],
    BTreeMap<K, V> => [K, V],
    HashMap<K, V, H> => [K, V, H],
);

impl<T: Countable> Countable for Option<T> {
    #[inline]
    fn element_count(&self) -> Option<usize> {
        self.as_ref()?.element_count()
    }
}

/// A text whose length in characters `#[telemetry(text_count)]` sends.
///
/// Characters are Unicode scalar values (`str::chars`), not bytes and not
/// grapheme clusters: `"héllo"` counts 5, `"🦀"` counts 1.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(text_count)] cannot count the characters of `{Self}`",
    label = "#[telemetry(text_count)] needs text: `str`, `String`, `Cow<str>`, or an `Option` of one",
    note = "for the elements of a collection, use #[telemetry(count)]"
)]
pub trait TextLength {
    /// The number of characters, or `None` when there is no text
    /// (`Option::None`), sent as `null`.
    fn char_count(&self) -> Option<usize>;
}

macro_rules! text {
    ($($ty:ty),*) => {$(
        impl TextLength for $ty {
            #[inline]
            fn char_count(&self) -> Option<usize> {
                Some(self.chars().count())
            }
        }
    )*};
}

text!(str, String, Cow<'_, str>);

impl<T: TextLength> TextLength for Option<T> {
    #[inline]
    fn char_count(&self) -> Option<usize> {
        self.as_ref()?.char_count()
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: Countable + ?Sized> Countable for $ty<T> {
            #[inline]
            fn element_count(&self) -> Option<usize> {
                T::element_count(self)
            }
        }
        impl<T: TextLength + ?Sized> TextLength for $ty<T> {
            #[inline]
            fn char_count(&self) -> Option<usize> {
                T::char_count(self)
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: Countable + ?Sized> Countable for &T {
    #[inline]
    fn element_count(&self) -> Option<usize> {
        T::element_count(self)
    }
}

impl<T: TextLength + ?Sized> TextLength for &T {
    #[inline]
    fn char_count(&self) -> Option<usize> {
        T::char_count(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn counts_elements_not_contents() {
        assert_eq!(Vec::<PathBuf>::new().element_count(), Some(0));
        assert_eq!(
            vec![PathBuf::from("/a"), PathBuf::from("/b")].element_count(),
            Some(2)
        );
        assert_eq!([1, 2, 3].element_count(), Some(3));
        assert_eq!(HashMap::from([("a", 1)]).element_count(), Some(1));
        assert_eq!(None::<Vec<u8>>.element_count(), None);
        assert_eq!(Some(vec![1u8]).element_count(), Some(1));
    }

    #[test]
    fn text_counts_characters_not_bytes() {
        assert_eq!("".char_count(), Some(0));
        assert_eq!("héllo".char_count(), Some(5));
        assert_eq!("🦀🦀".char_count(), Some(2));
        assert_eq!("日本語".char_count(), Some(3));
        assert_eq!(None::<String>.char_count(), None);
        assert_eq!(Some(String::from("abc")).char_count(), Some(3));
    }
}
