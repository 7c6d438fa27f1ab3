use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::json;
use telemetry_core::{
    Anonymizer, HashKey, HashScope, TelemetryEvent, TelemetrySafe, TelemetryValue,
};

use crate::{anonymizer, digest};

/// Aggregated statistics for one session.
#[derive(TelemetrySafe)]
#[telemetry(event = "session_summary")]
struct Session {
    /// Searches performed.
    total_searches: u64,
    #[telemetry(hash)]
    repository: PathBuf,
    #[telemetry(boolean)]
    custom_config: Option<PathBuf>,
    #[telemetry(count)]
    open_files: Vec<PathBuf>,
    #[telemetry(text_count)]
    query: String,
    #[telemetry(distribution)]
    languages: Vec<String>,
    #[telemetry(aggregate)]
    tokens_per_search: Vec<u64>,
    #[telemetry(forbidden)]
    api_key: String,
}

fn session() -> Session {
    Session {
        total_searches: 8,
        repository: PathBuf::from("/home/ana/secret-project"),
        custom_config: Some(PathBuf::from("/home/ana/.config/tool.toml")),
        open_files: vec![
            PathBuf::from("/home/ana/a.rs"),
            PathBuf::from("/home/ana/b.rs"),
        ],
        query: String::from("fn parse_invoice"),
        languages: vec!["python".into(), "rust".into(), "python".into()],
        tokens_per_search: vec![120, 80, 200],
        api_key: String::from("sk-live-123"),
    }
}

#[test]
fn every_conversion_gives_the_documented_value() {
    let payload = serde_json::to_value(session().telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({
            "total_searches": 8,
            "repository": digest(b"/home/ana/secret-project"),
            "custom_config": true,
            "open_files": 2,
            "query": 16,
            "languages": {"python": 2, "rust": 1},
            "tokens_per_search": 400,
        })
    );
}

#[test]
fn fields_are_written_in_declaration_order_and_forbidden_keys_are_absent() {
    let json = serde_json::to_string(&session().telemetry_view(&anonymizer())).unwrap();
    let keys: Vec<&str> = [
        "total_searches",
        "repository",
        "custom_config",
        "open_files",
        "query",
        "languages",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| json.find(&format!("\"{key}\"")).unwrap())
        .collect();
    assert!(positions.is_sorted(), "{json}");
    assert!(!json.contains("api_key"), "{json}");
}

#[test]
fn streaming_view_and_map_convenience_give_identical_json() {
    // The map orders keys as serde_json's `Map` does (sorted, unless the app
    // enables `preserve_order`); the content is the same.
    let session = session();
    let anonymizer = anonymizer();
    let streamed: serde_json::Value =
        serde_json::from_slice(&serde_json::to_vec(&session.telemetry_view(&anonymizer)).unwrap())
            .unwrap();
    let map = session.serialize_for_telemetry(&anonymizer).unwrap();
    assert_eq!(map.len(), 7);
    assert_eq!(streamed, serde_json::Value::Object(map));
}

#[test]
fn the_view_writes_into_any_serde_serializer() {
    let session = session();
    let anonymizer = anonymizer();
    let mut pretty = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut pretty);
    serde::Serialize::serialize(&session.telemetry_view(&anonymizer), &mut serializer).unwrap();
    let reparsed: serde_json::Value = serde_json::from_slice(&pretty).unwrap();
    let value = serde_json::to_value(session.telemetry_view(&anonymizer)).unwrap();
    assert_eq!(reparsed, value);
    assert!(
        String::from_utf8(pretty)
            .unwrap()
            .contains("\n  \"total_searches\": 8")
    );
}

#[test]
fn event_name_comes_from_the_attribute() {
    assert_eq!(Session::EVENT, "session_summary");
    assert_eq!(Session::SCHEMA.event, Some("session_summary"));
}

#[derive(TelemetrySafe)]
#[telemetry(event = "edge")]
struct Edge {
    #[telemetry(hash)]
    absent_path: Option<PathBuf>,
    #[telemetry(boolean)]
    empty_query: String,
    #[telemetry(count)]
    no_files: Vec<PathBuf>,
    #[telemetry(count)]
    maybe_files: Option<Vec<PathBuf>>,
    #[telemetry(text_count)]
    crab: String,
    #[telemetry(text_count)]
    no_text: Option<String>,
    #[telemetry(distribution)]
    no_languages: Vec<String>,
    #[telemetry(aggregate = "mean")]
    no_timings: Vec<f64>,
    #[telemetry(aggregate = "max")]
    with_nan: Vec<f64>,
    #[telemetry(aggregate)]
    huge: Vec<u64>,
    #[telemetry(aggregate = "min")]
    negative: [i32; 3],
}

#[test]
fn edge_cases_give_null_zero_or_empty_as_documented() {
    let edge = Edge {
        absent_path: None,
        empty_query: String::new(),
        no_files: Vec::new(),
        maybe_files: None,
        crab: String::from("🦀 héllo"),
        no_text: None,
        no_languages: Vec::new(),
        no_timings: Vec::new(),
        with_nan: vec![1.0, f64::NAN],
        huge: vec![u64::MAX, 1],
        negative: [3, -7, 0],
    };
    let payload = serde_json::to_value(edge.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({
            "absent_path": null,
            "empty_query": false,
            "no_files": 0,
            "maybe_files": null,
            "crab": 7,
            "no_text": null,
            "no_languages": {},
            "no_timings": null,
            "with_nan": null,
            "huge": 18_446_744_073_709_551_616.0,
            "negative": -7,
        })
    );
}

#[derive(TelemetrySafe)]
#[telemetry(event = "model_loaded")]
struct ModelLoaded {
    #[telemetry(hash(scope = "app"))]
    model: String,
    #[telemetry(hash(scope = "installation"))]
    local_path: PathBuf,
}

#[test]
fn app_scope_hashes_match_across_installations_and_installation_scope_does_not() {
    let app_key = HashKey::from_bytes([1; 32]);
    let here = Anonymizer::new(&HashKey::from_bytes([2; 32])).with_app_key(&app_key);
    let there = Anonymizer::new(&HashKey::from_bytes([3; 32])).with_app_key(&app_key);
    let event = ModelLoaded {
        model: "all-minilm-l6-v2".into(),
        local_path: PathBuf::from("/models/x"),
    };
    let a = event.serialize_for_telemetry(&here).unwrap();
    let b = event.serialize_for_telemetry(&there).unwrap();
    assert_eq!(a["model"], b["model"]);
    assert_ne!(a["local_path"], b["local_path"]);
    assert_eq!(
        a["model"],
        json!(
            here.hash(HashScope::App, b"all-minilm-l6-v2")
                .unwrap()
                .to_string()
        )
    );
}

#[test]
fn app_scope_without_an_app_key_is_an_error_naming_the_field() {
    let event = ModelLoaded {
        model: "m".into(),
        local_path: PathBuf::from("/models/x"),
    };
    let error = event.serialize_for_telemetry(&anonymizer()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("field `model`"), "{message}");
    assert!(message.contains("app"), "{message}");
    assert!(serde_json::to_vec(&event.telemetry_view(&anonymizer())).is_err());
}

#[derive(TelemetrySafe)]
#[telemetry(event = "renamed")]
struct Renamed {
    #[telemetry(rename = "searches")]
    total_searches: u32,
    #[telemetry(count, rename = "files")]
    open_files: Vec<String>,
    r#type: &'static str,
}

#[test]
fn rename_and_raw_identifiers_set_the_payload_key() {
    let event = Renamed {
        total_searches: 3,
        open_files: vec!["a".into()],
        r#type: "cli",
    };
    let payload = serde_json::to_value(event.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(payload, json!({"searches": 3, "files": 1, "type": "cli"}));
}

#[derive(TelemetrySafe)]
#[telemetry(event = "ping")]
struct Ping;

#[derive(TelemetrySafe)]
#[telemetry(event = "only_secrets")]
struct OnlySecrets {
    #[telemetry(forbidden)]
    _password: String,
}

#[test]
fn structs_with_nothing_to_send_give_an_empty_object() {
    assert_eq!(
        serde_json::to_string(&Ping.telemetry_view(&anonymizer())).unwrap(),
        "{}"
    );
    let secrets = OnlySecrets {
        _password: "hunter22".into(),
    };
    assert_eq!(
        serde_json::to_string(&secrets.telemetry_view(&anonymizer())).unwrap(),
        "{}"
    );
}

#[derive(TelemetryValue, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[telemetry(rename_all = "snake_case")]
enum Language {
    Rust,
    TypeScript,
    #[telemetry(rename = "c++")]
    Cpp,
}

#[derive(TelemetryValue)]
enum Verbatim {
    DailyReport,
}

#[derive(TelemetrySafe)]
#[telemetry(event = "labels")]
struct Labels {
    primary: Language,
    fallback: Option<Language>,
    #[telemetry(distribution)]
    languages: Vec<Language>,
    per_language: BTreeMap<Language, u32>,
    verbatim: Verbatim,
}

#[test]
fn unit_enums_are_labels_as_values_keys_and_distribution_elements() {
    let event = Labels {
        primary: Language::TypeScript,
        fallback: None,
        languages: vec![Language::Rust, Language::Cpp, Language::Rust],
        per_language: BTreeMap::from([(Language::Rust, 2), (Language::Cpp, 1)]),
        verbatim: Verbatim::DailyReport,
    };
    let payload = serde_json::to_value(event.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({
            "primary": "type_script",
            "fallback": null,
            "languages": {"c++": 1, "rust": 2},
            "per_language": {"c++": 1, "rust": 2},
            "verbatim": "DailyReport",
        })
    );
}

#[derive(TelemetrySafe)]
#[telemetry(event = "maps")]
struct Maps {
    by_name: HashMap<String, u64>,
    #[telemetry(distribution)]
    counted: HashMap<String, u64>,
    scores: Vec<f32>,
}

#[test]
fn hash_maps_are_sent_sorted_so_equal_maps_give_equal_payloads() {
    let by_name: HashMap<String, u64> = (0..50).map(|i| (format!("k{i:02}"), i)).collect();
    let event = Maps {
        counted: by_name.clone(),
        by_name,
        scores: vec![0.5, 1.0],
    };
    let json = serde_json::to_string(&event.telemetry_view(&anonymizer())).unwrap();
    let expected_keys: String = (0..50)
        .map(|i| format!("\"k{i:02}\":{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        json.contains(&format!("\"by_name\":{{{expected_keys}}}")),
        "{json}"
    );
    assert!(
        json.contains(&format!("\"counted\":{{{expected_keys}}}")),
        "{json}"
    );
    assert!(json.ends_with("\"scores\":[0.5,1.0]}"), "{json}");
}

/// Generic events filter each instantiation by the same rules.
#[derive(TelemetrySafe)]
#[telemetry(event = "generic")]
struct Generic<T, L> {
    value: T,
    #[telemetry(count)]
    items: Vec<T>,
    #[telemetry(hash)]
    id: L,
}

#[test]
fn generic_structs_derive_with_bounds_per_conversion() {
    let event = Generic {
        value: 7u8,
        items: vec![1, 2],
        id: PathBuf::from("/x"),
    };
    let payload = serde_json::to_value(event.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({"value": 7, "items": 2, "id": digest(b"/x")})
    );
    assert_eq!(
        <Generic<u8, PathBuf> as TelemetrySafe>::SCHEMA.type_name,
        "Generic"
    );
}

mod renamed_crate {
    // An app that re-exports the toolkit under another name.
    pub(crate) mod toolkit {
        pub(crate) use telemetry_core as core_reexport;
    }

    #[derive(telemetry_core::TelemetrySafe)]
    #[telemetry(crate = "self::toolkit::core_reexport", event = "through_reexport")]
    pub(crate) struct ThroughReexport {
        pub(crate) n: u8,
    }
}

#[test]
fn the_crate_path_can_be_overridden() {
    let event = renamed_crate::ThroughReexport { n: 1 };
    assert_eq!(
        serde_json::to_string(&event.telemetry_view(&anonymizer())).unwrap(),
        r#"{"n":1}"#
    );
}
