//! The outputs of a calibration: a Markdown report for people and a JSON
//! patch for the estimator, named `token_estimator_calibration_YYYYMMDD_HHMMSS`
//! with `.md` and `.json`. Identical input and time give byte-identical
//! files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use telemetry_runtime::Timestamp;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::calibrate::{Backtest, Calibration, GroupReport};
use crate::patch::{FORMAT, Patch, PatchBacktest, PatchGroup, PatchOptions};

/// The confidence formula, as the report prints it.
pub const CONFIDENCE_FORMULA: &str = "confidence = n / (n + 2) × 1 / (1 + MAD / median)";

/// `token_estimator_calibration_20260123_120000`, for a calibration at `at`.
#[must_use]
pub fn file_stem(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let stamp = at
        .format(format_description!(
            "[year][month][day]_[hour][minute][second]"
        ))
        .unwrap_or_default();
    format!("token_estimator_calibration_{stamp}")
}

/// The report and patch files in `dir` for a calibration at `at`.
#[must_use]
pub fn file_paths(dir: &Path, at: OffsetDateTime) -> (PathBuf, PathBuf) {
    let stem = file_stem(at);
    (
        dir.join(format!("{stem}.md")),
        dir.join(format!("{stem}.json")),
    )
}

/// Four decimals: enough for ratios, and stable in text.
fn round4(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

fn backtest(backtest: &Backtest) -> PatchBacktest {
    PatchBacktest {
        held_out: backtest.held_out,
        fitted_multiplier: backtest.fitted_multiplier.map(round4),
        median_error_before: round4(backtest.error_before),
        median_error_after: round4(backtest.error_after),
    }
}

/// The patch of `calibration`, which read `database` at `at`.
#[must_use]
pub fn patch(calibration: &Calibration, database: &Path, at: OffsetDateTime) -> Patch {
    let options = &calibration.options;
    let applicable = calibration.applicable();
    let coefficients = if applicable {
        calibration
            .proposals()
            .map(|(group, proposal)| (group.key.label(), proposal.proposed_coefficient))
            .collect()
    } else {
        std::collections::BTreeMap::new()
    };
    Patch {
        format: FORMAT.to_owned(),
        version: 1,
        generated_at: Timestamp::from(at).to_string(),
        database: database.display().to_string(),
        options: PatchOptions {
            min_samples: options.min_samples,
            confidence_threshold: options.confidence_threshold,
            by_model: options.by_model,
            by_deliverables: options.by_deliverables,
            holdout_percent: options.holdout_percent,
        },
        events: calibration.events,
        usable: calibration.usable,
        applicable,
        coefficients,
        groups: calibration.groups.iter().map(patch_group).collect(),
        backtest: calibration.backtest.as_ref().map(backtest),
    }
}

fn patch_group(group: &GroupReport) -> PatchGroup {
    let key = &group.key;
    PatchGroup {
        group: key.label(),
        category: key.category.clone(),
        complexity: key.complexity.clone(),
        model: key.model.clone(),
        deliverable_count: key.deliverables,
        calls: group.calls,
        truncated: group.truncated,
        n: group.n,
        median_ratio: group.median_ratio.map(round4),
        mad: group.mad.map(round4),
        ci95_low: group.interval.map(|(low, _)| round4(low)),
        ci95_high: group.interval.map(|(_, high)| round4(high)),
        outliers: group.outliers,
        truncation_rate: round4(group.truncation_rate),
        median_waste: group.median_waste.map(round4),
        confidence: round4(group.confidence),
        interpretation: group.interpretation().map(|i| i.as_str().to_owned()),
        current_coefficient: group.current_coefficient,
        proposed_multiplier: group.proposal.map(|proposal| round4(proposal.multiplier)),
        proposed_coefficient: group.proposal.map(|proposal| proposal.proposed_coefficient),
        reason: group.reason.clone(),
        backtest: group.backtest.as_ref().map(backtest),
    }
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{value:.digits$}"))
}

fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// The Markdown report.
#[must_use]
#[allow(clippy::too_many_lines, reason = "one section after another")]
pub fn markdown(calibration: &Calibration, database: &Path, at: OffsetDateTime) -> String {
    let options = &calibration.options;
    let stem = file_stem(at);
    let mut out = String::new();
    let _ = writeln!(out, "# Token estimator calibration\n");
    let _ = writeln!(out, "- generated: {}", Timestamp::from(at));
    let _ = writeln!(out, "- database: `{}`", database.display());
    let _ = writeln!(
        out,
        "- calls: {} recorded, {} successful and not truncated (only these are calibrated on)",
        calibration.events, calibration.usable
    );
    let mut grouping = String::from("category × complexity");
    if options.by_model {
        grouping.push_str(" × model");
    }
    if options.by_deliverables {
        grouping.push_str(" × deliverable count");
    }
    let _ = writeln!(out, "- groups: {grouping}");
    let _ = writeln!(
        out,
        "- gates: `--min-samples {} --confidence-threshold {:.2}`; {CONFIDENCE_FORMULA}",
        options.min_samples, options.confidence_threshold
    );
    let _ = writeln!(
        out,
        "- ratio = actual_output_tokens / estimated_output_tokens (≥ {:.1}: underestimating, ≤ {:.1}: overestimating); waste = actual_max_tokens / actual_output_tokens",
        crate::calibrate::UNDERESTIMATING,
        crate::calibrate::OVERESTIMATING
    );
    let _ = writeln!(out, "\n## Groups\n");
    let _ = writeln!(
        out,
        "| group | calls | n | median ratio | 95% CI of median | MAD | outliers | truncation rate | median waste | confidence | reading | proposal |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    );
    for group in &calibration.groups {
        let interval = group.interval.map_or_else(
            || "— (n < 6)".to_owned(),
            |(low, high)| format!("{low:.3} – {high:.3}"),
        );
        let proposal = match (&group.proposal, &group.reason) {
            (Some(proposal), _) => format!(
                "×{:.2}: {} → {}",
                proposal.multiplier, proposal.current_coefficient, proposal.proposed_coefficient
            ),
            (None, Some(reason)) => format!("none: {reason}"),
            (None, None) => "none".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {interval} | {} | {} | {} | {} | {:.2} | {} | {proposal} |",
            group.key.label(),
            group.calls,
            group.n,
            opt(group.median_ratio, 3),
            opt(group.mad, 3),
            group.outliers,
            percent(group.truncation_rate),
            opt(group.median_waste, 2),
            group.confidence,
            group.interpretation().map_or("—", |i| i.as_str()),
        );
    }
    let _ = writeln!(out, "\n## Proposals\n");
    let mut any = false;
    for (group, proposal) in calibration.proposals() {
        any = true;
        let change = (proposal.multiplier - 1.0) * 100.0;
        let _ = writeln!(
            out,
            "- {}: {} → {} ({change:+.0}%, n={}, confidence={:.2}, {}){}",
            group.key.label(),
            proposal.current_coefficient,
            proposal.proposed_coefficient,
            group.n,
            group.confidence,
            group.interpretation().map_or("—", |i| i.as_str()),
            group
                .backtest
                .as_ref()
                .map_or_else(String::new, |b| format!(
                    "; backtest on {} held-out calls: median error {} → {}",
                    b.held_out,
                    percent(b.error_before),
                    percent(b.error_after)
                )),
        );
    }
    if !any {
        let _ = writeln!(
            out,
            "No high-confidence groups: collect more successful calls (≥ 10 per group), or lower `--confidence-threshold`."
        );
    }
    if !calibration.applicable() && any {
        let _ = writeln!(
            out,
            "\nThese groups are finer than the estimator's (category × complexity): the patch lists them but proposes no coefficients to apply."
        );
    }
    let _ = writeln!(out, "\n## Backtest\n");
    let _ = writeln!(
        out,
        "Calls whose (run_id, phase_id) hash into the held-out {}% are set aside; each proposal's multiplier is fitted again on the rest and applied to the held-out calls' recorded estimates.\n",
        options.holdout_percent
    );
    match &calibration.backtest {
        Some(b) => {
            let _ = writeln!(
                out,
                "Over {} held-out calls of the groups with a proposal: median relative error |actual − estimate| / actual {} before, {} after.",
                b.held_out,
                percent(b.error_before),
                percent(b.error_after)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "No backtest: no group with a proposal has held-out calls."
            );
        }
    }
    let _ = writeln!(out, "\n## Next steps\n");
    let _ = writeln!(
        out,
        "1. Review the table: median ratios, confidence ≥ {:.2}, sample counts.",
        options.confidence_threshold
    );
    let _ = writeln!(
        out,
        "2. `telemetry tokens apply {stem}.json --coefficients FILE` shows the change; add `--yes` to write it."
    );
    let _ = writeln!(
        out,
        "3. Test with a new run, then commit the coefficients with this report as the justification."
    );
    out
}
