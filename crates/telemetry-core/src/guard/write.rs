//! [`write_json`]: the JSON `serde_json::to_writer` writes, guarded as it
//! is written.
//!
//! A serde [`Serializer`](ser::Serializer) that writes compact JSON into a
//! `Vec<u8>` and runs the detectors on every string value and object key it
//! is handed, before it is escaped. Numbers and byte arrays are written by
//! `serde_json`'s own [`CompactFormatter`], strings that need escaping by
//! `serde_json`'s serializer, and the rest is the few punctuation bytes of
//! compact JSON, so the output is the bytes `serde_json` writes. What it
//! does not handle as `serde_json` would, it refuses, and the caller falls
//! back to `serde_json` and [`scan_json`](super::scan_json).

use std::fmt::{self, Write as _};

use serde::Serialize;
use serde::ser::{self, Impossible};
use serde_json::ser::{CompactFormatter, Formatter};

use super::detectors;

/// The deepest nesting written; deeper payloads are left to `serde_json` and
/// [`scan_json`](super::scan_json), which refuses what `serde_json` cannot
/// read back (past its recursion limit of 128).
const MAX_DEPTH: usize = 64;

/// Writes `value` at the end of `out` as `serde_json::to_writer` writes it,
/// running the detectors on every string value and every object key as it
/// goes: the check of [`scan_json`](super::scan_json) without parsing the
/// bytes again.
///
/// Returns `true` only when the whole value was written and every string
/// and key passed. The bytes written are then exactly those
/// `serde_json::to_writer` writes, [`scan_json`](super::scan_json) passes
/// them, and they hold no line break (strings escape theirs).
///
/// Returns `false`, with `out` as it was, when a detector fires, when
/// `value` fails to serialize, and for what it leaves to `serde_json`: map
/// keys that are not text, enum variants with data, `serde_json`'s raw
/// values and numbers (`RawValue`), and nesting deeper than 64 levels. A
/// `false` says nothing more: serialize with `serde_json` and scan with
/// [`scan_json`](super::scan_json) for the verdict and the [`Violation`](super::Violation).
///
/// ```
/// use serde_json::json;
/// use telemetry_core::guard::{scan_json, write_json};
///
/// let clean = json!({"model": "sentence-transformers/all-mpnet-base-v2", "hits": [1, 2.5]});
/// let mut out = b"head:".to_vec();
/// assert!(write_json(&mut out, &clean));
/// assert_eq!(out[5..], serde_json::to_vec(&clean).unwrap());
///
/// // A hit: nothing is written, and the scan of serde_json's bytes says where.
/// let leaky = json!({"n": 1, "path": "/home/ana/notes.md"});
/// let mut out = Vec::new();
/// assert!(!write_json(&mut out, &leaky));
/// assert!(out.is_empty());
/// let violation = scan_json(&serde_json::to_vec(&leaky).unwrap()).unwrap_err();
/// assert_eq!(violation.path, "[key 1]");
/// ```
pub fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> bool {
    let start = out.len();
    let written = value.serialize(&mut Writer { out, depth: 0 }).is_ok();
    if !written {
        out.truncate(start);
    }
    written
}

/// Why [`write_json`] stopped: a hit, an error of the value's own, or
/// something left to `serde_json`. Never shown.
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_json and the scan")
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self
    }
}

/// The serializer: the output, and how deep the value being written is.
struct Writer<'o> {
    out: &'o mut Vec<u8>,
    depth: usize,
}

impl Writer<'_> {
    /// Opens an array or an object.
    fn open(&mut self, bracket: u8) -> Result<(), Stop> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop);
        }
        self.out.push(bracket);
        Ok(())
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        self.out.push(bracket);
    }
}

/// Writes `text` as a JSON string, unless a detector fires on it.
#[inline]
fn string(out: &mut Vec<u8>, text: &str) -> Result<(), Stop> {
    let (found, escaped) = detectors::detect_json_string(text);
    if found.is_some() {
        return Err(Stop);
    }
    if escaped {
        // `serde_json`'s own escaping, for the rare string that needs it.
        return ser::Serializer::serialize_str(&mut serde_json::Serializer::new(&mut *out), text)
            .map_err(|_| Stop);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Writes `value`'s text as a JSON string, unless a detector fires on it,
/// without building the text elsewhere first.
fn display_string(out: &mut Vec<u8>, value: &(impl fmt::Display + ?Sized)) -> Result<(), Stop> {
    /// Appends text to the output.
    struct Append<'a>(&'a mut Vec<u8>);

    impl fmt::Write for Append<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }

    let start = out.len();
    out.push(b'"');
    // A `Display` that fails is an error of the value's own.
    write!(Append(out), "{value}").map_err(|_| Stop)?;
    let text = std::str::from_utf8(&out[start + 1..]).map_err(|_| Stop)?;
    let (found, escaped) = detectors::detect_json_string(text);
    if found.is_some() {
        return Err(Stop);
    }
    if escaped {
        let text = text.to_owned();
        out.truncate(start);
        return string(out, &text);
    }
    out.push(b'"');
    Ok(())
}

/// A number or a byte array, written by `serde_json`'s formatter.
fn format(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut CompactFormatter, &mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), Stop> {
    write(&mut CompactFormatter, out).map_err(|_| Stop)
}

/// The serializer methods of text, the same for values and keys: the
/// string, a `char`, a unit variant's name, what a newtype wraps, and a
/// `Display`'s text.
macro_rules! text {
    () => {
        fn serialize_str(self, v: &str) -> Result<(), Stop> {
            string(self.out, v)
        }

        fn serialize_char(self, v: char) -> Result<(), Stop> {
            string(self.out, v.encode_utf8(&mut [0; 4]))
        }

        fn serialize_unit_variant(
            self,
            _name: &'static str,
            _index: u32,
            variant: &'static str,
        ) -> Result<(), Stop> {
            string(self.out, variant)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            value: &T,
        ) -> Result<(), Stop> {
            value.serialize(self)
        }

        fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<(), Stop> {
            display_string(self.out, value)
        }
    };
}

/// Serializer methods that write a number with `serde_json`'s formatter.
macro_rules! numbers {
    ($($method:ident($ty:ty) => $write:ident),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<(), Stop> {
            format(self.out, |f, w| f.$write(w, v))
        }
    )*};
}

/// Serializer methods that leave the value to `serde_json`.
macro_rules! refused {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        fn $method(self, _: $ty) -> Result<(), Stop> {
            Err(Stop)
        }
    )*};
}

impl<'w, 'o> ser::Serializer for &'w mut Writer<'o> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Compound<'w, 'o>;
    type SerializeTuple = Compound<'w, 'o>;
    type SerializeTupleStruct = Compound<'w, 'o>;
    type SerializeTupleVariant = Impossible<(), Stop>;
    type SerializeMap = Compound<'w, 'o>;
    type SerializeStruct = Compound<'w, 'o>;
    type SerializeStructVariant = Impossible<(), Stop>;

    text!();

    fn serialize_bool(self, v: bool) -> Result<(), Stop> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    numbers! {
        serialize_i8(i8) => write_i8,
        serialize_i16(i16) => write_i16,
        serialize_i32(i32) => write_i32,
        serialize_i64(i64) => write_i64,
        serialize_i128(i128) => write_i128,
        serialize_u8(u8) => write_u8,
        serialize_u16(u16) => write_u16,
        serialize_u32(u32) => write_u32,
        serialize_u64(u64) => write_u64,
        serialize_u128(u128) => write_u128,
    }

    /// `null` when not finite, as `serde_json` writes it.
    fn serialize_f32(self, v: f32) -> Result<(), Stop> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        format(self.out, |f, w| f.write_f32(w, v))
    }

    /// `null` when not finite, as `serde_json` writes it.
    fn serialize_f64(self, v: f64) -> Result<(), Stop> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        format(self.out, |f, w| f.write_f64(w, v))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Stop> {
        format(self.out, |f, w| f.write_byte_array(w, v))
    }

    fn serialize_none(self) -> Result<(), Stop> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Stop> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Stop> {
        self.serialize_unit()
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Stop> {
        Err(Stop)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'o>, Stop> {
        Compound::open(self, b'[')
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'o>, Stop> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'o>, Stop> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'o>, Stop> {
        Compound::open(self, b'{')
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'w, 'o>, Stop> {
        // `serde_json`'s `RawValue` and arbitrary-precision numbers, which
        // it writes as raw JSON.
        if name.starts_with("$serde_json::") {
            return Err(Stop);
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop)
    }
}

/// An array or an object being written.
struct Compound<'w, 'o> {
    writer: &'w mut Writer<'o>,
    first: bool,
}

impl<'w, 'o> Compound<'w, 'o> {
    /// Opens an array or an object.
    fn open(writer: &'w mut Writer<'o>, bracket: u8) -> Result<Self, Stop> {
        writer.open(bracket)?;
        Ok(Self {
            writer,
            first: true,
        })
    }

    /// The comma before every element or member but the first.
    #[inline]
    fn separate(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.writer.out.push(b',');
        }
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.separate();
        value.serialize(&mut *self.writer)
    }

    #[inline]
    fn member<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Stop> {
        self.separate();
        string(self.writer.out, key)?;
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }
}

/// The impls of the serializers of arrays: sequences, tuples and tuple
/// structs, which JSON writes alike.
macro_rules! arrays {
    ($($serialize:ident :: $element:ident),* $(,)?) => {$(
        impl ser::$serialize for Compound<'_, '_> {
            type Ok = ();
            type Error = Stop;

            fn $element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
                self.element(value)
            }

            fn end(self) -> Result<(), Stop> {
                self.writer.close(b']');
                Ok(())
            }
        }
    )*};
}

arrays! {
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        self.separate();
        key.serialize(KeyWriter {
            out: self.writer.out,
        })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Stop> {
        self.writer.close(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Stop;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        self.member(key, value)
    }

    fn end(self) -> Result<(), Stop> {
        ser::SerializeMap::end(self)
    }
}

/// The serializer of a map key: text, as `serde_json` writes it; any other
/// key is left to `serde_json`.
struct KeyWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Impossible<(), Stop>;
    type SerializeTuple = Impossible<(), Stop>;
    type SerializeTupleStruct = Impossible<(), Stop>;
    type SerializeTupleVariant = Impossible<(), Stop>;
    type SerializeMap = Impossible<(), Stop>;
    type SerializeStruct = Impossible<(), Stop>;
    type SerializeStructVariant = Impossible<(), Stop>;

    text!();

    refused! {
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    }

    fn serialize_none(self) -> Result<(), Stop> {
        Err(Stop)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Stop> {
        Err(Stop)
    }

    fn serialize_unit(self) -> Result<(), Stop> {
        Err(Stop)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Stop> {
        Err(Stop)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
        Err(Stop)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
        Err(Stop)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Stop> {
        Err(Stop)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Stop> {
        Err(Stop)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop)
    }
}
