//! The statistics of calibration, on plain slices: median, median absolute
//! deviation, a distribution-free confidence interval of the median, and
//! outliers by modified z-score. Nothing here is random, so identical input
//! gives identical numbers.

/// The modified z-score above which a value is an outlier (Iglewicz and
/// Hoaglin).
pub const OUTLIER_Z: f64 = 3.5;

/// `0.6745`, the 0.75 quantile of the standard normal: scales the MAD to a
/// standard deviation in the modified z-score.
const MAD_SCALE: f64 = 0.6745;

/// Used instead when the MAD is 0: `sqrt(pi / 2)`, which scales the mean
/// absolute deviation the same way.
const MEAN_AD_SCALE: f64 = 1.253_314;

/// The median of `values`, reordering them; `None` when empty. An even
/// count gives the mean of the two middle values.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (below, middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    let middle = *middle;
    if n % 2 == 1 {
        return Some(middle);
    }
    let lower = below
        .iter()
        .copied()
        .max_by(f64::total_cmp)
        .unwrap_or(middle);
    Some(f64::midpoint(lower, middle))
}

/// The median of values already sorted ascending.
#[must_use]
pub fn median_of_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// The median absolute deviation from `center`: `median(|x - center|)`,
/// unscaled. Uses `scratch` for the deviations.
pub fn mad(values: &[f64], center: f64, scratch: &mut Vec<f64>) -> Option<f64> {
    scratch.clear();
    scratch.extend(values.iter().map(|x| (x - center).abs()));
    median(scratch)
}

/// How many values have a modified z-score above [`OUTLIER_Z`]:
/// `0.6745 × |x − median| / MAD`, or, when the MAD is 0,
/// `|x − median| / (1.2533 × mean absolute deviation)`; none when both are 0.
#[must_use]
pub fn outliers(values: &[f64], center: f64, mad: f64) -> usize {
    if mad > 0.0 {
        return values
            .iter()
            .filter(|x| MAD_SCALE * (*x - center).abs() / mad > OUTLIER_Z)
            .count();
    }
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let mean_ad = values.iter().map(|x| (x - center).abs()).sum::<f64>() / values.len() as f64;
    if mean_ad == 0.0 {
        return 0;
    }
    values
        .iter()
        .filter(|x| (*x - center).abs() / (MEAN_AD_SCALE * mean_ad) > OUTLIER_Z)
        .count()
}

/// The ranks (1-based, into the sorted values) of a distribution-free
/// confidence interval of the median at `level` (0.95): the largest `k`
/// with `P(B ≤ k − 1) ≤ (1 − level) / 2` for `B ~ Binomial(n, 1/2)`, and
/// the interval `[x(k), x(n − k + 1)]`, which covers the median with
/// probability `1 − 2 P(B ≤ k − 1) ≥ level` whatever the distribution.
/// `None` when `n` is too small for any such `k` (below 6 at 95%).
///
/// ```
/// use telemetry_tokens::stats::median_interval_ranks;
///
/// assert_eq!(median_interval_ranks(5, 0.95), None);
/// assert_eq!(median_interval_ranks(6, 0.95), Some((1, 6)));
/// assert_eq!(median_interval_ranks(10, 0.95), Some((2, 9)));
/// assert_eq!(median_interval_ranks(20, 0.95), Some((6, 15)));
/// ```
#[must_use]
pub fn median_interval_ranks(n: usize, level: f64) -> Option<(usize, usize)> {
    let tail = (1.0 - level) / 2.0;
    // P(B = j) in logarithms, so that large n does not underflow the sum
    // before it matters: ln C(n, j) − n ln 2, built term by term.
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let (n_f, ln2) = (n as f64, std::f64::consts::LN_2);
    let mut ln_choose = 0.0_f64;
    let mut cumulative = 0.0_f64;
    let mut k = 0;
    for j in 0..=n / 2 {
        if j > 0 {
            #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
            let j_f = j as f64;
            ln_choose += (n_f - j_f + 1.0).ln() - j_f.ln();
        }
        cumulative += (ln_choose - n_f * ln2).exp();
        // A tiny margin, so that 0.025 computed as 0.02500000001 still counts.
        if cumulative > tail * (1.0 + 1e-9) {
            break;
        }
        k = j + 1;
    }
    (k >= 1).then(|| (k, n - k + 1))
}

/// The interval itself: the values at [`median_interval_ranks`] of
/// `sorted` (ascending).
#[must_use]
pub fn median_interval(sorted: &[f64], level: f64) -> Option<(f64, f64)> {
    let (low, high) = median_interval_ranks(sorted.len(), level)?;
    Some((sorted[low - 1], sorted[high - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0]), Some(3.0));
        assert_eq!(median(&mut [5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_of_sorted(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
        assert_eq!(median_of_sorted(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median_of_sorted(&[]), None);
    }

    #[test]
    fn mad_of_a_known_sample() {
        // |x - 3| = 2, 1, 0, 1, 97 → median 1.
        let values = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(mad(&values, 3.0, &mut Vec::new()), Some(1.0));
        // 0.6745 × 97 / 1 > 3.5; 0.6745 × 2 < 3.5.
        assert_eq!(outliers(&values, 3.0, 1.0), 1);
    }

    #[test]
    fn outliers_when_most_values_are_equal() {
        let values = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0];
        // MAD 0; mean AD 0.4; 4 / (1.2533 × 0.4) ≈ 7.98 > 3.5.
        assert_eq!(outliers(&values, 1.0, 0.0), 1);
        assert_eq!(outliers(&[2.0, 2.0], 2.0, 0.0), 0);
    }

    #[test]
    fn interval_ranks_match_the_binomial_table() {
        // P(B ≤ k−1) for Binomial(n, ½), worked by hand:
        // n=6: P(B=0) = 1/64 = 0.0156 ≤ 0.025, P(B≤1) = 7/64 > → k = 1.
        // n=9: P(B≤1) = 10/512 = 0.0195 ≤ 0.025, P(B≤2) = 46/512 > → k = 2.
        // n=8: P(B≤1) = 9/256 = 0.035 > 0.025 → k = 1.
        assert_eq!(median_interval_ranks(6, 0.95), Some((1, 6)));
        assert_eq!(median_interval_ranks(8, 0.95), Some((1, 8)));
        assert_eq!(median_interval_ranks(9, 0.95), Some((2, 8)));
        assert_eq!(median_interval_ranks(1, 0.95), None);
        // Large n approaches n/2 ± 0.98 √n.
        let (low, high) = median_interval_ranks(10_000, 0.95).unwrap();
        assert_eq!((low, high), (4902, 5099));
    }

    #[test]
    fn the_interval_picks_sorted_values() {
        let sorted: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median_interval(&sorted, 0.95), Some((2.0, 9.0)));
        assert_eq!(median_interval(&sorted[..4], 0.95), None);
    }
}
