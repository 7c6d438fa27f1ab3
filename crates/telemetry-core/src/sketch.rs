//! A quantile sketch with bounded memory and a relative error guarantee.
//!
//! Values are counted in logarithmic buckets, as in DDSketch (Masson, Rim and
//! Lee, VLDB 2019): bucket `i` holds the values in `(γ^(i-1), γ^i]` with
//! `γ = (1 + α) / (1 - α)`, and reports `2γ^i / (γ + 1)`, which is within a
//! relative error `α` of every value in the bucket. Ranks are counted exactly,
//! so a quantile estimate is within `α` (here 1%) of the true quantile.
//!
//! Values are clamped to `[MIN_VALUE, MAX_VALUE]` (1 µs to about 11.6 days
//! when counting milliseconds), which bounds the number of buckets to about
//! 1,500: some 12 KiB however many values are recorded.

/// Relative accuracy of every quantile.
pub(crate) const RELATIVE_ACCURACY: f64 = 0.01;
/// Values below this (including zero) count as this.
const MIN_VALUE: f64 = 1e-3;
/// Values above this count as this.
const MAX_VALUE: f64 = 1e9;

#[derive(Debug, Clone)]
pub(crate) struct QuantileSketch {
    /// `ln γ`, precomputed.
    ln_gamma: f64,
    /// Bucket index of `counts[0]`.
    offset: i32,
    counts: Vec<u64>,
    total: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Default for QuantileSketch {
    fn default() -> Self {
        let gamma = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
        Self {
            ln_gamma: gamma.ln(),
            offset: 0,
            counts: Vec::new(),
            total: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl QuantileSketch {
    /// Records one value; NaN is ignored.
    pub(crate) fn add(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        let value = value.clamp(MIN_VALUE, MAX_VALUE);
        let index = self.index(value);
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(0);
        } else if index < self.offset {
            let grow = usize::try_from(self.offset - index).unwrap_or(0);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = index;
        } else if let Ok(position) = usize::try_from(index - self.offset)
            && position >= self.counts.len()
        {
            self.counts.resize(position + 1, 0);
        }
        let position = usize::try_from(index - self.offset).unwrap_or(0);
        self.counts[position] += 1;
        self.total += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    /// Values recorded.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean of the (clamped) values, 0 when empty.
    pub(crate) fn mean(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let total = self.total as f64;
        self.sum / total
    }

    /// The `q`-quantile (`0.5` for the median), 0 when empty, by nearest
    /// rank: the true value is the smallest element with at least `q * n`
    /// elements at or below it (for four values, the p95 is the largest);
    /// the estimate is within 1% of it.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "q is clamped to 0..=1, so the rank is within 0..=total"
        )]
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64)
            .saturating_sub(1)
            .min(self.total - 1);
        let mut seen = 0;
        for (position, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen > rank {
                let index = self.offset + i32::try_from(position).unwrap_or(i32::MAX);
                return self.value(index).clamp(self.min, self.max);
            }
        }
        self.max
    }

    fn index(&self, value: f64) -> i32 {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "clamped values give indices within ±1100"
        )]
        let index = (value.ln() / self.ln_gamma).ceil() as i32;
        index
    }

    fn value(&self, index: i32) -> f64 {
        let gamma = self.ln_gamma.exp();
        2.0 * (f64::from(index) * self.ln_gamma).exp() / (gamma + 1.0)
    }

    /// Buckets in use, for the memory bound.
    #[cfg(test)]
    fn buckets(&self) -> usize {
        self.counts.len()
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
}
