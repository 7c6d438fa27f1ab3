//! Generated calls, for the walk-through in `docs/tokens.md`, the tests and
//! the benchmark: 30 groups (ten categories × `low`, `medium`, `high`),
//! each with a true mean output that the estimator does not know, its own
//! dispersion, some truncations, failures and outliers. The same seed gives
//! the same calls.
//!
//! A group's true output is fixed in tokens, so calls simulated after
//! applying a calibration patch show the estimate moving towards it.

use telemetry_runtime::Timestamp;

use crate::estimator::{Estimator, default_coefficient};
use crate::usage::{TokenCounts, TokenUsage};

/// The simulated categories: the docs variants, tests, implementation, and
/// more.
pub const CATEGORIES: [&str; 10] = [
    "implementation",
    "tests",
    "docs",
    "refactor",
    "bugfix",
    "documentation",
    "config",
    "doc_synthesis",
    "migration",
    "doc_sot_update",
];

/// The simulated complexities.
pub const COMPLEXITIES: [&str; 3] = ["low", "medium", "high"];

const MODELS: [(&str, &str); 3] = [
    ("anthropic", "claude-sonnet-4"),
    ("openai", "gpt-4.1"),
    ("gemini", "gemini-2.5-pro"),
];

/// The largest `max_tokens` the simulated providers accept.
const PROVIDER_CAP: u64 = 32_000;

/// `SplitMix64`: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    #[allow(clippy::cast_precision_loss, reason = "53 bits, exactly")]
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Roughly standard normal: the sum of four uniforms, centred and
    /// scaled (no transcendental functions, so identical on every platform).
    fn normal(&mut self) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        (sum - 2.0) * 3.0_f64.sqrt()
    }

    fn below(&mut self, n: usize) -> usize {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "n is small"
        )]
        let at = (self.unit() * n as f64) as usize;
        at.min(n - 1)
    }
}

/// A group's truth: how its actual output compares with the default
/// coefficient, and how much calls vary.
#[must_use]
pub fn truth(group: usize) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss, reason = "small indices")]
    let spread = |step: usize| ((group * step) % 30) as f64 / 29.0;
    (0.6 + spread(7), 0.04 + 0.4 * spread(11))
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The seed.
    pub seed: u64,
    /// How many calls.
    pub calls: usize,
    /// The run ids' prefix (`sim` gives `sim-run-0`, `sim-run-1` …).
    pub run_prefix: String,
    /// Calls per run.
    pub calls_per_run: usize,
}

impl Default for Simulation {
    fn default() -> Self {
        Self {
            seed: 42,
            calls: 300,
            run_prefix: "sim".to_owned(),
            calls_per_run: 10,
        }
    }
}

impl Simulation {
    /// The calls, estimated with `estimator`. Groups are skewed: the first
    /// categories are common, the last rare, so that a small simulation has
    /// groups below the sample gate.
    pub fn records<'e>(&self, estimator: &'e Estimator) -> impl Iterator<Item = TokenUsage> + 'e {
        let mut rng = Rng(self.seed);
        let start = time::macros::datetime!(2026-01-05 09:00:00 UTC);
        let (prefix, per_run) = (self.run_prefix.clone(), self.calls_per_run.max(1));
        (0..self.calls).map(move |call| {
            let u = rng.unit();
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "in [0, 30)"
            )]
            let group = ((u * u * u * 30.0) as usize).min(29);
            let (category, complexity) = (CATEGORIES[group / 3], COMPLEXITIES[group % 3]);
            let (provider, model) = MODELS[rng.below(MODELS.len())];
            let estimate = estimator.estimate(category, complexity);
            let (multiplier, sigma) = truth(group);
            let mut factor = (1.0 + sigma * rng.normal()).max(0.05);
            if rng.unit() < 0.01 {
                factor *= 3.0;
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "positive and far below u64::MAX"
            )]
            let wanted = (default_coefficient(complexity) * multiplier * factor)
                .round()
                .max(1.0) as u64;
            let ceiling = estimate.budget.min(PROVIDER_CAP);
            let truncated = wanted >= ceiling;
            let output = wanted.min(ceiling);
            let deliverables = 1 + rng.below(5);
            let input = 1500 + 1200 * deliverables as u64 + rng.next() % 800;
            let counts = if rng.unit() < 0.95 {
                TokenCounts::reported(input, output).with_cached_input(input / 4)
            } else {
                TokenCounts::estimated(input, output)
            };
            let success = rng.unit() >= 0.03;
            let seconds = i64::try_from(call).unwrap_or(i64::MAX).saturating_mul(7);
            TokenUsage {
                timestamp: Timestamp::from(start + time::Duration::seconds(seconds)),
                run_id: format!("{prefix}-run-{}", call / per_run),
                phase_id: format!("phase-{call}"),
                provider: provider.to_owned(),
                model: model.to_owned(),
                category: category.to_owned(),
                complexity: complexity.to_owned(),
                deliverable_count: u32::try_from(deliverables).unwrap_or(1),
                estimated_output_tokens: estimate.output_tokens,
                selected_budget: estimate.budget,
                actual_max_tokens: ceiling,
                counts,
                success,
                truncated,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_calls() {
        let estimator = Estimator::default();
        let simulation = Simulation::default();
        let first: Vec<TokenUsage> = simulation.records(&estimator).collect();
        let second: Vec<TokenUsage> = simulation.records(&estimator).collect();
        assert_eq!(first, second);
        assert_eq!(first.len(), 300);
        assert!(first.iter().all(|usage| usage.validate().is_ok()));
        let other = Simulation {
            seed: 7,
            ..Simulation::default()
        };
        assert_ne!(other.records(&estimator).collect::<Vec<_>>(), first);
    }

    #[test]
    fn truncated_calls_stop_at_the_ceiling() {
        let estimator = Estimator::default();
        let simulation = Simulation {
            calls: 3000,
            ..Simulation::default()
        };
        let truncated: Vec<TokenUsage> = simulation
            .records(&estimator)
            .filter(|usage| usage.truncated)
            .collect();
        assert!(!truncated.is_empty());
        assert!(
            truncated
                .iter()
                .all(|usage| usage.counts.output == usage.actual_max_tokens)
        );
    }
}
