//! The calibration patch (`token_estimator_calibration_YYYYMMDD_HHMMSS.json`)
//! and applying it: calibration never changes coefficients by itself;
//! [`plan`] shows what a patch would change in a coefficients file, and
//! [`Plan::write`] writes it, a separate and explicit step.
//!
//! The patch has a `coefficients` object like a coefficients file, so the
//! estimator loads a patch as it is; `groups` carries every statistic of
//! the report for machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::estimator::{Coefficients, CoefficientsError, default_coefficient};

/// The `format` every patch names.
pub const FORMAT: &str = "telemetry-tokens calibration patch";

/// A calibration patch, as written and read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    /// Always [`FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// When the calibration ran (RFC 3339, UTC).
    pub generated_at: String,
    /// The database it read.
    pub database: String,
    /// The options, as flags would give them.
    pub options: PatchOptions,
    /// Rows read.
    pub events: usize,
    /// Successful, untruncated rows.
    pub usable: usize,
    /// Whether `coefficients` may be applied: false when grouped by model
    /// or deliverable count, whose groups the estimator does not have.
    pub applicable: bool,
    /// The proposed coefficients, `category/complexity` → tokens.
    pub coefficients: BTreeMap<String, f64>,
    /// Every group's statistics.
    pub groups: Vec<PatchGroup>,
    /// The backtest of every proposal together.
    pub backtest: Option<PatchBacktest>,
}

/// The options of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "the fields are the command's flags")]
pub struct PatchOptions {
    pub min_samples: usize,
    pub confidence_threshold: f64,
    pub by_model: bool,
    pub by_deliverables: bool,
    pub holdout_percent: u8,
}

/// One group's statistics; see [`GroupReport`](crate::calibrate::GroupReport).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "documented on GroupReport, field by field")]
pub struct PatchGroup {
    pub group: String,
    pub category: String,
    pub complexity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliverable_count: Option<i64>,
    pub calls: usize,
    pub truncated: usize,
    pub n: usize,
    pub median_ratio: Option<f64>,
    pub mad: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    pub outliers: usize,
    pub truncation_rate: f64,
    pub median_waste: Option<f64>,
    pub confidence: f64,
    pub interpretation: Option<String>,
    pub current_coefficient: f64,
    pub proposed_multiplier: Option<f64>,
    pub proposed_coefficient: Option<f64>,
    pub reason: Option<String>,
    pub backtest: Option<PatchBacktest>,
}

/// A backtest; see [`Backtest`](crate::calibrate::Backtest).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "documented on Backtest, field by field")]
pub struct PatchBacktest {
    pub held_out: usize,
    pub fitted_multiplier: Option<f64>,
    pub median_error_before: f64,
    pub median_error_after: f64,
}

/// A patch or coefficients file that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The patch could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The patch is not a calibration patch.
    #[error("{path}: not a calibration patch: {reason}")]
    NotAPatch {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column when JSON is malformed.
        reason: String,
    },
    /// The patch's groups are not the estimator's.
    #[error(
        "{path}: this calibration grouped by model or deliverable count, which the estimator's coefficients are not; calibrate without --by-model and --by-deliverables to get a patch to apply"
    )]
    NotApplicable {
        /// The file.
        path: PathBuf,
    },
    /// The coefficients file is unusable.
    #[error(transparent)]
    Coefficients(#[from] CoefficientsError),
    /// Writing the coefficients file failed.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Patch {
    /// Reads and checks a patch file.
    pub fn load(path: &Path) -> Result<Self, ApplyError> {
        let text = std::fs::read_to_string(path).map_err(|source| ApplyError::Read {
            path: path.to_owned(),
            source,
        })?;
        let not_a_patch = |reason: String| ApplyError::NotAPatch {
            path: path.to_owned(),
            reason,
        };
        let parsed: Self =
            serde_json::from_str(&text).map_err(|error| not_a_patch(error.to_string()))?;
        if parsed.format != FORMAT || parsed.version != 1 {
            return Err(not_a_patch(format!(
                "format {:?} version {}, expected {FORMAT:?} version 1",
                parsed.format, parsed.version
            )));
        }
        // The same rules as a coefficients file.
        Coefficients::parse(&text, &path.display().to_string())?;
        Ok(parsed)
    }

    /// The patch as pretty JSON, with a final newline.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// One coefficient a patch changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `category/complexity`.
    pub group: String,
    /// The file's value, or `None` when the estimator used its default.
    pub before: Option<f64>,
    /// The default the estimator used when `before` is `None`.
    pub default: f64,
    /// The patch's value.
    pub after: f64,
}

/// What applying a patch would do to a coefficients file.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The coefficients file.
    pub path: PathBuf,
    /// Whether it exists yet.
    pub exists: bool,
    /// The coefficients after.
    pub after: Coefficients,
    /// What changes, by group; unchanged values are left out.
    pub changes: Vec<Change>,
}

/// Works out what `patch` would change in the coefficients file at
/// `coefficients` (which need not exist yet). Writes nothing.
pub fn plan(patch_path: &Path, coefficients: &Path) -> Result<Plan, ApplyError> {
    let patch = Patch::load(patch_path)?;
    if !patch.applicable {
        return Err(ApplyError::NotApplicable {
            path: patch_path.to_owned(),
        });
    }
    let exists = coefficients.exists();
    let before = if exists {
        Coefficients::load(coefficients)?
    } else {
        Coefficients::default()
    };
    let mut after = before.clone();
    let mut changes = Vec::new();
    for (group, value) in &patch.coefficients {
        let old = before.coefficients.get(group).copied();
        let complexity = group
            .split_once('/')
            .map_or("", |(_, complexity)| complexity);
        if old != Some(*value) {
            changes.push(Change {
                group: group.clone(),
                before: old,
                default: default_coefficient(complexity),
                after: *value,
            });
        }
        after.coefficients.insert(group.clone(), *value);
    }
    Ok(Plan {
        path: coefficients.to_owned(),
        exists,
        after,
        changes,
    })
}

impl Plan {
    /// The diff, one line per change:
    /// `implementation/low: 2000 (default) -> 2800 (x1.40)`.
    #[must_use]
    pub fn diff(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "--- {}{}",
            self.path.display(),
            if self.exists {
                ""
            } else {
                " (does not exist yet)"
            }
        );
        let _ = writeln!(out, "+++ {} (patched)", self.path.display());
        if self.changes.is_empty() {
            let _ = writeln!(
                out,
                "  no change: the file already has every proposed coefficient"
            );
        }
        for change in &self.changes {
            let (before, note) = match change.before {
                Some(value) => (value, ""),
                None => (change.default, " (default)"),
            };
            let _ = writeln!(
                out,
                "  {}: {before}{note} -> {} (x{:.2})",
                change.group,
                change.after,
                change.after / before
            );
        }
        out
    }

    /// Writes the coefficients file: a temporary file beside it, then a
    /// rename, so that a reader never sees half a file.
    pub fn write(&self) -> Result<(), ApplyError> {
        let write_error = |source| ApplyError::Write {
            path: self.path.clone(),
            source,
        };
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        std::fs::write(&temporary, self.after.to_json()).map_err(write_error)?;
        std::fs::rename(&temporary, &self.path).map_err(write_error)
    }
}
