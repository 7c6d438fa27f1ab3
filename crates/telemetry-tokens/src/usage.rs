//! What one LLM call used: the [`TokenUsage`] record, and the checks a
//! record passes before it is stored (numbers that make sense, string fields
//! that pass the guard).
//!
//! No prompt or completion text is ever part of a record: only labels (run,
//! phase, provider, model, category, complexity) and counts.

use std::fmt;

use telemetry_runtime::Timestamp;
use telemetry_runtime::guard::{self, Detector};

/// The longest string field, in bytes: labels, not text.
pub const MAX_LABEL_BYTES: usize = 200;

/// Where the token counts of a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CountsSource {
    /// The provider's response reported them.
    Provider,
    /// They were estimated locally (a tokenizer, or characters / 4).
    Estimated,
}

impl CountsSource {
    /// `provider` or `estimated`, as stored.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Estimated => "estimated",
        }
    }

    /// Reads the stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "provider" => Some(Self::Provider),
            "estimated" => Some(Self::Estimated),
            _ => None,
        }
    }
}

impl fmt::Display for CountsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The token counts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCounts {
    /// Input (prompt) tokens.
    pub input: u64,
    /// Output (completion) tokens.
    pub output: u64,
    /// Input tokens served from the provider's cache, when it says.
    pub cached_input: Option<u64>,
    /// Reasoning tokens, when the provider reports them.
    pub reasoning: Option<u64>,
    /// Reported by the provider, or estimated.
    pub source: CountsSource,
}

impl TokenCounts {
    /// Counts the provider reported.
    #[must_use]
    pub const fn reported(input: u64, output: u64) -> Self {
        Self {
            input,
            output,
            cached_input: None,
            reasoning: None,
            source: CountsSource::Provider,
        }
    }

    /// Counts estimated locally.
    #[must_use]
    pub const fn estimated(input: u64, output: u64) -> Self {
        Self {
            input,
            output,
            cached_input: None,
            reasoning: None,
            source: CountsSource::Estimated,
        }
    }

    /// With the cached input tokens the provider reported.
    #[must_use]
    pub const fn with_cached_input(mut self, tokens: u64) -> Self {
        self.cached_input = Some(tokens);
        self
    }

    /// With the reasoning tokens the provider reported.
    #[must_use]
    pub const fn with_reasoning(mut self, tokens: u64) -> Self {
        self.reasoning = Some(tokens);
        self
    }

    /// The counts to record: the provider's whenever it reported any, the
    /// estimate only when it did not. Provider-reported counts always win.
    ///
    /// ```
    /// use telemetry_tokens::{CountsSource, TokenCounts};
    ///
    /// let estimate = TokenCounts::estimated(1200, 900);
    /// let best = TokenCounts::prefer_reported(Some(TokenCounts::reported(1180, 1020)), estimate);
    /// assert_eq!((best.output, best.source), (1020, CountsSource::Provider));
    /// assert_eq!(TokenCounts::prefer_reported(None, estimate), estimate);
    /// ```
    #[must_use]
    pub fn prefer_reported(reported: Option<Self>, estimate: Self) -> Self {
        match reported {
            Some(mut counts) => {
                counts.source = CountsSource::Provider;
                counts
            }
            None => Self {
                source: CountsSource::Estimated,
                ..estimate
            },
        }
    }
}

/// One LLM call, as recorded: what the estimator intended, what was sent,
/// what was used, and how it ended. Field names are the columns of the
/// `token_estimation_v2_events` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUsage {
    /// When the call finished.
    pub timestamp: Timestamp,
    /// The run the call belongs to (`telemetry-collection-v4`).
    pub run_id: String,
    /// The phase within the run (`telemetry-p1-string-util`).
    pub phase_id: String,
    /// The provider (`anthropic`, `openai`, `gemini`).
    pub provider: String,
    /// The model id.
    pub model: String,
    /// The kind of work (`implementation`, `tests`, `docs` …).
    pub category: String,
    /// `low`, `medium` or `high` (any label is kept as given).
    pub complexity: String,
    /// How many deliverables (files) the call was asked for.
    pub deliverable_count: u32,
    /// The estimator's prediction of the output tokens: what calibration
    /// compares the actual output with.
    pub estimated_output_tokens: u64,
    /// The estimator's budget, before any enforcement (provider caps,
    /// retries with a larger budget).
    pub selected_budget: u64,
    /// The ceiling finally sent to the provider as `max_tokens`.
    pub actual_max_tokens: u64,
    /// What the call used.
    pub counts: TokenCounts,
    /// Whether the call's output was usable.
    pub success: bool,
    /// Whether the provider stopped at the ceiling.
    pub truncated: bool,
}

/// Why a record was refused. Each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A string field looks like personal or secret data.
    #[error("token usage refused: field `{field}` {} ({detector}); record labels, never text", .detector.description())]
    Guard {
        /// The field.
        field: &'static str,
        /// What the guard saw.
        detector: Detector,
    },
    /// A field's value cannot be right.
    #[error("token usage refused: field `{field}` {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong, in words.
        reason: &'static str,
    },
}

impl TokenUsage {
    /// The string fields, by column name.
    #[must_use]
    pub fn labels(&self) -> [(&'static str, &str); 6] {
        [
            ("run_id", &self.run_id),
            ("phase_id", &self.phase_id),
            ("provider", &self.provider),
            ("model", &self.model),
            ("category", &self.category),
            ("complexity", &self.complexity),
        ]
    }

    /// Checks the record as the store requires: every string field 1 to
    /// [`MAX_LABEL_BYTES`] bytes, on one line, passing the guard; an
    /// estimate of at least one token (calibration divides by it).
    pub fn validate(&self) -> Result<(), RecordError> {
        for (field, value) in self.labels() {
            check_label(field, value)?;
        }
        if self.estimated_output_tokens == 0 {
            return Err(RecordError::Invalid {
                field: "estimated_output_tokens",
                reason: "is 0; an estimate is at least one token",
            });
        }
        Ok(())
    }
}

/// One string field: short, one line, not empty, passing the guard.
pub(crate) fn check_label(field: &'static str, value: &str) -> Result<(), RecordError> {
    if value.trim().is_empty() {
        return Err(RecordError::Invalid {
            field,
            reason: "is empty",
        });
    }
    if value.len() > MAX_LABEL_BYTES {
        return Err(RecordError::Invalid {
            field,
            reason: "is longer than 200 bytes; record a label, not text",
        });
    }
    if value.contains(['\n', '\r']) {
        return Err(RecordError::Invalid {
            field,
            reason: "spans several lines; record a label, not text",
        });
    }
    if let Some(detector) = guard::detect(value) {
        return Err(RecordError::Guard { field, detector });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> TokenUsage {
        TokenUsage {
            timestamp: Timestamp::parse("2026-01-23T12:00:00Z").unwrap(),
            run_id: "run-1".into(),
            phase_id: "phase-1".into(),
            provider: "anthropic".into(),
            model: "claude-sonnet-4".into(),
            category: "implementation".into(),
            complexity: "low".into(),
            deliverable_count: 2,
            estimated_output_tokens: 2000,
            selected_budget: 8192,
            actual_max_tokens: 8192,
            counts: TokenCounts::reported(1000, 1800),
            success: true,
            truncated: false,
        }
    }

    #[test]
    fn a_clean_record_passes() {
        assert_eq!(usage().validate(), Ok(()));
    }

    #[test]
    fn a_flagged_string_field_is_refused_naming_the_field() {
        let mut flagged = usage();
        flagged.phase_id = "/home/ana/secret-project".into();
        let error = flagged.validate().unwrap_err();
        assert_eq!(
            error,
            RecordError::Guard {
                field: "phase_id",
                detector: Detector::UnixPath
            }
        );
        assert!(error.to_string().contains("field `phase_id`"), "{error}");
        let mut mailed = usage();
        mailed.model = "ana@example.com".into();
        assert!(matches!(
            mailed.validate(),
            Err(RecordError::Guard { field: "model", .. })
        ));
    }

    #[test]
    fn text_instead_of_a_label_is_refused() {
        let mut long = usage();
        long.category = "x".repeat(201);
        assert!(matches!(
            long.validate(),
            Err(RecordError::Invalid {
                field: "category",
                ..
            })
        ));
        let mut lines = usage();
        lines.run_id = "a\nb".into();
        assert!(matches!(
            lines.validate(),
            Err(RecordError::Invalid {
                field: "run_id",
                ..
            })
        ));
        let mut empty = usage();
        empty.provider = " ".into();
        assert!(matches!(
            empty.validate(),
            Err(RecordError::Invalid {
                field: "provider",
                ..
            })
        ));
        let mut zero = usage();
        zero.estimated_output_tokens = 0;
        assert!(matches!(
            zero.validate(),
            Err(RecordError::Invalid {
                field: "estimated_output_tokens",
                ..
            })
        ));
    }

    #[test]
    fn reported_counts_win_over_the_estimate() {
        let estimate = TokenCounts::estimated(100, 50);
        let reported = TokenCounts::estimated(90, 70).with_reasoning(5);
        let best = TokenCounts::prefer_reported(Some(reported), estimate);
        assert_eq!(best.source, CountsSource::Provider);
        assert_eq!((best.input, best.output, best.reasoning), (90, 70, Some(5)));
        let fallback = TokenCounts::prefer_reported(None, TokenCounts::reported(1, 2));
        assert_eq!(fallback.source, CountsSource::Estimated);
    }
}
