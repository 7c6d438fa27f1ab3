//! Turns the searches of a session into a [`SessionSummary`], in constant
//! memory and without keeping anything a user typed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::catalogue::{SessionSummary, SessionSummaryInput, SessionTiming, SessionTokens};
use crate::sketch::QuantileSketch;
use crate::{CostModel, InvalidEvent};

/// At most this many distinct languages or categories are counted by name;
/// later ones count as [`OTHER_LABEL`], so memory stays bounded.
pub const MAX_LABELS: usize = 64;

/// The label that stands for languages or categories past [`MAX_LABELS`],
/// and for labels that do not look like identifiers.
pub const OTHER_LABEL: &str = "other";

/// One search, as the application reports it. Holds no query text.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchRecord<'a> {
    /// How long the search took.
    pub duration: Duration,
    /// Whether it returned a result.
    pub success: bool,
    /// Tokens the tool generated for it.
    pub tokens_generated: u64,
    /// Tokens it delivered to its caller.
    pub tokens_delivered: u64,
    /// Tokens it saved against the naive baseline.
    pub tokens_saved: u64,
    /// The programming language searched, if known (`rust`, `c++`).
    pub language: Option<&'a str>,
    /// Semantic categories of its results (`function`, `test`).
    pub semantic_categories: &'a [&'a str],
}

/// Collects searches and summarises them as a [`SessionSummary`].
///
/// Memory is constant: response times go into a quantile sketch whose median
/// and p95 are within 1% of the exact values, and at most [`MAX_LABELS`]
/// languages and categories are kept by name. Labels must look like
/// identifiers (1 to 64 ASCII letters, digits, `_ - . + #`); anything else (a
/// path, a sentence) counts as [`OTHER_LABEL`], so it can never reach a payload.
///
/// ```
/// use std::time::Duration;
/// use telemetry_core::{SearchRecord, SessionAggregator};
///
/// let mut session = SessionAggregator::new();
/// session.record(&SearchRecord {
///     duration: Duration::from_millis(40),
///     success: true,
///     tokens_delivered: 1_200,
///     tokens_saved: 8_800,
///     language: Some("rust"),
///     semantic_categories: &["function"],
///     ..SearchRecord::default()
/// });
/// let summary = session.summary_with_duration(Duration::from_secs(600)).unwrap();
/// assert_eq!(summary.context_reduction_percent(), 88.0);
/// ```
#[derive(Debug, Clone)]
pub struct SessionAggregator {
    started: Instant,
    cost: CostModel,
    successful: u64,
    failed: u64,
    response_ms: QuantileSketch,
    tokens: SessionTokens,
    languages: BTreeMap<String, u64>,
    categories: BTreeMap<String, u64>,
}

impl Default for SessionAggregator {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionAggregator {
    /// A new session, starting now, with the default [`CostModel`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_cost_model(CostModel::default())
    }

    /// A new session, starting now, pricing saved tokens with `cost`.
    #[must_use]
    pub fn with_cost_model(cost: CostModel) -> Self {
        Self {
            started: Instant::now(),
            cost,
            successful: 0,
            failed: 0,
            response_ms: QuantileSketch::default(),
            tokens: SessionTokens::default(),
            languages: BTreeMap::new(),
            categories: BTreeMap::new(),
        }
    }

    /// Adds one search.
    pub fn record(&mut self, search: &SearchRecord<'_>) {
        if search.success {
            self.successful += 1;
        } else {
            self.failed += 1;
        }
        self.response_ms.add(search.duration.as_secs_f64() * 1000.0);
        self.tokens.generated = self
            .tokens
            .generated
            .saturating_add(search.tokens_generated);
        self.tokens.delivered = self
            .tokens
            .delivered
            .saturating_add(search.tokens_delivered);
        self.tokens.saved = self.tokens.saved.saturating_add(search.tokens_saved);
        if let Some(language) = search.language {
            count_label(&mut self.languages, language);
        }
        for category in search.semantic_categories {
            count_label(&mut self.categories, category);
        }
    }

    /// Searches recorded so far.
    #[must_use]
    pub fn searches(&self) -> u64 {
        self.successful + self.failed
    }

    /// The summary of the session so far, its duration measured from
    /// [`new`](Self::new) (or the last [`take_summary`](Self::take_summary)).
    pub fn summary(&self) -> Result<SessionSummary, InvalidEvent> {
        self.summary_with_duration(self.started.elapsed())
    }

    /// The summary so far, for a session of the given duration.
    pub fn summary_with_duration(
        &self,
        duration: Duration,
    ) -> Result<SessionSummary, InvalidEvent> {
        let total = self.searches();
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let success_rate = if total == 0 {
            0.0
        } else {
            self.successful as f64 / total as f64
        };
        let baseline_tokens = self.tokens.delivered.saturating_add(self.tokens.saved);
        #[allow(clippy::cast_precision_loss, reason = "token counts far below 2^52")]
        let context_reduction_percent = if baseline_tokens == 0 {
            0.0
        } else {
            self.tokens.saved as f64 / baseline_tokens as f64 * 100.0
        };
        let category_total: u64 = self.categories.values().sum();
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let semantic_categories = self
            .categories
            .iter()
            .map(|(category, count)| (category.clone(), *count as f64 / category_total as f64))
            .collect();
        SessionSummary::new(SessionSummaryInput {
            duration_minutes: duration.as_secs_f64() / 60.0,
            total_searches: total,
            successful_searches: self.successful,
            failed_searches: self.failed,
            success_rate,
            timing: SessionTiming {
                avg_response_ms: self.response_ms.mean(),
                median_response_ms: self.response_ms.quantile(0.5),
                p95_response_ms: self.response_ms.quantile(0.95),
            },
            tokens: self.tokens,
            context_reduction_percent,
            estimated_cost_savings_usd: self.cost.cost_usd(self.tokens.saved),
            languages: self.languages.clone(),
            semantic_categories,
        })
    }

    /// The summary so far; then starts a new period from now, with nothing
    /// recorded.
    pub fn take_summary(&mut self) -> Result<SessionSummary, InvalidEvent> {
        let summary = self.summary();
        *self = Self::with_cost_model(self.cost);
        summary
    }
}

/// Counts `label` by name while it looks like an identifier and there is
/// room; otherwise as [`OTHER_LABEL`].
fn count_label(counts: &mut BTreeMap<String, u64>, label: &str) {
    let looks_safe = (1..=64).contains(&label.len())
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '#'));
    let named = counts.len() - usize::from(counts.contains_key(OTHER_LABEL));
    let key = if looks_safe && (counts.contains_key(label) || named < MAX_LABELS - 1) {
        label
    } else {
        OTHER_LABEL
    };
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(
        ms: u64,
        success: bool,
        language: &'static str,
        categories: &'static [&'static str],
    ) -> SearchRecord<'static> {
        SearchRecord {
            duration: Duration::from_millis(ms),
            success,
            tokens_generated: 10,
            tokens_delivered: 100,
            tokens_saved: 300,
            language: Some(language),
            semantic_categories: categories,
        }
    }

    #[test]
    fn summarises_counts_rates_tokens_and_shares() {
        let mut session = SessionAggregator::new();
        session.record(&search(10, true, "rust", &["function", "test"]));
        session.record(&search(20, true, "rust", &["function"]));
        session.record(&search(30, false, "python", &[]));
        session.record(&search(40, true, "go", &["function", "type"]));
        let summary = session
            .summary_with_duration(Duration::from_secs(90))
            .unwrap();
        let json = serde_json::to_value(summary.telemetry_view(&crate::Anonymizer::new(
            &crate::HashKey::from_bytes([0; 32]),
        )))
        .unwrap();
        assert_eq!(json["duration_minutes"], 1.5);
        assert_eq!(json["total_searches"], 4);
        assert_eq!(json["successful_searches"], 3);
        assert_eq!(json["failed_searches"], 1);
        assert_eq!(json["success_rate"], 0.75);
        assert_eq!(
            json["tokens"],
            serde_json::json!({"generated": 40, "delivered": 400, "saved": 1200})
        );
        assert_eq!(json["context_reduction_percent"], 75.0);
        assert_eq!(
            json["languages"],
            serde_json::json!({"go": 1, "python": 1, "rust": 2})
        );
        assert_eq!(
            json["semantic_categories"],
            serde_json::json!({"function": 0.6, "test": 0.2, "type": 0.2})
        );
        assert!((summary.estimated_cost_savings_usd() - 1200.0 / 1000.0 * 0.0054).abs() < 1e-12);
        assert_eq!(summary.timing().avg_response_ms, 25.0);
        let median = summary.timing().median_response_ms;
        assert!((median - 20.0).abs() <= 0.2, "{median}");
    }

    use crate::TelemetrySafe;

    #[test]
    fn an_empty_session_is_a_valid_summary_of_zeros() {
        let summary = SessionAggregator::new()
            .summary_with_duration(Duration::ZERO)
            .unwrap();
        assert_eq!(summary.total_searches(), 0);
        assert_eq!(summary.success_rate(), 0.0);
        assert_eq!(summary.context_reduction_percent(), 0.0);
        assert_eq!(summary.timing(), SessionTiming::default());
    }

    #[test]
    fn labels_that_are_not_identifiers_or_past_the_limit_count_as_other() {
        let mut counts = BTreeMap::new();
        count_label(&mut counts, "/home/ana/secret.rs");
        count_label(&mut counts, "a sentence someone typed");
        count_label(&mut counts, "c++");
        for i in 0..100 {
            count_label(&mut counts, &format!("lang{i}"));
        }
        assert_eq!(counts.len(), MAX_LABELS);
        assert_eq!(counts["c++"], 1);
        assert_eq!(counts[OTHER_LABEL], 2 + 100 - (MAX_LABELS as u64 - 2));
        assert!(
            !counts
                .keys()
                .any(|key| key.contains('/') || key.contains(' '))
        );
    }

    #[test]
    fn take_summary_starts_a_new_period() {
        let mut session = SessionAggregator::new();
        session.record(&search(10, true, "rust", &[]));
        assert_eq!(session.take_summary().unwrap().total_searches(), 1);
        assert_eq!(session.searches(), 0);
        assert_eq!(session.summary().unwrap().total_searches(), 0);
    }

    #[test]
    fn ten_million_searches_keep_memory_constant() {
        // Not a timing test: it shows the state does not grow with searches.
        let mut session = SessionAggregator::new();
        for i in 0..10_000_000u64 {
            session.record(&SearchRecord {
                duration: Duration::from_micros(100 + i % 50_000),
                success: i % 7 != 0,
                language: Some(["rust", "go", "python"][(i % 3) as usize]),
                ..SearchRecord::default()
            });
        }
        assert_eq!(session.searches(), 10_000_000);
        assert!(session.response_ms.count() == 10_000_000);
        assert_eq!(session.languages.len(), 3);
        let summary = session.summary().unwrap();
        assert!(summary.timing().p95_response_ms >= summary.timing().median_response_ms);
    }
}
