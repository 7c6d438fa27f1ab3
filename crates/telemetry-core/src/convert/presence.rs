//! `#[telemetry(boolean)]`: whether a value is there, never what it is.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// A value whose presence `#[telemetry(boolean)]` sends: `Option::is_some`,
/// non-empty text, paths and collections, or the `bool` itself.
#[diagnostic::on_unimplemented(
    message = "#[telemetry(boolean)] cannot tell whether `{Self}` is present",
    label = "#[telemetry(boolean)] needs a `bool`, an `Option`, text, a path or a collection",
    note = "`Option` counts as present when it is `Some`; text, paths and collections when they are not empty"
)]
pub trait Presence {
    /// Whether the value counts as present.
    fn is_present(&self) -> bool;
}

impl Presence for bool {
    #[inline]
    fn is_present(&self) -> bool {
        *self
    }
}

impl<T> Presence for Option<T> {
    #[inline]
    fn is_present(&self) -> bool {
        self.is_some()
    }
}

macro_rules! non_empty {
    ($($ty:ty => [$($generics:tt)*]),* $(,)?) => {$(
        impl<$($generics)*> Presence for $ty {
            #[inline]
            fn is_present(&self) -> bool {
                !self.is_empty()
            }
        }
    )*};
}

non_empty!(
    str => [],
    String => [],
    Cow<'_, str> => [],
    OsStr => [],
    OsString => [],
    [T] => [T],
    [T; N] => [T, const N: usize],
    Vec<T> => [T],
    VecDeque<T> => [T],
    BTreeSet<T> => [T],
    HashSet<T, H> => [T, H],
    BTreeMap<K, V> => [K, V],
    HashMap<K, V, H> => [K, V, H],
);

impl Presence for Path {
    #[inline]
    fn is_present(&self) -> bool {
        !self.as_os_str().is_empty()
    }
}

impl Presence for PathBuf {
    #[inline]
    fn is_present(&self) -> bool {
        !self.as_os_str().is_empty()
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: Presence + ?Sized> Presence for $ty<T> {
            #[inline]
            fn is_present(&self) -> bool {
                T::is_present(self)
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: Presence + ?Sized> Presence for &T {
    #[inline]
    fn is_present(&self) -> bool {
        T::is_present(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_is_present_when_some_even_if_empty_inside() {
        assert!(Some(PathBuf::new()).is_present());
        assert!(!None::<PathBuf>.is_present());
    }

    #[test]
    fn text_paths_and_collections_are_present_when_not_empty() {
        assert!(!"".is_present());
        assert!("x".is_present());
        assert!(!PathBuf::new().is_present());
        assert!(Path::new("/").is_present());
        assert!(!Vec::<u8>::new().is_present());
        assert!(vec![0u8].is_present());
        assert!(!HashMap::<String, u8>::new().is_present());
        assert!(!OsString::new().is_present());
    }

    #[test]
    fn bool_is_itself() {
        assert!(true.is_present());
        assert!(!false.is_present());
        assert!((&&true).is_present());
    }
}
