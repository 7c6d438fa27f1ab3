//! One line of a log as an [`InteractionLog`](crate::InteractionLog), read
//! borrowing what it can, and, when it is not one, a reason that names the
//! field and never quotes the line (it may hold personal data).
//!
//! Also the redaction every record goes through before anything else: each
//! string value and key of `input` and `output` (at any depth, arrays too),
//! the `error`, and the labels that reach a dataset file (`module_name`,
//! `module_version`, `model`) are redacted span by span with the guard's
//! detectors.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use telemetry_runtime::guard;

use crate::canonical::{Json, Object};

/// A record line, borrowing its strings when they hold no escape. `I` is
/// how `input` and `output` are read: an [`Object`] to keep them,
/// [`AnyObject`] to check they are objects and skip them.
#[derive(Deserialize)]
#[serde(bound(deserialize = "I: Deserialize<'de>"))]
pub(crate) struct RecordLine<'a, I> {
    #[serde(borrow)]
    pub(crate) module_name: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) module_version: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) signature: Cow<'a, str>,
    pub(crate) input: I,
    pub(crate) output: I,
    pub(crate) timestamp_ms: u64,
    pub(crate) success: bool,
    #[serde(default)]
    pub(crate) latency_ms: Option<u64>,
    #[serde(default)]
    #[allow(dead_code, reason = "read to check its type, as the record does")]
    pub(crate) tokens: Option<u64>,
    #[serde(default)]
    pub(crate) cost_usd: Option<f64>,
    #[serde(default, borrow)]
    pub(crate) model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) error: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) quality_score: Option<f64>,
    #[serde(default, borrow)]
    pub(crate) th: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) adjusted_count: Option<f64>,
    #[serde(default)]
    #[allow(dead_code, reason = "read to check its type, as the record does")]
    pub(crate) redactions: u32,
}

/// A JSON object, checked and skipped.
pub(crate) struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = AnyObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyObject, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

impl<'a, I> RecordLine<'a, I> {
    /// Parses a line, or says why it is not a record. A line that parses
    /// but whose signature cannot name a directory is refused too.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self, String>
    where
        I: Deserialize<'a>,
    {
        // One check of the whole line, rather than serde_json's of each
        // string it borrows.
        let text = std::str::from_utf8(line)
            .map_err(|error| format!("not valid UTF-8 at column {}", error.valid_up_to() + 1))?;
        let record: Self = serde_json::from_str(text).map_err(|_| diagnose(line))?;
        check_signature(&record.signature)
            .map_err(|reason| format!("field `signature`: {reason}"))?;
        Ok(record)
    }

    /// How many calls the record stands for: its `adjusted_count`, else
    /// what its `th` says, else 1.
    pub(crate) fn adjusted_count(&self) -> f64 {
        if let Some(count) = self
            .adjusted_count
            .filter(|count| count.is_finite() && *count >= 1.0)
        {
            return count;
        }
        self.th
            .as_deref()
            .and_then(adjusted_count_of_threshold)
            .unwrap_or(1.0)
    }
}

/// The adjusted count (1/p) that an OpenTelemetry `th` value encodes: up to
/// 14 hex digits, the rejection threshold over 2^56 with trailing zeros
/// left out (`"0"` keeps everything, `"8"` half, `"c"` a quarter).
///
/// The sampler that writes `th` lives in `telemetry-core`; this reads it
/// back, the one piece of its arithmetic the builder needs.
fn adjusted_count_of_threshold(th: &str) -> Option<f64> {
    if th.is_empty() || th.len() > 14 || !th.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let digits = u64::from_str_radix(th, 16).ok()?;
    let threshold = digits << (4 * (14 - th.len()));
    #[allow(clippy::cast_precision_loss, reason = "a ratio; 2^56 fits f64's range")]
    let kept = ((1u64 << 56) - threshold) as f64 / (1u64 << 56) as f64;
    (kept > 0.0).then(|| 1.0 / kept)
}

/// Why a signature cannot be a directory name, if it cannot: it must be 1
/// to 128 ASCII letters, digits, `_`, `-` or `.`, not start with `.` (so
/// not `.`, `..` nor a hidden name), and pass the guard's detectors.
pub(crate) fn check_signature(signature: &str) -> Result<(), String> {
    if signature.is_empty() {
        return Err("empty, so it cannot name a directory".to_owned());
    }
    if signature.len() > 128 {
        return Err("longer than 128 bytes, so it cannot name a directory".to_owned());
    }
    if let Some(bad) = signature
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        let shown = if bad.is_ascii_graphic() {
            format!("`{bad}`")
        } else {
            format!("U+{:04X}", u32::from(bad))
        };
        return Err(format!(
            "holds {shown}, so it cannot name a directory (letters, digits, `_`, `-` and `.` only)"
        ));
    }
    if signature.starts_with('.') {
        return Err("starts with `.`, so it cannot name a directory".to_owned());
    }
    if let Some(detector) = guard::detect(signature) {
        return Err(format!(
            "{} ({detector}), so it cannot name a directory",
            detector.description()
        ));
    }
    Ok(())
}

/// Why `line`, which did not parse as a record, is not one: a JSON syntax
/// error with its column, or the first field that is missing or of the
/// wrong type. Never a byte of the line.
pub(crate) fn diagnose(line: &[u8]) -> String {
    const STRING: &str = "a string";
    const UNSIGNED: &str = "an unsigned integer";
    const NUMBER: &str = "a number";
    let value: Value = match serde_json::from_slice(line) {
        Ok(value) => value,
        Err(error) => return syntax(&error),
    };
    let Value::Object(record) = value else {
        return format!("not a JSON object but {}", kind_of(&value));
    };
    let required: [(&str, &str); 7] = [
        ("module_name", STRING),
        ("module_version", STRING),
        ("signature", STRING),
        ("input", "an object"),
        ("output", "an object"),
        ("timestamp_ms", UNSIGNED),
        ("success", "true or false"),
    ];
    let optional: [(&str, &str); 9] = [
        ("latency_ms", UNSIGNED),
        ("tokens", UNSIGNED),
        ("cost_usd", NUMBER),
        ("model", STRING),
        ("error", STRING),
        ("quality_score", NUMBER),
        ("th", STRING),
        ("adjusted_count", NUMBER),
        ("redactions", UNSIGNED),
    ];
    for (field, expected) in required {
        match record.get(field) {
            None => return format!("missing field `{field}`"),
            Some(value) if !has_type(value, expected) => {
                return wrong_type(field, expected, kind_of(value));
            }
            Some(_) => {}
        }
    }
    for (field, expected) in optional {
        match record.get(field) {
            Some(value) if !value.is_null() && !has_type(value, expected) => {
                return wrong_type(field, expected, kind_of(value));
            }
            _ => {}
        }
    }
    if record
        .get("redactions")
        .and_then(Value::as_u64)
        .is_some_and(|n| u32::try_from(n).is_err())
    {
        return "field `redactions`: out of range".to_owned();
    }
    // Left: what a `Value` accepts and the record does not, such as a
    // field given twice.
    "does not match the record's shape (a field given twice?)".to_owned()
}

/// A JSON syntax error, content-free: `serde_json`'s syntax errors are fixed
/// phrases ("expected `,` or `}`", "EOF while parsing a string"), and the
/// column.
fn syntax(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let phrase = message.split(" at line ").next().unwrap_or(&message);
    format!("not valid JSON: {phrase} at column {}", error.column())
}

/// Why a line of an `examples.jsonl` has no usable `example_id`.
pub(crate) fn diagnose_example(line: &[u8]) -> String {
    match serde_json::from_slice::<Value>(line) {
        Err(error) => syntax(&error),
        Ok(Value::Object(example)) => match example.get("example_id") {
            None => "missing field `example_id`".to_owned(),
            Some(Value::String(_)) => "field `module_name`: expected a string".to_owned(),
            Some(other) => wrong_type("example_id", "a string", kind_of(other)),
        },
        Ok(other) => format!("not a JSON object but {}", kind_of(&other)),
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "a string" => value.is_string(),
        "an unsigned integer" => value.is_u64(),
        "a number" => value.is_number(),
        "an object" => value.is_object(),
        "true or false" => value.is_boolean(),
        _ => false,
    }
}

fn wrong_type(field: &str, expected: &str, found: &str) -> String {
    format!("field `{field}`: expected {expected}, found {found}")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() => "an unsigned integer",
        Value::Number(n) if n.is_i64() => "a negative integer",
        Value::Number(_) => "a number with a fraction",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `text` redacted; adds the spans replaced to `spans`.
pub(crate) fn redact_text<'t>(text: Cow<'t, str>, spans: &mut u64) -> Cow<'t, str> {
    let redaction = guard::redact(&text);
    if redaction.spans.is_empty() {
        return text;
    }
    *spans += redaction.spans.len() as u64;
    Cow::Owned(redaction.into_owned())
}

/// Redacts every string value and member name of `object`, at any depth,
/// in place; adds the spans replaced to `spans`. Two names that become the
/// same once redacted (two addresses, both `[email]`) are kept apart by a
/// suffix, in the order read: `[email]`, `[email] (2)`.
pub(crate) fn redact_object(object: &mut Object<'_>, spans: &mut u64) {
    let mut renamed = false;
    for (name, value) in &mut object.0 {
        redact_json(value, spans);
        let redaction = guard::redact(name);
        if !redaction.spans.is_empty() {
            *spans += redaction.spans.len() as u64;
            *name = Cow::Owned(redaction.into_owned());
            renamed = true;
        }
    }
    if renamed {
        let mut seen = std::collections::HashSet::new();
        for (name, _) in &mut object.0 {
            if !seen.insert(name.to_string()) {
                let mut n = 2;
                let mut candidate = format!("{name} ({n})");
                while seen.contains(&candidate) {
                    n += 1;
                    candidate = format!("{name} ({n})");
                }
                seen.insert(candidate.clone());
                *name = Cow::Owned(candidate);
            }
        }
    }
}

fn redact_json(value: &mut Json<'_>, spans: &mut u64) {
    match value {
        Json::String(text) => {
            let redaction = guard::redact(text);
            if !redaction.spans.is_empty() {
                *spans += redaction.spans.len() as u64;
                *text = Cow::Owned(redaction.into_owned());
            }
        }
        Json::Array(items) => {
            for item in items {
                redact_json(item, spans);
            }
        }
        Json::Object(object) => redact_object(object, spans),
        Json::Null | Json::Bool(_) | Json::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Full<'a> = RecordLine<'a, Object<'a>>;

    const GOOD: &str = r#"{"module_name":"reviewer","module_version":"baseline","signature":"extract","input":{"q":"x"},"output":{"a":1},"timestamp_ms":1,"success":true}"#;

    fn reason(line: &str) -> String {
        match Full::parse(line.as_bytes()) {
            Ok(_) => panic!("{line} parsed"),
            Err(reason) => reason,
        }
    }

    #[test]
    fn a_good_line_parses_with_defaults() {
        let record = Full::parse(GOOD.as_bytes()).unwrap();
        assert_eq!(record.signature, "extract");
        assert_eq!(record.latency_ms, None);
        assert_eq!(record.adjusted_count(), 1.0);
        assert!(RecordLine::<AnyObject>::parse(GOOD.as_bytes()).is_ok());
    }

    #[test]
    fn reasons_name_the_field_and_never_the_content() {
        let secret = "ana@example.com";
        let cases = [
            (
                GOOD.replace(r#""success":true"#, r#""success":"ana@example.com""#),
                "field `success`: expected true or false, found a string",
            ),
            (
                GOOD.replace(r#","success":true"#, ""),
                "missing field `success`",
            ),
            (
                GOOD.replace(r#""timestamp_ms":1"#, r#""timestamp_ms":-5"#),
                "field `timestamp_ms`: expected an unsigned integer, found a negative integer",
            ),
            (
                GOOD.replace(r#"{"a":1}"#, r#"["ana@example.com"]"#),
                "field `output`: expected an object, found an array",
            ),
            (
                GOOD.replace(r#"{"q":"x"}"#, r#""ana@example.com""#),
                "field `input`: expected an object, found a string",
            ),
            (
                GOOD.replace(
                    r#""timestamp_ms":1"#,
                    r#""timestamp_ms":1,"cost_usd":"ana@example.com""#,
                ),
                "field `cost_usd`: expected a number, found a string",
            ),
            (
                GOOD.replace(
                    r#""timestamp_ms":1"#,
                    r#""timestamp_ms":1,"timestamp_ms":2"#,
                ),
                "does not match the record's shape (a field given twice?)",
            ),
            (
                r#"{"module_name":"ana@example.com"#.to_owned(),
                "not valid JSON: EOF while parsing a string at column 31",
            ),
            (
                r#"["ana@example.com"]"#.to_owned(),
                "not a JSON object but an array",
            ),
            (
                GOOD.replace("extract", "../etc"),
                "field `signature`: holds `/`, so it cannot name a directory (letters, digits, `_`, `-` and `.` only)",
            ),
            (
                GOOD.replace("extract", "10.0.0.1"),
                "field `signature`: looks like an IPv4 address (ipv4), so it cannot name a directory",
            ),
            (
                GOOD.replace("extract", ".hidden"),
                "field `signature`: starts with `.`, so it cannot name a directory",
            ),
        ];
        for (line, expected) in cases {
            let reason = reason(&line);
            assert_eq!(reason, expected, "{line}");
            assert!(!reason.contains(secret));
        }
    }

    #[test]
    fn thresholds_give_adjusted_counts() {
        assert_eq!(adjusted_count_of_threshold("0"), Some(1.0));
        assert_eq!(adjusted_count_of_threshold("8"), Some(2.0));
        assert_eq!(adjusted_count_of_threshold("c"), Some(4.0));
        // OpenTelemetry's example: th=e666 is a 10% sample.
        let ten_percent = adjusted_count_of_threshold("e666").unwrap();
        assert!((ten_percent - 10.0).abs() < 1e-3, "{ten_percent}");
        assert_eq!(adjusted_count_of_threshold("xyz"), None);
        assert_eq!(adjusted_count_of_threshold(""), None);
    }

    #[test]
    fn keys_and_values_are_redacted_at_any_depth() {
        let text = r#"{"ana@example.com": {"list": ["see /home/ana/x", 1, {"bob@example.org": "ok"}]}, "carl@example.net": 2, "plain": "text"}"#;
        let mut object: Object<'_> = serde_json::from_str(text).unwrap();
        let mut spans = 0;
        redact_object(&mut object, &mut spans);
        let mut out = Vec::new();
        object.write_canonical(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            r#"{"[email]":{"list":["see [path]",1,{"[email]":"ok"}]},"[email] (2)":2,"plain":"text"}"#
        );
        assert_eq!(spans, 4);
        let value: Value = serde_json::from_str(&out).unwrap();
        assert!(guard::scan_value(&value).is_empty());
    }
}
