//! The committed JSON Schema is the one the types generate.

use std::path::Path;

#[test]
fn the_committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/trace-v1.schema.json");
    let generated = telemetry_trace::json_schema();
    if std::env::var_os("TELEMETRY_UPDATE_SCHEMA").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed: Option<serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    // Compared as values, so that the order of members does not matter.
    assert!(
        committed.as_ref() == Some(&generated),
        "{} is missing or stale: regenerate it with \
         `TELEMETRY_UPDATE_SCHEMA=1 cargo test -p telemetry-trace --test schema` \
         and review the diff",
        path.display()
    );
}

#[test]
fn the_schema_names_every_event_type_and_the_flattened_toolchains() {
    let schema = telemetry_trace::json_schema().to_string();
    for name in [
        "file_edit",
        "cmd_run",
        "test_run",
        "commit",
        "rationale_note",
        "next_step",
        "buffer_hash_after",
        "server_redactions",
    ] {
        assert!(schema.contains(&format!("\"{name}\"")), "{name}");
    }
}
