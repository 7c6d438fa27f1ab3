//! The published JSON Schema of a trace, generated from the Rust types by
//! `schemars`, and committed as `schema/trace-v1.schema.json` (a test fails
//! when the file is stale, and says how to regenerate it).

use crate::model::Trace;

/// The JSON Schema (draft 2020-12) of [`Trace`].
///
/// ```
/// let schema = telemetry_trace::json_schema();
/// assert_eq!(schema["title"], "Trace");
/// assert!(schema["required"].as_array().unwrap().iter().any(|field| field == "events"));
/// ```
#[must_use]
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(Trace).to_value()
}
