//! RFC 8785 (JSON Canonicalization Scheme) bytes: the one form of a value
//! that the hash chain and the log's leaves are computed over.
//!
//! Members are sorted by the UTF-16 code units of their names, there is no
//! white space, strings are escaped minimally, and numbers are written as
//! ECMAScript writes an IEEE 754 double (`1.0` is `1`, `1e21` is `1e+21`,
//! `-0` is `0`). Integers above 2⁵³ therefore lose precision, as they do in
//! every I-JSON reader; no field of a trace comes near that.

use serde::Serialize;

/// The RFC 8785 canonical JSON of `value`.
///
/// The value goes through [`serde_json::Value`] first, so a non-finite float
/// is written as `null`, as `serde_json` writes it; validation refuses
/// non-finite times and durations before anything is hashed.
///
/// ```
/// use serde_json::json;
/// use telemetry_trace::canonical_json;
///
/// assert_eq!(canonical_json(&json!({"b": 2, "a": [1.0, "é"]})), r#"{"a":[1,"é"],"b":2}"#.as_bytes());
/// ```
///
/// # Panics
///
/// If `value`'s `Serialize` implementation fails, or it holds a map whose
/// keys `serde_json` cannot write as strings. No type of this crate does.
#[must_use]
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let value = serde_json::to_value(value)
        .expect("the value serializes to JSON (string keys, an infallible Serialize)");
    canonical_value(&value)
}

/// [`canonical_json`] of a value already parsed, without copying it first.
#[must_use]
pub(crate) fn canonical_value(value: &serde_json::Value) -> Vec<u8> {
    serde_json_canonicalizer::to_vec(value)
        .expect("a serde_json::Value has string keys and finite numbers only")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn jcs_of(text: &str) -> String {
        let value: Value = serde_json::from_str(text).unwrap();
        String::from_utf8(canonical_json(&value)).unwrap()
    }

    #[test]
    fn member_order_does_not_matter() {
        assert_eq!(
            canonical_json(&json!({"a": 1, "b": 2})),
            canonical_json(&json!({"b": 2, "a": 1}))
        );
        assert_eq!(jcs_of(r#"{ "b" : 2, "a" : 1 }"#), r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn numbers_are_written_as_rfc_8785_says() {
        // RFC 8785 §3.2.2.3 and Appendix B.
        assert_eq!(jcs_of("1.0"), "1");
        assert_eq!(jcs_of("1e21"), "1e+21");
        assert_eq!(jcs_of("1e20"), "100000000000000000000");
        assert_eq!(jcs_of("-0"), "0");
        assert_eq!(jcs_of("-0.0"), "0");
        assert_eq!(jcs_of("0.000001"), "0.000001");
        assert_eq!(jcs_of("1e-7"), "1e-7");
        assert_eq!(jcs_of("4.50"), "4.5");
        assert_eq!(jcs_of("9007199254740992"), "9007199254740992");
        assert_eq!(jcs_of("1696435200.25"), "1696435200.25");
    }

    #[test]
    fn members_sort_by_utf16_code_units_and_strings_escape_minimally() {
        // RFC 8785 §3.2.3: by UTF-16 code units, so 😀 (D83D DE00) sorts
        // before U+FB33 (FB33), though its code point is larger; "\r" sorts
        // before "1".
        assert_eq!(
            jcs_of(r#"{"\ufb33":1,"😀":2,"1":3,"\r":4}"#),
            "{\"\\r\":4,\"1\":3,\"😀\":2,\"\u{fb33}\":1}"
        );
        assert_eq!(jcs_of(r#""\u00e9\u000f\/""#), "\"é\\u000f/\"");
    }
}
