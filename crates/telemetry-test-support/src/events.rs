//! The event every benchmark measures: a realistic 12-field search event
//! without hashed fields, deriving both `TelemetrySafe` (the filtered
//! serializer) and serde's `Serialize` (the plain one it is compared with).
//!
//! Every benchmark, the end-to-end one outside the workspace included,
//! measures this event, so that every row of the table is comparable.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;
use telemetry_core::{TelemetrySafe, TelemetryValue};

/// How a search was run.
#[derive(TelemetryValue, Serialize, Clone, Copy, Debug)]
#[telemetry(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Keyword search.
    Lexical,
    /// Embedding search.
    Semantic,
    /// Both, fused.
    Hybrid,
}

/// One search, as a code-search tool would report it.
#[derive(TelemetrySafe, Serialize, Clone, Debug)]
#[telemetry(event = "search_completed")]
pub struct SearchCompleted {
    /// The ranking backend.
    pub backend: String,
    /// How the search was run.
    pub mode: SearchMode,
    /// The language of the repository.
    pub language: String,
    /// The embedding model, a public id.
    pub model: String,
    /// Results returned.
    pub results: u32,
    /// Tokens delivered to the caller.
    pub tokens_delivered: u64,
    /// Tokens saved against reading whole files.
    pub tokens_saved: u64,
    /// Wall-clock time of the search.
    pub latency_ms: f64,
    /// Whether the index was warm.
    pub cache_hit: bool,
    /// The query, sent as its length in characters.
    #[telemetry(text_count)]
    pub query: String,
    /// The files searched, sent as their number.
    #[telemetry(count)]
    pub files: Vec<String>,
    /// A custom configuration file, sent as whether there is one.
    #[telemetry(boolean)]
    pub config: Option<PathBuf>,
}

impl SearchCompleted {
    /// A typical instance; `i` varies the numbers.
    #[must_use]
    pub fn sample(i: u64) -> Self {
        Self {
            backend: "bm25+ann".to_owned(),
            mode: SearchMode::Hybrid,
            language: "rust".to_owned(),
            model: "sentence-transformers/all-MiniLM-L6-v2".to_owned(),
            results: 12,
            tokens_delivered: 1_840 + i % 97,
            tokens_saved: 12_650 + i % 89,
            latency_ms: 41.25,
            cache_hit: !i.is_multiple_of(3),
            query: "fn parse_invoice returns Result".to_owned(),
            files: vec![
                "src/invoice.rs".to_owned(),
                "src/parse.rs".to_owned(),
                "tests/invoice.rs".to_owned(),
            ],
            config: Some(PathBuf::from("/home/ana/.config/search.toml")),
        }
    }
}

/// The naive filter: the raw struct to a `serde_json::Value`, then each
/// field's rule applied to the tree (what an application without the derive
/// would write), then the tree to JSON.
pub fn naive_filtered(event: &SearchCompleted, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let Value::Object(mut map) = serde_json::to_value(event)? else {
        unreachable!("a struct serializes as an object");
    };
    for (key, value) in &mut map {
        let filtered = match (key.as_str(), &*value) {
            ("query", Value::String(text)) => Value::from(text.chars().count()),
            ("files", Value::Array(items)) => Value::from(items.len()),
            ("config", config) => Value::Bool(!config.is_null()),
            _ => continue,
        };
        *value = filtered;
    }
    serde_json::to_writer(out, &map)
}
