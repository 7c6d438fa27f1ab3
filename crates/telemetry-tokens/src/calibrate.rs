//! Calibration: per group of calls, how far the estimator's predictions are
//! from the actual output, whether that is known well enough to act on,
//! and what coefficient to propose; then a backtest of the proposal on
//! calls it was not fitted on.
//!
//! - **Calls used**: successful and not truncated (a truncated call's output
//!   is the ceiling, not what the work needed). All calls count for the
//!   truncation rate.
//! - **Groups**: category × complexity; optionally also by model and by
//!   deliverable count.
//! - **Ratio** of a call: `actual_output_tokens / estimated_output_tokens`.
//!   Per group: n, the median ratio, the MAD, a 95% distribution-free
//!   interval of the median ([`stats::median_interval_ranks`]), outliers
//!   (modified z-score above 3.5, counted and kept), the truncation rate,
//!   and waste, the median of `actual_max_tokens / actual_output_tokens`.
//! - **Confidence**: `n / (n + 2) × 1 / (1 + MAD / median)`, in `[0, 1)`:
//!   it grows with the sample and falls with the dispersion.
//! - **Gates**: a group gets a proposal only with `n ≥ min_samples` and
//!   `confidence ≥ confidence_threshold`; otherwise its reason says which.
//! - **Proposal**: the multiplier is the median ratio (≥ 1.2: the estimator
//!   underestimates; ≤ 0.8: it overestimates), the coefficient the current
//!   one times the multiplier.
//! - **Backtest**: calls whose `(run_id, phase_id)` hashes (FNV-1a, 64 bits)
//!   into the held-out share are set aside; the multiplier is fitted again
//!   on the rest, and the median relative error `|actual − estimate| /
//!   actual` of the held-out calls is shown with the recorded estimates
//!   (before) and with the refitted multiplier applied (after).

use std::collections::HashMap;
use std::fmt::Write as _;

use rusqlite::types::ValueRef;

use crate::estimator::{Coefficients, group_key};
use crate::stats;
use crate::store::{Store, StoreError};

/// A ratio at or above this: the estimator underestimates.
pub const UNDERESTIMATING: f64 = 1.2;
/// A ratio at or below this: the estimator overestimates.
pub const OVERESTIMATING: f64 = 0.8;

/// The knobs of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Fewest successful, untruncated calls for a proposal.
    pub min_samples: usize,
    /// Lowest confidence for a proposal, in `[0, 1]`.
    pub confidence_threshold: f64,
    /// Also group by model.
    pub by_model: bool,
    /// Also group by deliverable count.
    pub by_deliverables: bool,
    /// The held-out share of the backtest, in percent (0 to 90).
    pub holdout_percent: u8,
    /// The coverage of the median's interval (0.95).
    pub interval_level: f64,
}

impl Default for Options {
    /// The reference workflow's `--min-samples 5 --confidence-threshold 0.7`,
    /// a 20% held-out share, 95% intervals.
    fn default() -> Self {
        Self {
            min_samples: 5,
            confidence_threshold: 0.7,
            by_model: false,
            by_deliverables: false,
            holdout_percent: 20,
            interval_level: 0.95,
        }
    }
}

/// A group of calls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKey {
    /// The category.
    pub category: String,
    /// The complexity.
    pub complexity: String,
    /// The model, when grouping by model.
    pub model: Option<String>,
    /// The deliverable count, when grouping by it.
    pub deliverables: Option<i64>,
}

impl GroupKey {
    /// `category/complexity`, then ` · model` and ` · N deliverables`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut label = group_key(&self.category, &self.complexity);
        if let Some(model) = &self.model {
            label.push_str(" · ");
            label.push_str(model);
        }
        if let Some(count) = self.deliverables {
            let _ = write!(label, " · {count} deliverables");
        }
        label
    }
}

/// What the median ratio says about the estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpretation {
    /// Median ratio ≥ 1.2.
    Underestimating,
    /// Median ratio ≤ 0.8.
    Overestimating,
    /// In between.
    WithinRange,
}

impl Interpretation {
    /// Of a median ratio.
    #[must_use]
    pub fn of(ratio: f64) -> Self {
        if ratio >= UNDERESTIMATING {
            Self::Underestimating
        } else if ratio <= OVERESTIMATING {
            Self::Overestimating
        } else {
            Self::WithinRange
        }
    }

    /// `underestimating`, `overestimating`, `within range`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Underestimating => "underestimating",
            Self::Overestimating => "overestimating",
            Self::WithinRange => "within range",
        }
    }
}

/// A proposed change for one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    /// The median ratio.
    pub multiplier: f64,
    /// The coefficient in use.
    pub current_coefficient: f64,
    /// `current × multiplier`, rounded to whole tokens.
    pub proposed_coefficient: f64,
}

/// The backtest of one group, or of every proposal together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backtest {
    /// Held-out calls.
    pub held_out: usize,
    /// The multiplier fitted without them (per group; `None` overall).
    pub fitted_multiplier: Option<f64>,
    /// Median relative error of the recorded estimates.
    pub error_before: f64,
    /// Median relative error with the fitted multiplier.
    pub error_after: f64,
}

/// Everything about one group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupReport {
    /// The group.
    pub key: GroupKey,
    /// Every call in the group.
    pub calls: usize,
    /// Truncated calls among them.
    pub truncated: usize,
    /// Successful, untruncated calls: the sample.
    pub n: usize,
    /// Median of actual / estimated output tokens.
    pub median_ratio: Option<f64>,
    /// Median absolute deviation of the ratios.
    pub mad: Option<f64>,
    /// The interval of the median.
    pub interval: Option<(f64, f64)>,
    /// Ratios with a modified z-score above 3.5.
    pub outliers: usize,
    /// `truncated / calls`.
    pub truncation_rate: f64,
    /// Median of `actual_max_tokens / actual_output_tokens`, over the sample
    /// calls that recorded the ceiling and produced output.
    pub median_waste: Option<f64>,
    /// `n / (n + 2) × 1 / (1 + MAD / median)`.
    pub confidence: f64,
    /// The coefficient in use for the group's category and complexity.
    pub current_coefficient: f64,
    /// The proposal, when the gates passed.
    pub proposal: Option<Proposal>,
    /// Why there is no proposal.
    pub reason: Option<String>,
    /// The group's backtest, when it has a proposal and held-out calls.
    pub backtest: Option<Backtest>,
}

impl GroupReport {
    /// What the median says, if there is one.
    #[must_use]
    pub fn interpretation(&self) -> Option<Interpretation> {
        self.median_ratio.map(Interpretation::of)
    }
}

/// A whole calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The options it ran with.
    pub options: Options,
    /// Rows read.
    pub events: usize,
    /// Successful, untruncated rows.
    pub usable: usize,
    /// Every group, sorted by key.
    pub groups: Vec<GroupReport>,
    /// The backtest of every proposal together.
    pub backtest: Option<Backtest>,
}

impl Calibration {
    /// The groups with a proposal.
    pub fn proposals(&self) -> impl Iterator<Item = (&GroupReport, &Proposal)> {
        self.groups
            .iter()
            .filter_map(|group| group.proposal.as_ref().map(|proposal| (group, proposal)))
    }

    /// Whether the proposals are per category × complexity, the groups the
    /// estimator's coefficients have.
    #[must_use]
    pub fn applicable(&self) -> bool {
        !self.options.by_model && !self.options.by_deliverables
    }
}

/// The options are out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidOptions(pub String);

impl Options {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.min_samples == 0 {
            return Err(InvalidOptions("--min-samples must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.confidence_threshold) {
            return Err(InvalidOptions(format!(
                "--confidence-threshold must be between 0 and 1, got {}",
                self.confidence_threshold
            )));
        }
        if self.holdout_percent > 90 {
            return Err(InvalidOptions(format!(
                "--holdout must be 0 to 90 percent, got {}",
                self.holdout_percent
            )));
        }
        if !(self.interval_level > 0.0 && self.interval_level < 1.0) {
            return Err(InvalidOptions(format!(
                "the interval level must be between 0 and 1, got {}",
                self.interval_level
            )));
        }
        Ok(())
    }
}

/// The calls of one group, as read.
#[derive(Default)]
struct Accumulator {
    calls: usize,
    truncated: usize,
    ratios: Vec<f64>,
    held_out: Vec<bool>,
    waste: Vec<f64>,
}

/// FNV-1a, 64 bits, over the run id, a separator and the phase id.
#[must_use]
pub fn split_hash(run_id: &[u8], phase_id: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in run_id.iter().chain(&[0xff]).chain(phase_id) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// Whether a call is in the held-out share.
#[must_use]
pub fn is_held_out(run_id: &[u8], phase_id: &[u8], holdout_percent: u8) -> bool {
    split_hash(run_id, phase_id) % 100 < u64::from(holdout_percent)
}

fn text(value: ValueRef<'_>) -> &[u8] {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
        _ => b"",
    }
}

fn integer(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(value) => Some(value),
        #[allow(clippy::cast_possible_truncation, reason = "a count stored as a real")]
        ValueRef::Real(value) => Some(value as i64),
        _ => None,
    }
}

/// Calibrates from every row of `store`, against `coefficients` (the ones
/// in use, for the proposed coefficients).
pub fn calibrate(
    store: &Store,
    coefficients: &Coefficients,
    options: &Options,
) -> Result<Calibration, StoreError> {
    let Read {
        keys,
        groups,
        events,
        usable,
    } = read(store, options)?;
    let mut pooled = HeldOutErrors {
        before: Vec::new(),
        after: Vec::new(),
    };
    let mut reports: Vec<GroupReport> = Vec::with_capacity(groups.len());
    for (key, group) in keys.into_iter().zip(groups) {
        let (report, errors) = summarize(key, group, coefficients, options);
        if let Some(errors) = errors {
            pooled.before.extend(errors.before);
            pooled.after.extend(errors.after);
        }
        reports.push(report);
    }
    reports.sort_by(|a, b| a.key.cmp(&b.key));
    let backtest = pooled.summary(None);
    Ok(Calibration {
        options: options.clone(),
        events,
        usable,
        groups: reports,
        backtest,
    })
}

/// Every group's calls, in the order first seen.
struct Read {
    keys: Vec<GroupKey>,
    groups: Vec<Accumulator>,
    events: usize,
    usable: usize,
}

/// One pass over the table, borrowing each row's strings: a group is found
/// by its key's bytes, with no allocation per row.
fn read(store: &Store, options: &Options) -> Result<Read, StoreError> {
    // Only the columns this grouping needs: reading a column is most of
    // the cost.
    let query = format!(
        "SELECT category, complexity, run_id, phase_id, estimated_output_tokens,
                actual_output_tokens, actual_max_tokens, success, truncated, {}, {}
         FROM token_estimation_v2_events",
        if options.by_model { "model" } else { "NULL" },
        if options.by_deliverables {
            "deliverable_count"
        } else {
            "NULL"
        },
    );
    let mut statement = store
        .connection()
        .prepare(&query)
        .map_err(|error| store.error(error))?;
    let mut rows = statement.query([]).map_err(|error| store.error(error))?;
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut keys: Vec<GroupKey> = Vec::new();
    let mut groups: Vec<Accumulator> = Vec::new();
    let mut lookup: Vec<u8> = Vec::new();
    let (mut events, mut usable) = (0, 0);
    while let Some(row) = rows.next().map_err(|error| store.error(error))? {
        let get = |at| row.get_ref(at).map_err(|error| store.error(error));
        let (category, complexity) = (text(get(0)?), text(get(1)?));
        let model = if options.by_model {
            Some(text(get(9)?))
        } else {
            None
        };
        let deliverables = if options.by_deliverables {
            integer(get(10)?)
        } else {
            None
        };
        lookup.clear();
        lookup.extend_from_slice(category);
        lookup.push(0xff);
        lookup.extend_from_slice(complexity);
        if let Some(model) = model {
            lookup.push(0xff);
            lookup.extend_from_slice(model);
        }
        if let Some(count) = deliverables {
            lookup.push(0xff);
            lookup.extend_from_slice(&count.to_le_bytes());
        }
        let at = if let Some(&at) = index.get(lookup.as_slice()) {
            at
        } else {
            let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            keys.push(GroupKey {
                category: lossy(category),
                complexity: lossy(complexity),
                model: model.map(lossy),
                deliverables,
            });
            groups.push(Accumulator::default());
            index.insert(lookup.clone(), groups.len() - 1);
            groups.len() - 1
        };
        let group = &mut groups[at];
        events += 1;
        group.calls += 1;
        let truncated = integer(get(8)?).unwrap_or(0) != 0;
        let success = integer(get(7)?).unwrap_or(0) != 0;
        if truncated {
            group.truncated += 1;
        }
        if !success || truncated {
            continue;
        }
        let (Some(estimated), Some(actual)) = (integer(get(4)?), integer(get(5)?)) else {
            continue;
        };
        if estimated <= 0 || actual < 0 {
            continue;
        }
        usable += 1;
        #[allow(clippy::cast_precision_loss, reason = "token counts far below 2^52")]
        let (estimated, actual) = (estimated as f64, actual as f64);
        group.ratios.push(actual / estimated);
        group.held_out.push(is_held_out(
            text(get(2)?),
            text(get(3)?),
            options.holdout_percent,
        ));
        if let Some(ceiling) = integer(get(6)?)
            && actual > 0.0
        {
            #[allow(clippy::cast_precision_loss, reason = "token counts far below 2^52")]
            group.waste.push(ceiling as f64 / actual);
        }
    }
    Ok(Read {
        keys,
        groups,
        events,
        usable,
    })
}

/// Relative errors of the held-out calls: before (recorded estimate) and
/// after (the fitted multiplier applied). A ratio `r = a / e` gives
/// `|a − e| / a = |1 − 1/r|` and `|a − m e| / a = |1 − m/r|`.
struct HeldOutErrors {
    before: Vec<f64>,
    after: Vec<f64>,
}

impl HeldOutErrors {
    fn summary(&self, fitted_multiplier: Option<f64>) -> Option<Backtest> {
        Some(Backtest {
            held_out: self.before.len(),
            fitted_multiplier,
            error_before: stats::median(&mut self.before.clone())?,
            error_after: stats::median(&mut self.after.clone())?,
        })
    }
}

fn summarize(
    key: GroupKey,
    mut group: Accumulator,
    coefficients: &Coefficients,
    options: &Options,
) -> (GroupReport, Option<HeldOutErrors>) {
    let n = group.ratios.len();
    let mut scratch = Vec::new();
    // Backtest inputs first, while `ratios` and `held_out` are aligned.
    let mut training: Vec<f64> = group
        .ratios
        .iter()
        .zip(&group.held_out)
        .filter(|(_, held)| !**held)
        .map(|(ratio, _)| *ratio)
        .collect();
    let held: Vec<f64> = group
        .ratios
        .iter()
        .zip(&group.held_out)
        .filter(|(_, held)| **held)
        .map(|(ratio, _)| *ratio)
        .collect();
    group.ratios.sort_unstable_by(f64::total_cmp);
    let median_ratio = stats::median_of_sorted(&group.ratios);
    let mad = median_ratio.and_then(|center| stats::mad(&group.ratios, center, &mut scratch));
    let interval = stats::median_interval(&group.ratios, options.interval_level);
    let outliers = match (median_ratio, mad) {
        (Some(center), Some(mad)) => stats::outliers(&group.ratios, center, mad),
        _ => 0,
    };
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let (n_f, truncation_rate) = (
        n as f64,
        if group.calls == 0 {
            0.0
        } else {
            group.truncated as f64 / group.calls as f64
        },
    );
    let confidence = match (median_ratio, mad) {
        (Some(center), Some(mad)) if center > 0.0 => n_f / (n_f + 2.0) / (1.0 + mad / center),
        _ => 0.0,
    };
    let current = coefficients.get(&key.category, &key.complexity);
    let (proposal, reason) = match median_ratio {
        None => (None, Some("no successful, untruncated calls".to_owned())),
        Some(_) if n < options.min_samples => (
            None,
            Some(format!("n = {n} < --min-samples {}", options.min_samples)),
        ),
        Some(_) if confidence < options.confidence_threshold => (
            None,
            Some(format!(
                "confidence {} < --confidence-threshold {}",
                // Cut, not rounded, so that 0.6996 never reads as 0.700.
                (confidence * 1000.0).floor() / 1000.0,
                options.confidence_threshold
            )),
        ),
        Some(multiplier) => (
            Some(Proposal {
                multiplier,
                current_coefficient: current,
                proposed_coefficient: (current * multiplier).round().max(1.0),
            }),
            None,
        ),
    };
    let fitted = stats::median(&mut training);
    let errors = match (proposal, fitted) {
        (Some(_), Some(fitted)) if !held.is_empty() => Some(HeldOutErrors {
            before: held.iter().map(|r| relative_error(*r, 1.0)).collect(),
            after: held.iter().map(|r| relative_error(*r, fitted)).collect(),
        }),
        _ => None,
    };
    let backtest = errors.as_ref().and_then(|errors| errors.summary(fitted));
    let report = GroupReport {
        key,
        calls: group.calls,
        truncated: group.truncated,
        n,
        median_ratio,
        mad,
        interval,
        outliers,
        truncation_rate,
        median_waste: stats::median(&mut group.waste),
        confidence,
        current_coefficient: current,
        proposal,
        reason,
        backtest,
    };
    (report, errors)
}

/// `|a − m e| / a` for a call with ratio `r = a / e`; a call with no output
/// counts as error 1 whatever the estimate.
fn relative_error(ratio: f64, multiplier: f64) -> f64 {
    if ratio <= 0.0 {
        1.0
    } else {
        (1.0 - multiplier / ratio).abs()
    }
}
