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

/// The field tables of `docs/traces.md`, written from the schema: one table
/// per object (the trace, then each definition; an event's kinds each get
/// one), with each field's type, whether it is required, and the first
/// sentence of its description.
#[allow(
    clippy::too_many_lines,
    reason = "one small writer per piece of the schema, nested where it is used"
)]
fn reference(schema: &serde_json::Value) -> String {
    use std::fmt::Write as _;

    fn type_of(field: &serde_json::Value) -> String {
        if let Some(reference) = field["$ref"].as_str() {
            return format!("`{}`", reference.rsplit('/').next().unwrap_or(reference));
        }
        if let Some(options) = field["anyOf"].as_array() {
            let names: Vec<String> = options.iter().map(type_of).collect();
            return names.join(" or ");
        }
        if let Some(constant) = field["const"].as_str() {
            return format!("`\"{constant}\"`");
        }
        if let Some(values) = field["enum"].as_array() {
            let names: Vec<String> = values
                .iter()
                .filter_map(|value| value.as_str().map(|text| format!("`{text}`")))
                .collect();
            return names.join(", ");
        }
        let kinds: Vec<String> = match &field["type"] {
            serde_json::Value::String(kind) => vec![kind.clone()],
            serde_json::Value::Array(kinds) => kinds
                .iter()
                .filter_map(|kind| kind.as_str().map(str::to_owned))
                .collect(),
            _ => vec!["any".to_owned()],
        };
        kinds
            .into_iter()
            .map(|kind| match kind.as_str() {
                "array" => format!("array of {}", type_of(&field["items"])),
                "object" if field["additionalProperties"].is_object() => {
                    format!("map to {}", type_of(&field["additionalProperties"]))
                }
                _ => kind,
            })
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// Rustdoc's links, `` [`x`](path) `` and `` [`x`] ``, as their text.
    fn unlinked(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("[`") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find("`]") else {
                out.push_str(&rest[open..]);
                return out;
            };
            out.push_str(&after[..=close]);
            rest = &after[close + 2..];
            if let Some(target) = rest.strip_prefix('(') {
                rest = target.find(')').map_or(rest, |end| &target[end + 1..]);
            }
        }
        out.push_str(rest);
        out
    }

    fn first_sentence(text: &str) -> String {
        let flat = unlinked(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        let end = flat.find(". ").map_or(flat.len(), |at| at + 1);
        flat[..end].replace('|', "\\|")
    }

    fn table(out: &mut String, title: &str, object: &serde_json::Value) {
        let Some(properties) = object["properties"].as_object() else {
            return;
        };
        let required: Vec<&str> = object["required"]
            .as_array()
            .map(|names| names.iter().filter_map(|name| name.as_str()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "**{title}**\n\n| field | type | required | meaning |\n| --- | --- | --- | --- |"
        );
        for (name, field) in properties {
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | {} |",
                type_of(field),
                if required.contains(&name.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                first_sentence(field["description"].as_str().unwrap_or_default()),
            );
        }
        if object["additionalProperties"].is_object() {
            let _ = writeln!(
                out,
                "| *any other* | {} | no | |",
                type_of(&object["additionalProperties"])
            );
        }
        out.push('\n');
    }

    let mut out = String::new();
    table(&mut out, "Trace", schema);
    for (name, definition) in schema["$defs"].as_object().into_iter().flatten() {
        if let Some(kinds) = definition["oneOf"].as_array() {
            table(&mut out, &format!("{name} (every kind)"), definition);
            for kind in kinds {
                let tag = kind["properties"]["type"]["const"].as_str().unwrap_or("?");
                table(&mut out, &format!("{name} `{tag}`"), kind);
            }
        } else {
            table(&mut out, name, definition);
        }
    }
    out
}

#[test]
fn the_field_reference_in_the_docs_is_current() {
    const BEGIN: &str = "<!-- schema:begin (written by `TELEMETRY_UPDATE_SCHEMA=1 cargo test -p telemetry-trace --test schema`) -->\n";
    const END: &str = "<!-- schema:end -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/traces.md");
    let document = std::fs::read_to_string(&path).expect("docs/traces.md exists");
    let (before, rest) = document
        .split_once(BEGIN)
        .expect("docs/traces.md has the schema:begin marker");
    let (current, after) = rest
        .split_once(END)
        .expect("docs/traces.md has the schema:end marker");
    let generated = reference(&telemetry_trace::json_schema());
    if std::env::var_os("TELEMETRY_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, format!("{before}{BEGIN}{generated}{END}{after}")).unwrap();
        return;
    }
    assert!(
        current == generated,
        "the field reference in {} is stale: regenerate it with \
         `TELEMETRY_UPDATE_SCHEMA=1 cargo test -p telemetry-trace --test schema` and review the diff",
        path.display()
    );
}
