//! Derives an event, filters it, and prints what would be sent.
//!
//! Run it with `cargo run --example session`.

use std::path::PathBuf;

use telemetry_core::{Anonymizer, HashKey, TelemetryEvent, TelemetrySafe};

/// Aggregated statistics for one session of a code-search tool.
#[derive(TelemetrySafe)]
#[telemetry(event = "session_summary")]
struct Session {
    /// Searches performed.
    total_searches: u64,
    /// The repository searched, as a keyed hash: countable, not readable.
    #[telemetry(hash)]
    repository: PathBuf,
    /// Whether a custom configuration file was used.
    #[telemetry(boolean)]
    custom_config: Option<PathBuf>,
    /// How many files were open.
    #[telemetry(count)]
    open_files: Vec<PathBuf>,
    /// Length of the last query, in characters.
    #[telemetry(text_count)]
    query: String,
    /// Searches per language.
    #[telemetry(distribution)]
    languages: Vec<String>,
    /// Tokens returned, summed over all searches.
    #[telemetry(aggregate)]
    tokens_per_search: Vec<u64>,
    /// Mean tokens per search.
    #[telemetry(aggregate = "mean", rename = "mean_tokens_per_search")]
    tokens_for_mean: Vec<u64>,
    /// The user's API key: never sent.
    #[telemetry(forbidden)]
    api_key: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tokens = vec![1_840, 920, 2_310, 405];
    let session = Session {
        total_searches: 4,
        repository: PathBuf::from("/home/ana/work/invoice-service"),
        custom_config: Some(PathBuf::from("/home/ana/.config/search/config.toml")),
        open_files: vec![
            PathBuf::from("/home/ana/work/invoice-service/src/main.rs"),
            PathBuf::from("/home/ana/work/invoice-service/src/parse.rs"),
        ],
        query: String::from("where do we round VAT amounts"),
        languages: vec![
            "rust".into(),
            "rust".into(),
            "sql".into(),
            "markdown".into(),
        ],
        tokens_for_mean: tokens.clone(),
        tokens_per_search: tokens,
        api_key: String::from("sk-live-do-not-send"),
    };

    // A real installation draws its key once and keeps it; see HashKey::generate.
    let anonymizer = Anonymizer::new(&HashKey::generate()?);

    println!("event: {}", Session::EVENT);
    println!(
        "{}",
        serde_json::to_string_pretty(&session.telemetry_view(&anonymizer))?
    );
    println!();
    println!("fields and how each was anonymised:");
    for field in Session::SCHEMA.fields {
        println!(
            "  {:<24} {:<16} {:<28} {}",
            field.key, field.rust_type, field.conversion, field.doc
        );
    }
    Ok(())
}
