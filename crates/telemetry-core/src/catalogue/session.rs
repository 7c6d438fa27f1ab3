use std::collections::BTreeMap;

use crate::TelemetrySafe;
use crate::validate::{self, InvalidEvent};

/// How one session of the application went: searches, latency and tokens,
/// in aggregates only. Build it with [`SessionSummary::new`] or, better, from a
/// [`SessionAggregator`](crate::SessionAggregator).
#[derive(TelemetrySafe, Debug, Clone, PartialEq)]
#[telemetry(event = "session_summary")]
pub struct SessionSummary {
    /// Length of the session in minutes.
    duration_minutes: f64,
    /// Searches performed.
    total_searches: u64,
    /// Searches that returned a result.
    successful_searches: u64,
    /// Searches that failed.
    failed_searches: u64,
    /// Successful searches as a share of all searches, 0 to 1.
    success_rate: f64,
    /// Response times over the session, in milliseconds.
    timing: SessionTiming,
    /// Tokens over the session.
    tokens: SessionTokens,
    /// How much smaller the delivered context was than the naive baseline's, in percent (negative when larger).
    context_reduction_percent: f64,
    /// Estimated savings against the baseline, in US dollars (negative when the tool cost more).
    estimated_cost_savings_usd: f64,
    /// Searches per programming language.
    #[telemetry(distribution)]
    languages: BTreeMap<String, u64>,
    /// Share of each semantic category among the results, summing to 1.
    semantic_categories: BTreeMap<String, f64>,
}

/// Response times of a session, in milliseconds: aggregates only, never one
/// search's time.
#[derive(TelemetrySafe, Debug, Clone, Copy, PartialEq, Default)]
pub struct SessionTiming {
    /// Mean response time.
    pub avg_response_ms: f64,
    /// Median response time.
    pub median_response_ms: f64,
    /// 95th percentile of response time.
    pub p95_response_ms: f64,
}

/// Token counts of a session.
#[derive(TelemetrySafe, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionTokens {
    /// Tokens the tool generated (read, embedded, ranked).
    pub generated: u64,
    /// Tokens the tool delivered to its caller.
    pub delivered: u64,
    /// Tokens saved against the naive baseline.
    pub saved: u64,
}

/// Everything a [`SessionSummary`] holds, checked by [`SessionSummary::new`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionSummaryInput {
    /// Length of the session in minutes; finite, not negative.
    pub duration_minutes: f64,
    /// Searches performed.
    pub total_searches: u64,
    /// Searches that returned a result.
    pub successful_searches: u64,
    /// Searches that failed; with the successful ones, at most `total_searches`.
    pub failed_searches: u64,
    /// Share of successful searches, 0 to 1.
    pub success_rate: f64,
    /// Response times; finite, not negative, `median <= p95`.
    pub timing: SessionTiming,
    /// Token counts.
    pub tokens: SessionTokens,
    /// Context reduction against the baseline in percent; at most 100.
    pub context_reduction_percent: f64,
    /// Estimated savings in US dollars; finite.
    pub estimated_cost_savings_usd: f64,
    /// Searches per language.
    pub languages: BTreeMap<String, u64>,
    /// Share per semantic category; each 0 to 1, summing to 1 (or empty).
    pub semantic_categories: BTreeMap<String, f64>,
}

impl SessionSummary {
    /// Checks every field and builds the event.
    pub fn new(input: SessionSummaryInput) -> Result<Self, InvalidEvent> {
        validate::non_negative("duration_minutes", input.duration_minutes)?;
        if input
            .successful_searches
            .saturating_add(input.failed_searches)
            > input.total_searches
        {
            return Err(InvalidEvent::Inconsistent {
                field: "total_searches",
                problem: format!(
                    "is {}, fewer than the {} successful and {} failed searches",
                    input.total_searches, input.successful_searches, input.failed_searches
                ),
            });
        }
        validate::rate("success_rate", input.success_rate)?;
        let timing = input.timing;
        validate::non_negative("timing.avg_response_ms", timing.avg_response_ms)?;
        validate::non_negative("timing.median_response_ms", timing.median_response_ms)?;
        validate::non_negative("timing.p95_response_ms", timing.p95_response_ms)?;
        if timing.median_response_ms > timing.p95_response_ms {
            return Err(InvalidEvent::Inconsistent {
                field: "timing.p95_response_ms",
                problem: format!(
                    "is {}, below the median of {}",
                    timing.p95_response_ms, timing.median_response_ms
                ),
            });
        }
        validate::percent("context_reduction_percent", input.context_reduction_percent)?;
        validate::finite(
            "estimated_cost_savings_usd",
            input.estimated_cost_savings_usd,
        )?;
        validate::shares("semantic_categories", &input.semantic_categories)?;
        Ok(Self {
            duration_minutes: input.duration_minutes,
            total_searches: input.total_searches,
            successful_searches: input.successful_searches,
            failed_searches: input.failed_searches,
            success_rate: input.success_rate,
            timing,
            tokens: input.tokens,
            context_reduction_percent: input.context_reduction_percent,
            estimated_cost_savings_usd: input.estimated_cost_savings_usd,
            languages: input.languages,
            semantic_categories: input.semantic_categories,
        })
    }

    /// Searches performed.
    #[must_use]
    pub fn total_searches(&self) -> u64 {
        self.total_searches
    }

    /// Successful searches as a share of all searches.
    #[must_use]
    pub fn success_rate(&self) -> f64 {
        self.success_rate
    }

    /// Response times.
    #[must_use]
    pub fn timing(&self) -> SessionTiming {
        self.timing
    }

    /// Token counts.
    #[must_use]
    pub fn tokens(&self) -> SessionTokens {
        self.tokens
    }

    /// Context reduction against the baseline, in percent.
    #[must_use]
    pub fn context_reduction_percent(&self) -> f64 {
        self.context_reduction_percent
    }

    /// Estimated savings in US dollars.
    #[must_use]
    pub fn estimated_cost_savings_usd(&self) -> f64 {
        self.estimated_cost_savings_usd
    }
}
