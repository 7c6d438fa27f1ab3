//! Example ids: the SHA-256 of the RFC 8785 (JSON Canonicalization Scheme)
//! form of an input, so that `{"a":1,"b":2}` and `{"b":2,"a":1}`, or `1.0`
//! and `1`, are the same example.
//!
//! The canonical form: members sorted by the UTF-16 code units of their
//! names, no white space, strings escaped minimally (`"`, `\` and control
//! characters only, `\n`-style where JSON has one, else `\u00xx`), numbers
//! written as ECMAScript writes an IEEE 754 double (`1.0` is `1`, `1e21` is
//! `1e+21`, `-0` is `0`; integers past 2⁵³ lose precision, as in every
//! I-JSON reader), through `ryu-js`. A name given twice keeps its last
//! value, as `serde_json` does.
//!
//! Why not `serde_json_canonicalizer`, which the trace log uses: it buffers
//! every member in vectors of its own and parses each name back to sort it,
//! which made it the builder's largest cost. `Json` borrows its strings
//! from the line and sorts members in place; a property test checks that
//! both write the same bytes for any value.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};

/// An example's id: SHA-256 of the canonical JSON of its (redacted) input.
/// Written and read as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExampleId(pub [u8; 32]);

impl ExampleId {
    /// The id of an input, as JSON text: what the builder computes for a
    /// record with this input and nothing to redact.
    pub fn of_json(input: &str) -> Result<Self, serde_json::Error> {
        let mut object: Object<'_> = serde_json::from_str(input)?;
        Ok(Self::of_object(&mut object, &mut Vec::new()))
    }

    /// The id of an object: writes its canonical JSON into `canonical`
    /// (cleared first; members sorted in place) and hashes it.
    pub(crate) fn of_object(object: &mut Object<'_>, canonical: &mut Vec<u8>) -> Self {
        canonical.clear();
        object.write_canonical(canonical);
        Self::of_canonical(canonical)
    }

    /// The id of an input's canonical JSON.
    pub(crate) fn of_canonical(canonical: &[u8]) -> Self {
        Self(Sha256::digest(canonical).into())
    }

    /// The id in hex, without allocating.
    #[must_use]
    pub fn to_hex(&self) -> [u8; 64] {
        let mut hex = [0; 64];
        // Cannot fail: the buffer is exactly twice the digest's length.
        let _ = hex::encode_to_slice(self.0, &mut hex);
        hex
    }
}

impl fmt::Display for ExampleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).unwrap_or_default())
    }
}

impl fmt::Debug for ExampleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExampleId({self})")
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an example id is 64 hex digits")]
pub struct InvalidExampleId;

impl FromStr for ExampleId {
    type Err = InvalidExampleId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidExampleId)?;
        Ok(Self(bytes))
    }
}

/// The RFC 8785 canonical form of a JSON text.
pub fn canonical_json(json: &str) -> Result<Vec<u8>, serde_json::Error> {
    let mut value: Json<'_> = serde_json::from_str(json)?;
    let mut out = Vec::with_capacity(json.len());
    value.write_canonical(&mut out);
    Ok(out)
}

/// A JSON value that borrows its strings from the text it was read from
/// when they hold no escape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    /// Every number as the double it denotes (RFC 8785 §3.2.2.3).
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object, members in the order read (until written canonically).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object<'a>(pub(crate) Vec<(Cow<'a, str>, Json<'a>)>);

impl Json<'_> {
    fn write_canonical(&mut self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.extend_from_slice(b"null"),
            Self::Bool(true) => out.extend_from_slice(b"true"),
            Self::Bool(false) => out.extend_from_slice(b"false"),
            Self::Number(number) => {
                let mut buffer = ryu_js::Buffer::new();
                out.extend_from_slice(buffer.format_finite(*number).as_bytes());
            }
            Self::String(text) => write_read_string(text, out),
            Self::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter_mut().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out);
                }
                out.push(b']');
            }
            Self::Object(object) => object.write_canonical(out),
        }
    }
}

impl Object<'_> {
    /// Sorts the members by the UTF-16 code units of their names (RFC 8785
    /// §3.2.3), keeps the last of a name given twice, and writes them.
    pub(crate) fn write_canonical(&mut self, out: &mut Vec<u8>) {
        let members = &mut self.0;
        // Stable: among equal names, the last read stays last.
        members.sort_by(|(a, _), (b, _)| utf16_cmp(a, b));
        if members.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            let mut kept: Vec<(Cow<'_, str>, Json<'_>)> = Vec::with_capacity(members.len());
            for member in members.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.0 == member.0 => *last = member,
                    _ => kept.push(member),
                }
            }
            *members = kept;
        }
        out.push(b'{');
        for (i, (name, value)) in members.iter_mut().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_read_string(name, out);
            out.push(b':');
            value.write_canonical(out);
        }
        out.push(b'}');
    }
}

/// Orders strings by their UTF-16 code units. UTF-8 byte order agrees
/// except where a character above U+FFFF meets one in U+E000..=U+FFFF, so
/// the bytes decide unless one of those is involved.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let fast = |s: &str| s.bytes().all(|byte| byte < 0xEE);
    if fast(a) && fast(b) {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Writes a string of a [`Json`] tree. One that is borrowed was borrowed
/// by `serde_json` from a JSON text without an escape in it, which JSON
/// allows only when it needs none: no `"`, `\` or control character. It
/// is copied as it is; any other is escaped.
#[allow(clippy::ptr_arg, reason = "whether it is borrowed is the point")]
fn write_read_string(text: &Cow<'_, str>, out: &mut Vec<u8>) {
    match text {
        Cow::Borrowed(text) => {
            debug_assert!(!text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
            out.reserve(text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(text) => write_string(text, out),
    }
}

/// Writes `text` as a JSON string, escaped as RFC 8785 §3.2.2.2 says.
pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    // Most strings need no escape; this check has no early exit, so it is
    // vectorized.
    #[allow(
        clippy::needless_bitwise_bool,
        reason = "no short-circuit, so it is vectorized"
    )]
    let plain = bytes.iter().fold(true, |plain, &byte| {
        plain & (byte >= 0x20) & (byte != b'"') & (byte != b'\\')
    });
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xF)],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A string that borrows when it can.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(value))
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "RFC 8785: every number is a double"
    )]
    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(value as f64))
    }

    #[allow(
        clippy::cast_precision_loss,
        reason = "RFC 8785: every number is a double"
    )]
    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(value as f64))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Json::Number(value))
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        members(map).map(Json::Object)
    }
}

fn members<'de, A: MapAccess<'de>>(mut map: A) -> Result<Object<'de>, A::Error> {
    let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
    while let Some(Text(name)) = map.next_key()? {
        members.push((name, map.next_value()?));
    }
    Ok(Object(members))
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                members(map)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    fn id(json: &str) -> ExampleId {
        ExampleId::of_json(json).unwrap()
    }

    fn jcs(json: &str) -> String {
        String::from_utf8(canonical_json(json).unwrap()).unwrap()
    }

    #[test]
    fn member_order_and_number_spelling_do_not_matter() {
        assert_eq!(id(r#"{"a":1,"b":2}"#), id(r#"{"b":2,"a":1}"#));
        assert_eq!(id(r#"{"x":1.0}"#), id(r#"{"x":1}"#));
        assert_eq!(
            id(r#"{"x":[1e2, {"z":0,"y":-0.0}]}"#),
            id(r#"{"x":[100,{"y":0,"z":0}]}"#)
        );
        assert_ne!(id(r#"{"x":"1"}"#), id(r#"{"x":1}"#));
    }

    #[test]
    fn the_id_is_the_sha256_of_the_canonical_form() {
        let input = r#"{"b": [true, null], "a": "é"}"#;
        assert_eq!(jcs(input), r#"{"a":"é","b":[true,null]}"#);
        let id = id(input);
        assert_eq!(
            id.to_string(),
            hex::encode(Sha256::digest(r#"{"a":"é","b":[true,null]}"#))
        );
        assert_eq!(id.to_string().parse::<ExampleId>(), Ok(id));
        assert_eq!("xyz".parse::<ExampleId>(), Err(InvalidExampleId));
    }

    #[test]
    fn rfc_8785_numbers_strings_and_order() {
        // RFC 8785 §3.2.2.3 and Appendix B.
        for (number, canonical) in [
            ("1.0", "1"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("-0", "0"),
            ("0.000001", "0.000001"),
            ("1e-7", "1e-7"),
            ("4.50", "4.5"),
            ("9007199254740993", "9007199254740992"),
        ] {
            assert_eq!(jcs(number), canonical, "{number}");
        }
        assert_eq!(jcs(r#""\u0007\n\/é""#), r#""\u0007\n/é""#);
        // By UTF-16 code units: U+1F600 (D83D DE00) before U+FB33.
        assert_eq!(
            jcs("{\"\u{fb33}\":1,\"\u{1f600}\":2}"),
            "{\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
        assert_eq!(jcs(r#"{"a":1,"a":2}"#), r#"{"a":2}"#);
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::String),
            "[\\x00-\\x1f\"\\\\a\u{e000}-\u{ffff}\u{10000}-\u{10ffff}]{0,6}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c\u{e000}\u{1f600}\\x00\"]{0,3}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_canonicalizer_writes(value in json()) {
            let text = serde_json::to_string(&value).unwrap();
            let expected = serde_json_canonicalizer::to_vec(&value).unwrap();
            prop_assert_eq!(String::from_utf8(canonical_json(&text).unwrap()).unwrap(), String::from_utf8(expected).unwrap());
        }
    }
}
