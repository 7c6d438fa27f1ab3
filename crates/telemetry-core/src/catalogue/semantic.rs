use std::collections::BTreeMap;

use crate::validate::{self, InvalidEvent};
use crate::{TelemetrySafe, TelemetryValue};

/// The period a [`SemanticValidation`] covers.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[telemetry(rename_all = "snake_case")]
pub enum Period {
    /// One session.
    Session,
    /// One day.
    Daily,
    /// One week.
    Weekly,
    /// One month.
    Monthly,
}

/// Whether the tool's semantic categories track how code is really used:
/// usage per category and its correlation with the importance the tool
/// assigned.
#[derive(TelemetrySafe, Debug, Clone, PartialEq)]
#[telemetry(event = "semantic_validation")]
pub struct SemanticValidation {
    /// The period covered.
    period: Period,
    /// Chunks of code analysed in the period.
    chunks_analyzed: u64,
    /// How often results of each category were used.
    #[telemetry(distribution)]
    category_usage: BTreeMap<String, u64>,
    /// Share of each category among used results, summing to 1.
    category_frequency: BTreeMap<String, f64>,
    /// Correlation between usage and assigned importance, -1 to 1.
    usage_importance_correlation: f64,
    /// A short note from the application (at most 280 characters), never user text.
    note: String,
}

/// Everything a [`SemanticValidation`] holds, checked by
/// [`SemanticValidation::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticValidationInput {
    /// The period covered.
    pub period: Period,
    /// Chunks analysed.
    pub chunks_analyzed: u64,
    /// Uses per category.
    pub category_usage: BTreeMap<String, u64>,
    /// Share per category; each 0 to 1, summing to 1 (or empty).
    pub category_frequency: BTreeMap<String, f64>,
    /// Correlation, -1 to 1; negative correlations are valid.
    pub usage_importance_correlation: f64,
    /// A short note; may be empty, at most 280 characters.
    pub note: String,
}

impl SemanticValidation {
    /// The longest note accepted, in characters.
    pub const MAX_NOTE_CHARS: usize = 280;

    /// Checks every field and builds the event.
    pub fn new(input: SemanticValidationInput) -> Result<Self, InvalidEvent> {
        validate::shares("category_frequency", &input.category_frequency)?;
        validate::within(
            "usage_importance_correlation",
            input.usage_importance_correlation,
            -1.0,
            1.0,
        )?;
        if !input.note.is_empty() {
            validate::text("note", &input.note, Self::MAX_NOTE_CHARS)?;
        }
        Ok(Self {
            period: input.period,
            chunks_analyzed: input.chunks_analyzed,
            category_usage: input.category_usage,
            category_frequency: input.category_frequency,
            usage_importance_correlation: input.usage_importance_correlation,
            note: input.note,
        })
    }
}
