//! Span redaction of user content: every string value and every key of a
//! JSON tree goes through the guard's detectors, and what they flag is
//! replaced by its placeholder (`[email]`, `[path]`, `[secret]`, …), the
//! rest kept. Numbers, booleans and nulls pass as they are.
//!
//! Clean text is not copied: [`guard::redact`] borrows it, and a string is
//! replaced only when a span was found.

use serde_json::{Map, Value};
use telemetry_runtime::guard;

/// Redacts `text` in place; returns how many spans were replaced.
pub fn redact_string(text: &mut String) -> u32 {
    let redaction = guard::redact(text);
    if !redaction.is_redacted() {
        return 0;
    }
    let spans = count(redaction.count());
    *text = redaction.into_owned();
    spans
}

/// Redacts every string and key under `value`; returns how many spans were
/// replaced.
pub fn redact_value(value: &mut Value) -> u32 {
    match value {
        Value::String(text) => redact_string(text),
        Value::Array(items) => items.iter_mut().map(redact_value).sum(),
        Value::Object(map) => redact_map(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
    }
}

/// Redacts every key and value of `map`; returns how many spans were
/// replaced. Two keys that become the same once redacted (two addresses,
/// both `[email]`) are kept apart by a suffix: `[email]`, `[email] (2)`.
pub fn redact_map(map: &mut Map<String, Value>) -> u32 {
    let mut spans: u32 = map.values_mut().map(redact_value).sum();
    if map.keys().all(|key| guard::detect(key).is_none()) {
        return spans;
    }
    let old = std::mem::take(map);
    for (mut key, value) in old {
        spans += redact_string(&mut key);
        if map.contains_key(&key) {
            let base = key.clone();
            let mut n = 2;
            while map.contains_key(&key) {
                key = format!("{base} ({n})");
                n += 1;
            }
        }
        map.insert(key, value);
    }
    spans
}

/// Keeps only the top-level keys of `map` that `allowed` lists.
pub fn retain_keys(map: &mut Map<String, Value>, allowed: &[String]) {
    map.retain(|key, _| allowed.iter().any(|allowed| allowed == key));
}

fn count(spans: usize) -> u32 {
    u32::try_from(spans).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_nested_values_are_redacted_and_counted() {
        let mut value = json!({
            "question": "mail me at jane.doe@example.com please",
            "files": ["/home/jane/notes.txt", 3, true, null],
            "jane.doe@example.com": {"token": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"},
        });
        let spans = redact_value(&mut value);
        assert_eq!(spans, 4, "{value}");
        let text = value.to_string();
        assert!(!text.contains("jane"), "{text}");
        assert!(!text.contains("ghp_"), "{text}");
        assert!(text.contains("please"), "the clean words stay: {text}");
        assert!(text.contains("[email]"), "{text}");
        assert!(guard::scan_value(&value).is_empty(), "{text}");
        // Redacting again finds nothing.
        assert_eq!(redact_value(&mut value), 0);
    }

    #[test]
    fn keys_that_redact_alike_are_kept_apart() {
        let mut value = json!({"ana@example.com": 1, "bo@example.org": 2});
        assert_eq!(redact_value(&mut value), 2);
        assert_eq!(value, json!({"[email]": 1, "[email] (2)": 2}));
    }

    #[test]
    fn clean_content_is_left_alone() {
        let original = json!({"user_intent": "Implement user authentication", "n": 2});
        let mut value = original.clone();
        assert_eq!(redact_value(&mut value), 0);
        assert_eq!(value, original);
    }

    #[test]
    fn only_allowed_keys_are_kept() {
        let mut map = json!({"a": 1, "b": 2, "c": 3}).as_object().unwrap().clone();
        retain_keys(&mut map, &["a".to_owned(), "c".to_owned()]);
        assert_eq!(Value::Object(map), json!({"a": 1, "c": 3}));
    }
}
