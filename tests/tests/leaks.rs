use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use telemetry_core::TelemetrySafe;

use crate::anonymizer;

#[derive(TelemetrySafe)]
#[telemetry(event = "leak_probe")]
struct Probe {
    #[telemetry(hash)]
    hashed: String,
    #[telemetry(hash)]
    hashed_path: PathBuf,
    #[telemetry(forbidden)]
    forbidden: String,
    #[telemetry(count)]
    counted: Vec<String>,
    #[telemetry(text_count)]
    text_counted: String,
    #[telemetry(boolean)]
    present: Option<String>,
    #[telemetry(boolean)]
    non_empty: String,
}

/// Every string in the payload, keys and values, but the field names the
/// schema declares: a raw value could hide in any of them.
fn strings_in(value: &serde_json::Value, field_names: &BTreeSet<&str>, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|item| strings_in(item, field_names, out)),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if !field_names.contains(key.as_str()) {
                    out.push(key.clone());
                }
                strings_in(item, field_names, out);
            }
        }
        _ => {}
    }
}

/// Strings of 4+ characters, any Unicode, but never made only of hex digits:
/// such a string could appear in a digest by chance, which is no leak.
fn secret() -> impl Strategy<Value = String> {
    "\\PC{4,40}".prop_filter("not only hex digits", |s| {
        s.chars().any(|c| !c.is_ascii_hexdigit())
    })
}

proptest! {
    #[test]
    fn no_raw_string_reaches_the_payload(raw in secret()) {
        let probe = Probe {
            hashed: raw.clone(),
            hashed_path: PathBuf::from(&raw),
            forbidden: raw.clone(),
            counted: vec![raw.clone(), raw.clone()],
            text_counted: raw.clone(),
            present: Some(raw.clone()),
            non_empty: raw.clone(),
        };
        let payload = serde_json::to_value(probe.telemetry_view(&anonymizer())).unwrap();
        let field_names: BTreeSet<&str> = Probe::SCHEMA.fields.iter().map(|f| f.key).collect();
        let mut strings = Vec::new();
        strings_in(&payload, &field_names, &mut strings);
        for text in &strings {
            prop_assert!(!text.contains(raw.as_str()), "raw value {raw:?} leaked in {text:?}");
        }
        let json = serde_json::to_string(&probe.telemetry_view(&anonymizer())).unwrap();
        let escaped = serde_json::to_string(&raw).unwrap();
        prop_assert!(!json.contains(escaped.trim_matches('"')), "raw value {raw:?} leaked in {json}");
    }

    #[test]
    fn equal_inputs_hash_equal_and_different_inputs_differ(a in secret(), b in secret()) {
        let one = |text: &str| Probe {
            hashed: text.to_owned(),
            hashed_path: PathBuf::new(),
            forbidden: String::new(),
            counted: Vec::new(),
            text_counted: String::new(),
            present: None,
            non_empty: String::new(),
        }
        .serialize_for_telemetry(&anonymizer())
        .unwrap()["hashed"]
            .clone();
        prop_assert_eq!(one(&a), one(&a));
        if a != b {
            prop_assert_ne!(one(&a), one(&b));
        }
    }
}
