//! Example ids: the SHA-256 of the RFC 8785 canonical JSON of an input, so
//! that `{"a":1,"b":2}` and `{"b":2,"a":1}`, or `1.0` and `1`, are the same
//! example.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// An example's id: SHA-256 of the canonical JSON of its (redacted) input.
/// Written and read as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExampleId(pub [u8; 32]);

impl ExampleId {
    /// The id of an input: writes its canonical JSON into `canonical`
    /// (cleared first) and hashes it.
    pub fn of_input(input: &Map<String, Value>, canonical: &mut Vec<u8>) -> Self {
        canonical.clear();
        write_canonical(input, canonical);
        Self(Sha256::digest(&canonical[..]).into())
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

/// Appends the RFC 8785 canonical JSON of `input` to `out`.
pub fn write_canonical(input: &Map<String, Value>, out: &mut Vec<u8>) {
    // A map of a `serde_json::Value` has string keys and finite numbers
    // only, the two things the canonicalizer refuses.
    let _ = serde_json_canonicalizer::to_writer(input, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(json: &str) -> ExampleId {
        let input: Map<String, Value> = serde_json::from_str(json).unwrap();
        ExampleId::of_input(&input, &mut Vec::new())
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
        let mut canonical = Vec::new();
        let input: Map<String, Value> =
            serde_json::from_str(r#"{"b": [true, null], "a": "é"}"#).unwrap();
        let id = ExampleId::of_input(&input, &mut canonical);
        assert_eq!(canonical, r#"{"a":"é","b":[true,null]}"#.as_bytes());
        assert_eq!(id.to_string(), hex::encode(Sha256::digest(&canonical)));
        assert_eq!(id.to_string().parse::<ExampleId>(), Ok(id));
        assert_eq!("xyz".parse::<ExampleId>(), Err(InvalidExampleId));
    }
}
