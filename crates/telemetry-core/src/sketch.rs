//! A quantile sketch with bounded memory and a relative error guarantee:
//! DDSketch (Masson, Rim and Lee, VLDB 2019), from `sketches-ddsketch`.
//!
//! Values are counted in logarithmic buckets: bucket `k` holds the values in
//! `[γ^k, γ^(k+1))` with `γ = (1 + α) / (1 - α)` and reports a value within
//! a relative error `α` of every value in it. Ranks are counted exactly, so
//! a quantile estimate is within `α` (here 1%) of the true quantile.
//!
//! This wrapper adds what the aggregator needs and the crate does otherwise:
//!
//! - **Nearest rank.** The crate reads the quantile `q` at rank
//!   `floor(q (n - 1))`; the aggregator's is the smallest value with at
//!   least `q n` values at or below it (for four values, the p95 is the
//!   largest), so the rank is converted.
//! - **Exact bounds.** An estimate is clamped to the exact minimum and
//!   maximum, so one value is its own median.
//! - **Bounded memory.** Values are clamped to `[MIN_VALUE, MAX_VALUE]`
//!   (1 µs to about 11.6 days when counting milliseconds), which bounds the
//!   buckets to about 1,400; the crate's own bound, `MAX_BUCKETS`, is
//!   never reached (past it, it would merge the lowest buckets).
//! - **Merging.** Sketches of parts of a stream [`merge`](QuantileSketch::merge)
//!   into the sketch of the whole, with the same error bound, so that
//!   threads or files can be summarised apart.

use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of every quantile: an estimate is within 1% of the
/// true value.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Values below this (including zero) count as this.
const MIN_VALUE: f64 = 1e-3;
/// Values above this count as this.
const MAX_VALUE: f64 = 1e9;
/// The crate's bound on buckets.
const MAX_BUCKETS: u32 = 2_048;

/// Quantiles of a stream of non-negative values in bounded memory, each
/// within [`RELATIVE_ACCURACY`] of the truth.
#[derive(Clone)]
pub struct QuantileSketch(DDSketch);

impl std::fmt::Debug for QuantileSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuantileSketch")
            .field("count", &self.0.count())
            .finish_non_exhaustive()
    }
}

impl Default for QuantileSketch {
    fn default() -> Self {
        // Values are clamped above MIN_VALUE, so none counts as zero.
        Self(DDSketch::new(Config::new(
            RELATIVE_ACCURACY,
            MAX_BUCKETS,
            MIN_VALUE / 2.0,
        )))
    }
}

impl QuantileSketch {
    /// Records one value; NaN is ignored.
    pub fn add(&mut self, value: f64) {
        if !value.is_nan() {
            self.0.add(value.clamp(MIN_VALUE, MAX_VALUE));
        }
    }

    /// Values recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.0.count() as u64
    }

    /// Adds every value recorded by `other`, as if they had been recorded
    /// here: the sketch of two parts of a stream is the sketch of the whole.
    pub fn merge(&mut self, other: &Self) {
        // Both sketches have the same configuration (there is no other
        // constructor), which is the one case the crate cannot refuse.
        let _ = self.0.merge(&other.0);
    }

    /// Exact mean of the (clamped) values, 0 when empty.
    #[must_use]
    pub fn mean(&self) -> f64 {
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let total = self.0.count() as f64;
        self.0.sum().map_or(0.0, |sum| sum / total)
    }

    /// The `q`-quantile (`0.5` for the median), 0 when empty, by nearest
    /// rank: the true value is the smallest element with at least `q * n`
    /// elements at or below it (for four values, the p95 is the largest);
    /// the estimate is within 1% of it.
    #[must_use]
    pub fn quantile(&self, q: f64) -> f64 {
        let (Some(min), Some(max)) = (self.0.min(), self.0.max()) else {
            return 0.0;
        };
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let total = self.0.count() as f64;
        // The nearest rank, from 0.
        let rank = ((q.clamp(0.0, 1.0) * total).ceil() - 1.0).clamp(0.0, total - 1.0);
        // The crate's rank is floor(q' (n - 1)): aim at the middle of the
        // rank, and at 1 (its maximum) for the last.
        let crate_q = if rank >= total - 1.0 {
            1.0
        } else {
            (rank + 0.5) / (total - 1.0)
        };
        match self.0.quantile(crate_q) {
            Ok(Some(estimate)) => estimate.clamp(min, max),
            Ok(None) | Err(_) => 0.0,
        }
    }

    /// Buckets in use, for the memory bound.
    #[cfg(test)]
    fn buckets(&self) -> usize {
        self.0.length()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (`SplitMix64`), so the test is repeatable.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            #[allow(clippy::cast_precision_loss)]
            let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
            unit
        }
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q * sorted.len() as f64).ceil() as usize).saturating_sub(1);
        sorted[rank.min(sorted.len() - 1)]
    }

    #[test]
    fn a_small_sessions_p95_is_its_slowest_response() {
        let mut sketch = QuantileSketch::default();
        for value in [2.0, 0.16, 0.17, 0.175] {
            sketch.add(value);
        }
        assert!((sketch.quantile(0.95) - 2.0).abs() / 2.0 <= RELATIVE_ACCURACY);
        assert!((sketch.quantile(0.5) - 0.17).abs() / 0.17 <= RELATIVE_ACCURACY);
        assert!((sketch.quantile(0.0) - 0.16).abs() / 0.16 <= RELATIVE_ACCURACY);
    }

    #[test]
    fn quantiles_of_100k_random_durations_are_within_the_stated_bound() {
        let mut random = SplitMix(7);
        // Log-normal-ish response times from 0.1 ms to a few seconds.
        let values: Vec<f64> = (0..100_000)
            .map(|_| (random.next() * 10.0 - 2.0).exp())
            .collect();
        let mut sketch = QuantileSketch::default();
        for value in &values {
            sketch.add(*value);
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let truth = exact(&sorted, q);
            let estimate = sketch.quantile(q);
            let error = (estimate - truth).abs() / truth;
            assert!(
                error <= RELATIVE_ACCURACY,
                "q={q}: estimate {estimate}, truth {truth}, error {error}"
            );
        }
        let mean: f64 = values.iter().sum::<f64>() / 100_000.0;
        assert!((sketch.mean() - mean).abs() / mean < 1e-9);
    }

    #[test]
    fn memory_is_bounded_whatever_the_values() {
        let mut sketch = QuantileSketch::default();
        for exponent in -30..30 {
            sketch.add(10f64.powi(exponent));
            sketch.add(-1.0);
            sketch.add(f64::INFINITY);
        }
        sketch.add(f64::NAN);
        assert_eq!(sketch.count(), 180);
        assert!(sketch.buckets() <= 1_500, "{} buckets", sketch.buckets());
    }

    #[test]
    fn empty_and_single_values() {
        let mut sketch = QuantileSketch::default();
        assert_eq!(sketch.quantile(0.5), 0.0);
        assert_eq!(sketch.mean(), 0.0);
        sketch.add(42.0);
        assert_eq!(
            sketch.quantile(0.5),
            42.0,
            "clamped to the exact min and max"
        );
        assert_eq!(sketch.quantile(0.95), 42.0);
    }

    #[test]
    fn merged_parts_answer_as_the_whole() {
        let mut random = SplitMix(11);
        let values: Vec<f64> = (0..10_000).map(|_| random.next() * 1000.0).collect();
        let mut whole = QuantileSketch::default();
        let (mut left, mut right) = (QuantileSketch::default(), QuantileSketch::default());
        for (i, value) in values.iter().enumerate() {
            whole.add(*value);
            if i % 3 == 0 {
                left.add(*value);
            } else {
                right.add(*value);
            }
        }
        left.merge(&right);
        assert_eq!(left.count(), 10_000);
        for q in [0.5, 0.95, 0.99] {
            assert_eq!(left.quantile(q), whole.quantile(q), "q={q}");
        }
    }
}
