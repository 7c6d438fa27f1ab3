//! `#[telemetry(hash)]`: what can be hashed, and as which bytes.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use serde::{Serialize, Serializer, ser::Error as _};

use crate::{Anonymizer, HashScope};

/// A value that `#[telemetry(hash)]` can hash, through a fixed byte
/// representation:
///
/// - text: its UTF-8 bytes;
/// - paths and OS strings: their platform-encoded bytes
///   ([`OsStr::as_encoded_bytes`]), so non-UTF-8 paths hash too;
/// - integers: their decimal text, so `42u8` and `42u64` and `"42"` agree;
/// - IP and socket addresses: their canonical text (`::1`, `127.0.0.1:80`);
/// - `Option`: `None` gives `null` in the payload.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be hashed by #[telemetry(hash)]",
    label = "#[telemetry(hash)] needs text, a path, an OS string, an integer or an IP address",
    note = "an `Option` of those hashes to `null` when it is `None`"
)]
pub trait HashInput {
    /// Calls `hash` with the bytes that represent the value, or returns `None`
    /// when there is no value (`Option::None`).
    fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R>;
}

macro_rules! bytes_of {
    ($($ty:ty => |$v:ident| $bytes:expr),* $(,)?) => {$(
        impl HashInput for $ty {
            #[inline]
            fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
                let $v = self;
                Some(hash($bytes))
            }
        }
    )*};
}

bytes_of!(
    str => |v| v.as_bytes(),
    String => |v| v.as_bytes(),
    Cow<'_, str> => |v| v.as_bytes(),
    OsStr => |v| v.as_encoded_bytes(),
    OsString => |v| v.as_encoded_bytes(),
    Path => |v| v.as_os_str().as_encoded_bytes(),
    PathBuf => |v| v.as_os_str().as_encoded_bytes(),
    Cow<'_, Path> => |v| v.as_os_str().as_encoded_bytes(),
    char => |v| v.encode_utf8(&mut [0; 4]).as_bytes(),
);

macro_rules! decimal {
    ($($ty:ty),*) => {$(
        impl HashInput for $ty {
            #[inline]
            fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
                Some(hash(itoa::Buffer::new().format(*self).as_bytes()))
            }
        }
    )*};
}

decimal!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

/// Room for the longest address text: `[v6%scope]:port` is at most 62 bytes.
struct AddressText {
    buf: [u8; 64],
    len: usize,
}

impl fmt::Write for AddressText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

macro_rules! address {
    ($($ty:ty),*) => {$(
        impl HashInput for $ty {
            fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
                let mut text = AddressText { buf: [0; 64], len: 0 };
                // Cannot overflow: every address text fits in 64 bytes.
                let _ = write!(text, "{self}");
                Some(hash(&text.buf[..text.len]))
            }
        }
    )*};
}

address!(
    IpAddr,
    Ipv4Addr,
    Ipv6Addr,
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6
);

impl<T: HashInput> HashInput for Option<T> {
    #[inline]
    fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
        self.as_ref()?.with_hash_bytes(hash)
    }
}

macro_rules! forward {
    ($($ty:ident),*) => {$(
        impl<T: HashInput + ?Sized> HashInput for $ty<T> {
            #[inline]
            fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
                T::with_hash_bytes(self, hash)
            }
        }
    )*};
}

forward!(Box, Rc, Arc);

impl<T: HashInput + ?Sized> HashInput for &T {
    #[inline]
    fn with_hash_bytes<R>(&self, hash: impl FnOnce(&[u8]) -> R) -> Option<R> {
        T::with_hash_bytes(self, hash)
    }
}

/// A field as `#[telemetry(hash)]` sends it.
pub(crate) struct Hashed<'a, T: ?Sized> {
    pub(crate) value: &'a T,
    pub(crate) anonymizer: &'a Anonymizer,
    pub(crate) scope: HashScope,
    pub(crate) field: &'static str,
}

impl<T: HashInput + ?Sized> Serialize for Hashed<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self
            .value
            .with_hash_bytes(|bytes| self.anonymizer.hash(self.scope, bytes))
        {
            None => serializer.serialize_none(),
            Some(Ok(digest)) => digest.serialize(serializer),
            Some(Err(missing)) => Err(S::Error::custom(format_args!(
                "field `{}`: {missing}",
                self.field
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashKey;

    fn digest_of<T: HashInput + ?Sized>(value: &T) -> Option<String> {
        let anonymizer = Anonymizer::new(&HashKey::from_bytes([5; 32]));
        value.with_hash_bytes(|bytes| {
            anonymizer
                .hash(HashScope::Installation, bytes)
                .unwrap()
                .to_string()
        })
    }

    #[test]
    fn text_paths_and_os_strings_of_the_same_bytes_agree() {
        let text = digest_of("/home/ana/repo");
        assert_eq!(digest_of(&String::from("/home/ana/repo")), text);
        assert_eq!(digest_of(Path::new("/home/ana/repo")), text);
        assert_eq!(digest_of(&PathBuf::from("/home/ana/repo")), text);
        assert_eq!(digest_of(OsStr::new("/home/ana/repo")), text);
        assert_ne!(digest_of("/home/ana/repo2"), text);
    }

    #[test]
    fn integers_hash_as_decimal_text() {
        assert_eq!(digest_of(&42u8), digest_of("42"));
        assert_eq!(digest_of(&42u64), digest_of("42"));
        assert_eq!(digest_of(&-7i32), digest_of("-7"));
        assert_eq!(digest_of(&u128::MAX), digest_of(&u128::MAX.to_string()));
    }

    #[test]
    fn addresses_hash_as_canonical_text() {
        let v6: IpAddr = "0:0:0:0:0:0:0:1".parse().unwrap();
        assert_eq!(digest_of(&v6), digest_of("::1"));
        let socket: SocketAddr = "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535"
            .parse()
            .unwrap();
        assert_eq!(digest_of(&socket), digest_of(&socket.to_string()));
    }

    #[test]
    fn none_gives_no_digest() {
        assert_eq!(digest_of(&None::<PathBuf>), None);
        assert_eq!(digest_of(&Some("x")), digest_of("x"));
        assert_eq!(
            digest_of(&Box::new(String::from("x")) as &Box<String>),
            digest_of("x")
        );
    }

    #[test]
    fn empty_text_still_hashes() {
        assert_eq!(digest_of("").map(|hex| hex.len()), Some(32));
    }
}
