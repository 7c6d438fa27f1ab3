//! JSON for people: indented, every key where it was, and numbers as queued
//! or rounded.
//!
//! `serde_json::Value` sorts keys (this workspace does not turn on
//! `preserve_order`, which would change every crate's maps), and a queued
//! envelope's properties are raw JSON that `to_writer_pretty` copies as one
//! line; [`Json`] reads any JSON keeping the order and writes it back
//! indented.

use std::fmt;
use std::io::{self, Write};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// How numbers with a fraction are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// As queued: the same digits that would be sent.
    AsQueued,
    /// Rounded for reading: two decimals from 1 up, three significant
    /// digits below (`96.15`, `0.000649`).
    Rounded,
}

/// Writes `value` as indented JSON, keys in their order, numbers as asked.
pub(crate) fn write(
    out: &mut impl Write,
    value: &impl Serialize,
    numbers: Numbers,
) -> io::Result<()> {
    let text = serde_json::to_string(value).map_err(io::Error::other)?;
    let mut json: Json = serde_json::from_str(&text).map_err(io::Error::other)?;
    if numbers == Numbers::Rounded {
        json.round();
    }
    serde_json::to_writer_pretty(out, &json).map_err(io::Error::other)
}

/// Any JSON value, objects keeping their keys in order.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Integer(serde_json::Number),
    Float(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn round(&mut self) {
        match self {
            Self::Float(value) => *value = rounded(*value),
            Self::Array(items) => items.iter_mut().for_each(Self::round),
            Self::Object(entries) => entries.iter_mut().for_each(|(_, value)| value.round()),
            Self::Null | Self::Bool(_) | Self::Integer(_) | Self::String(_) => {}
        }
    }
}

/// `value` rounded for reading: two decimals from 1 up, three significant
/// digits below. Whole numbers stay as they are.
fn rounded(value: f64) -> f64 {
    if !value.is_finite() || value.fract() == 0.0 {
        return value;
    }
    let text = if value.abs() >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.2e}")
    };
    text.parse().unwrap_or(value)
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => serializer.serialize_unit(),
            Self::Bool(value) => serializer.serialize_bool(*value),
            Self::Integer(value) => value.serialize(serializer),
            Self::Float(value) => serializer.serialize_f64(*value),
            Self::String(value) => serializer.serialize_str(value),
            Self::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Integer(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Integer(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Json, E> {
        Ok(Json::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(json: &str, numbers: Numbers) -> String {
        let mut out = Vec::new();
        // A raw value, as an envelope's properties are.
        let raw = serde_json::value::RawValue::from_string(json.to_owned()).unwrap();
        write(&mut out, &raw, numbers).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_keep_their_order_and_values_their_digits() {
        let json = r#"{"zeta":1,"alpha":{"b":96.15384615384616,"a":[true,null,"x"]},"n":-3}"#;
        assert_eq!(
            shown(json, Numbers::AsQueued),
            "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"b\": 96.15384615384616,\n    \"a\": [\n      true,\n      null,\n      \"x\"\n    ]\n  },\n  \"n\": -3\n}"
        );
    }

    #[test]
    fn rounding_keeps_whole_numbers_and_a_few_digits_of_the_rest() {
        for (value, expected) in [
            (96.153_846_153_846_16, 96.15),
            (2.031_091_2, 2.03),
            (0.000_649_045_133_333_333_3, 0.000_649),
            (0.978_228_812_038_522_9, 0.978),
            (-12.345_6, -12.35),
            (1.0, 1.0),
            (384_499.0, 384_499.0),
        ] {
            assert_eq!(rounded(value), expected, "{value}");
        }
        assert_eq!(
            shown(r#"{"a":96.15384615384616,"b":7}"#, Numbers::Rounded),
            "{\n  \"a\": 96.15,\n  \"b\": 7\n}"
        );
    }
}
