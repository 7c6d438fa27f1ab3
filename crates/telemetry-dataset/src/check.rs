//! `telemetry dataset check`: alerts per module and signature when the
//! success rate, the p99 latency or the p99 cost crosses its threshold
//! ([`QualityThresholds`]) over a window of recent records, printed in the
//! reference design's shape:
//!
//! ```text
//! Alert: DSPy module success rate < 95%
//! Module: reviewer
//! Signature: extract_requirements
//! Current: 89%
//! Threshold: 95%
//! Action: Investigate errors, consider rollback
//! ```

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{MonitoringConfig, QualityThresholds};
use crate::parse::{self, AnyObject, RecordLine};
use crate::read::{self, Batch, Item, Problem, ReadError, ReadOptions};
use crate::report::{
    GroupReport, Groups, MAX_PROBLEMS_KEPT, QUANTILE_RELATIVE_ERROR, Quantile, dollars, millis,
    percent, plural, write_problems,
};

/// Why `monitoring_config.json` could not be used. Names the file and what
/// is wrong (a key, a type), never a value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, with its line and column.
        reason: String,
    },
}

/// The alert thresholds of `monitoring_config.json` (its
/// `quality_thresholds`, defaults for what it leaves out).
///
/// The one place the configuration is read for alerts: the JSON as the
/// reference design writes it, with `serde_json`.
pub fn load_thresholds(path: &Path) -> Result<QualityThresholds, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let config: MonitoringConfig =
        serde_json::from_slice(&text).map_err(|error| ConfigError::Invalid {
            path: path.display().to_string(),
            reason: config_reason(&error),
        })?;
    Ok(config.quality_thresholds)
}

/// serde's message for a configuration error, without a quoted value: an
/// "invalid type: string \"x\"" loses the string, an unknown field keeps
/// its name (a key of the file's schema or a typo of one).
fn config_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    let message = match message.split_once(", expected") {
        Some((found, expected)) if found.starts_with("invalid type: string") => {
            format!("invalid type: a string, expected{expected}")
        }
        Some((found, expected)) if found.starts_with("invalid value: string") => {
            format!("invalid value: a string, expected{expected}")
        }
        _ => message.to_owned(),
    };
    format!(
        "{message} at line {} column {}",
        error.line(),
        error.column()
    )
}

/// What to check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// The logs, in order (see [`read::expand`]).
    pub log_files: Vec<PathBuf>,
    /// When to alert.
    pub thresholds: QualityThresholds,
    /// How far back to look from `now_ms`, by `timestamp_ms`.
    pub since: Duration,
    /// Now, in milliseconds since the Unix epoch.
    pub now_ms: u64,
    /// Records a module and signature needs in the window before any alert.
    pub min_records: u64,
    /// Threads and batches.
    pub read: ReadOptions,
}

/// Which threshold an alert crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The success rate is below `min_success_rate`.
    SuccessRate,
    /// The p99 latency is above `max_latency_p99_ms`.
    LatencyP99,
    /// The p99 cost is above `max_cost_p99_usd`.
    CostP99,
}

/// One alert, with the fields of its text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Which threshold.
    pub kind: AlertKind,
    /// The `Alert:` line's text: `DSPy module success rate < 95%`.
    pub alert: String,
    /// The module.
    pub module: String,
    /// The signature.
    pub signature: String,
    /// The measured value (a rate, milliseconds or dollars).
    pub current: f64,
    /// The threshold, in the same unit.
    pub threshold: f64,
    /// What to do.
    pub action: String,
    /// Records in the window the value was measured on.
    pub records: u64,
}

impl Alert {
    /// `Current:` and `Threshold:` as the text shows them.
    fn shown(&self) -> (String, String) {
        match self.kind {
            AlertKind::SuccessRate => (percent(self.current), percent(self.threshold)),
            AlertKind::LatencyP99 => (millis(self.current), millis(self.threshold)),
            AlertKind::CostP99 => (dollars(self.current), short_dollars(self.threshold)),
        }
    }
}

/// One module's records of one signature in the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupHealth {
    /// The module.
    pub module_name: String,
    /// The signature.
    pub signature: String,
    /// Records in the window.
    pub records: u64,
    /// Whether there were enough records to check.
    pub checked: bool,
    /// Successful records over records.
    pub success_rate: f64,
    /// p99 latency in milliseconds, over the records that had one.
    pub latency_p99_ms: Option<Quantile>,
    /// p99 cost in US dollars, over the records that had one.
    pub cost_p99_usd: Option<Quantile>,
}

/// The records a check read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CheckCounts {
    /// Records read.
    pub read: u64,
    /// Of those, records in the window.
    pub in_window: u64,
    /// Lines that are not records.
    pub malformed: u64,
    /// Input files cut short.
    pub damaged_inputs: u64,
}

/// Everything a check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The window's start, in milliseconds since the Unix epoch.
    pub since_ms: u64,
    /// The thresholds used.
    pub thresholds: QualityThresholds,
    /// Records needed before any alert.
    pub min_records: u64,
    /// The alerts, by module, signature, then kind.
    pub alerts: Vec<Alert>,
    /// Every module and signature with records in the window.
    pub groups: Vec<GroupHealth>,
    /// What was read.
    pub counts: CheckCounts,
    /// The first problems, in input order.
    pub problems: Vec<Problem>,
    /// Every problem, kept or not.
    pub problems_total: u64,
    /// The relative error of every quantile (0.01: within 1%).
    pub quantile_relative_error: f64,
}

struct Seen {
    module: Range<usize>,
    signature: Range<usize>,
    success: bool,
    latency_ms: Option<u64>,
    cost_usd: Option<f64>,
}

struct Processed {
    text: Vec<u8>,
    records: Vec<Seen>,
    outside: u64,
    problems: Vec<(u64, String)>,
}

/// Reads the logs and computes the alerts; `progress` as for
/// [`build`](crate::build::build).
pub fn check(
    options: &CheckOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CheckReport, ReadError> {
    let since_u64 = u64::try_from(options.since.as_millis()).unwrap_or(u64::MAX);
    let since_ms = options.now_ms.saturating_sub(since_u64);
    let names: Vec<String> = options
        .log_files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let mut groups = Groups::default();
    let mut counts = CheckCounts::default();
    let mut problems = Vec::new();
    let mut problems_total = 0;
    let mut keep = |problem: Problem, problems_total: &mut u64| {
        *problems_total += 1;
        if problems.len() < MAX_PROBLEMS_KEPT {
            problems.push(problem);
        }
    };
    read::run(
        &options.log_files,
        options.read,
        progress,
        |batch| process(batch, since_ms),
        |item| {
            match item {
                Item::Problem(problem) => {
                    counts.damaged_inputs += 1;
                    keep(problem, &mut problems_total);
                }
                Item::Batch(batch, processed) => {
                    for (line, reason) in processed.problems {
                        counts.malformed += 1;
                        let file = names[batch.file].clone();
                        keep(
                            Problem {
                                file,
                                line: Some(line),
                                reason,
                            },
                            &mut problems_total,
                        );
                    }
                    counts.read += processed.outside + processed.records.len() as u64;
                    counts.in_window += processed.records.len() as u64;
                    let text = &processed.text;
                    let as_str = |range: &Range<usize>| {
                        std::str::from_utf8(&text[range.clone()]).unwrap_or_default()
                    };
                    for seen in &processed.records {
                        groups
                            .get(as_str(&seen.module), as_str(&seen.signature))
                            .record(seen.success, seen.latency_ms, seen.cost_usd, 1.0);
                    }
                }
            }
            Ok::<(), ReadError>(())
        },
    )?;
    let thresholds = &options.thresholds;
    let mut alerts = Vec::new();
    let mut health = Vec::new();
    for (module, signature, stats) in groups.sorted() {
        let report = stats.report(module, signature);
        let records = report.counts.read;
        let checked = records >= options.min_records;
        let latency = report.latency_ms.map(|q| q.p99);
        let cost = report.cost_usd.map(|q| q.p99);
        if checked {
            alerts.extend(alerts_of(&report, thresholds));
        }
        health.push(GroupHealth {
            module_name: module.to_owned(),
            signature: signature.to_owned(),
            records,
            checked,
            success_rate: report.success_rate,
            latency_p99_ms: latency,
            cost_p99_usd: cost,
        });
    }
    Ok(CheckReport {
        since_ms,
        thresholds: thresholds.clone(),
        min_records: options.min_records,
        alerts,
        groups: health,
        counts,
        problems,
        problems_total,
        quantile_relative_error: QUANTILE_RELATIVE_ERROR,
    })
}

/// The alerts of one group with enough records.
fn alerts_of(report: &GroupReport, thresholds: &QualityThresholds) -> Vec<Alert> {
    let alert = |kind, alert: String, current, threshold, action: &str| Alert {
        kind,
        alert,
        module: report.module_name.clone(),
        signature: report.signature.clone(),
        current,
        threshold,
        action: action.to_owned(),
        records: report.counts.read,
    };
    let mut alerts = Vec::new();
    if report.success_rate < thresholds.min_success_rate {
        alerts.push(alert(
            AlertKind::SuccessRate,
            format!(
                "DSPy module success rate < {}",
                percent(thresholds.min_success_rate)
            ),
            report.success_rate,
            thresholds.min_success_rate,
            "Investigate errors, consider rollback",
        ));
    }
    let latency = report.latency_ms.map(|q| q.p99);
    if let Some(p99) = latency.filter(|p99| p99.value > thresholds.max_latency_p99_ms) {
        alerts.push(alert(
            AlertKind::LatencyP99,
            format!(
                "DSPy module p99 latency > {}",
                seconds(thresholds.max_latency_p99_ms)
            ),
            p99.value,
            thresholds.max_latency_p99_ms,
            "Optimize prompt, reduce context",
        ));
    }
    let cost = report.cost_usd.map(|q| q.p99);
    if let Some(p99) = cost.filter(|p99| p99.value > thresholds.max_cost_p99_usd) {
        alerts.push(alert(
            AlertKind::CostP99,
            format!(
                "DSPy module p99 cost > {}",
                short_dollars(thresholds.max_cost_p99_usd)
            ),
            p99.value,
            thresholds.max_cost_p99_usd,
            "Use a smaller model, trim the prompt, cache repeated calls",
        ));
    }
    alerts
}

fn process(batch: &Batch, since_ms: u64) -> Processed {
    let mut out = Processed {
        text: Vec::new(),
        records: Vec::new(),
        outside: 0,
        problems: Vec::new(),
    };
    for (number, line, torn) in batch.lines() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        if let Err(reason) = batch.check_length(line) {
            out.problems.push((number, reason));
            continue;
        }
        let record = match RecordLine::<AnyObject>::parse(line) {
            Ok(record) => record,
            Err(reason) if torn => {
                out.problems.push((
                    number,
                    format!("torn last line (no newline at the end of the file): {reason}"),
                ));
                continue;
            }
            Err(reason) => {
                out.problems.push((number, reason));
                continue;
            }
        };
        if record.timestamp_ms < since_ms {
            out.outside += 1;
            continue;
        }
        // Module names are printed: they go through the detectors as the
        // builder's do.
        let module = parse::redact_text(record.module_name, &mut 0);
        let push = |text: &mut Vec<u8>, s: &str| {
            let start = text.len();
            text.extend_from_slice(s.as_bytes());
            start..text.len()
        };
        let module = push(&mut out.text, &module);
        let signature = push(&mut out.text, &record.signature);
        out.records.push(Seen {
            module,
            signature,
            success: record.success,
            latency_ms: record.latency_ms,
            cost_usd: record.cost_usd,
        });
    }
    out
}

/// `3000` ms as `3s`, `2500` as `2500ms`.
fn seconds(ms: f64) -> String {
    if ms >= 1000.0 && ms % 1000.0 == 0.0 {
        format!("{}s", ms / 1000.0)
    } else {
        millis(ms)
    }
}

/// `0.05` as `$0.05`.
fn short_dollars(value: f64) -> String {
    format!("${value}")
}

impl CheckReport {
    /// The report as text: every alert in the reference design's shape,
    /// then a summary.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        for alert in &self.alerts {
            let (current, threshold) = alert.shown();
            writeln!(out, "Alert: {}", alert.alert)?;
            writeln!(out, "Module: {}", alert.module)?;
            writeln!(out, "Signature: {}", alert.signature)?;
            writeln!(out, "Current: {current}")?;
            writeln!(out, "Threshold: {threshold}")?;
            writeln!(out, "Action: {}", alert.action)?;
            writeln!(out)?;
        }
        let checked = self.groups.iter().filter(|group| group.checked).count() as u64;
        let skipped = self.groups.len() as u64 - checked;
        writeln!(
            out,
            "{} alert{}: {} module/signature pair{} checked, {} record{} in the window of {} read",
            self.alerts.len(),
            plural(self.alerts.len() as u64),
            checked,
            plural(checked),
            self.counts.in_window,
            plural(self.counts.in_window),
            self.counts.read,
        )?;
        if skipped > 0 {
            writeln!(
                out,
                "{skipped} pair{} with fewer than {} records in the window not checked:",
                plural(skipped),
                self.min_records
            )?;
            for group in self.groups.iter().filter(|group| !group.checked) {
                writeln!(
                    out,
                    "  {} / {}: {} record{}",
                    group.module_name,
                    group.signature,
                    group.records,
                    plural(group.records)
                )?;
            }
        }
        if self.counts.malformed > 0 || self.counts.damaged_inputs > 0 {
            writeln!(
                out,
                "{} malformed line{}, {} damaged file{}",
                self.counts.malformed,
                plural(self.counts.malformed),
                self.counts.damaged_inputs,
                plural(self.counts.damaged_inputs)
            )?;
        }
        write_problems(&self.problems, self.problems_total, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_people_write_them() {
        assert_eq!(seconds(3000.0), "3s");
        assert_eq!(seconds(2500.0), "2500ms");
        assert_eq!(short_dollars(0.05), "$0.05");
    }

    #[test]
    fn config_errors_do_not_quote_values() {
        let error = serde_json::from_str::<MonitoringConfig>(
            r#"{"quality_thresholds": {"min_success_rate": "ana@example.com"}}"#,
        )
        .unwrap_err();
        let reason = config_reason(&error);
        assert!(!reason.contains("ana"), "{reason}");
        assert!(
            reason.starts_with("invalid type: a string, expected f64"),
            "{reason}"
        );
        let error =
            serde_json::from_str::<MonitoringConfig>(r#"{"quality_threshold": {}}"#).unwrap_err();
        assert!(
            config_reason(&error).starts_with("unknown field `quality_threshold`"),
            "{}",
            config_reason(&error)
        );
    }
}
