//! What a build read, filtered, deduplicated and wrote, per module and
//! signature: [`BuildReport`], as text ([`BuildReport::write_text`]) and as
//! JSON (its `Serialize`).

use std::collections::HashMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use telemetry_runtime::sketch::{QuantileSketch, RELATIVE_ACCURACY};

use crate::read::{InputFile, Problem};

/// Most problems a report keeps (all are counted).
pub const MAX_PROBLEMS_KEPT: usize = 1_000;
/// Most problems the text report prints.
pub const MAX_PROBLEMS_PRINTED: usize = 20;

/// Records left out by the quality filter, by the first reason that applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCounts {
    /// `success` was false.
    pub failed: u64,
    /// `latency_ms` above the maximum.
    pub latency: u64,
    /// `cost_usd` above the maximum.
    pub cost: u64,
    /// `quality_score` below the minimum.
    pub quality: u64,
}

impl FilterCounts {
    /// Every record filtered.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.failed + self.latency + self.cost + self.quality
    }

    fn add(&mut self, other: &Self) {
        self.failed += other.failed;
        self.latency += other.latency;
        self.cost += other.cost;
        self.quality += other.quality;
    }
}

/// Why a record was filtered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterReason {
    /// `success` was false.
    Failed,
    /// Too slow.
    Latency,
    /// Too expensive.
    Cost,
    /// Scored too low.
    Quality,
}

impl FilterCounts {
    pub(crate) fn count(&mut self, reason: FilterReason) {
        match reason {
            FilterReason::Failed => self.failed += 1,
            FilterReason::Latency => self.latency += 1,
            FilterReason::Cost => self.cost += 1,
            FilterReason::Quality => self.quality += 1,
        }
    }
}

/// What happened to the records of a group, a signature or a whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCounts {
    /// Records read (lines that parsed as records).
    pub read: u64,
    /// Records the quality filter left out, by reason.
    pub filtered: FilterCounts,
    /// Records whose input an earlier record of this run already had.
    pub duplicates: u64,
    /// Records whose input an earlier version of the dataset already has.
    pub duplicates_of_earlier_versions: u64,
    /// Records written as examples.
    pub written: u64,
    /// Spans of text redacted in them.
    pub redacted_spans: u64,
}

impl RecordCounts {
    pub(crate) fn add(&mut self, other: &Self) {
        self.read += other.read;
        self.filtered.add(&other.filtered);
        self.duplicates += other.duplicates;
        self.duplicates_of_earlier_versions += other.duplicates_of_earlier_versions;
        self.written += other.written;
        self.redacted_spans += other.redacted_spans;
    }
}

/// [`RecordCounts`] and the lines and files that could not be read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// What happened to the records.
    #[serde(flatten)]
    pub records: RecordCounts,
    /// Lines that are not records (each listed as `file:line: reason`).
    pub malformed: u64,
    /// Input files cut short: a truncated or corrupt gzip member.
    pub damaged_inputs: u64,
}

/// A quantile estimate and the number of values it was estimated from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quantile {
    /// The estimate, within [`RELATIVE_ACCURACY`] of the true quantile.
    pub value: f64,
    /// Values it was estimated from.
    pub samples: u64,
}

/// Latency quantiles, in milliseconds; absent when no record had a latency.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LatencyQuantiles {
    /// Median.
    pub p50: Quantile,
    /// 95th percentile.
    pub p95: Quantile,
    /// 99th percentile.
    pub p99: Quantile,
}

/// Cost quantiles, in US dollars.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CostQuantiles {
    /// 99th percentile.
    pub p99: Quantile,
}

/// One module's records of one signature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupReport {
    /// The module.
    pub module_name: String,
    /// The signature.
    pub signature: String,
    /// What happened to its records.
    #[serde(flatten)]
    pub counts: RecordCounts,
    /// Duplicates (of this run and of earlier versions) over the records
    /// that passed the filter; 0 when none did.
    pub dedup_rate: f64,
    /// Records over the calls they stand for (the sum of their adjusted
    /// counts, from `th` or `adjusted_count`; a record without counts as 1).
    pub estimated_sampling_rate: f64,
    /// Successful records over records read.
    pub success_rate: f64,
    /// Latency quantiles over every record read that had one.
    pub latency_ms: Option<LatencyQuantiles>,
    /// Cost quantiles over every record read that had one.
    pub cost_usd: Option<CostQuantiles>,
}

/// A version a build wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionWritten {
    /// The signature.
    pub signature: String,
    /// N of `v<N>`.
    pub version: u64,
    /// The version's directory.
    pub path: String,
    /// Examples in it.
    pub examples: u64,
}

/// Everything a build did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BuildReport {
    /// The files read, in order.
    pub inputs: Vec<InputFile>,
    /// Totals over every group.
    pub counts: Counts,
    /// Per module and signature, sorted by module, then signature.
    pub groups: Vec<GroupReport>,
    /// The versions written, by signature.
    pub versions: Vec<VersionWritten>,
    /// Signatures that had records but nothing new: no version written.
    pub unchanged: Vec<String>,
    /// The first [`MAX_PROBLEMS_KEPT`] problems, in input order.
    pub problems: Vec<Problem>,
    /// Every problem, kept or not.
    pub problems_total: u64,
    /// The relative error of every quantile (0.01: within 1%).
    pub quantile_relative_error: f64,
}

impl BuildReport {
    /// The report as text, for people.
    pub fn write_text(&self, out: &mut impl Write) -> io::Result<()> {
        let bytes: u64 = self.inputs.iter().map(|input| input.bytes).sum();
        let c = &self.counts;
        writeln!(
            out,
            "read {} file{} ({}): {} record{}, {} malformed line{}, {} damaged file{}, {} span{} redacted",
            self.inputs.len(),
            plural(self.inputs.len() as u64),
            human_bytes(bytes),
            c.records.read,
            plural(c.records.read),
            c.malformed,
            plural(c.malformed),
            c.damaged_inputs,
            plural(c.damaged_inputs),
            c.records.redacted_spans,
            plural(c.records.redacted_spans),
        )?;
        for version in &self.versions {
            writeln!(
                out,
                "wrote {}: {} example{}",
                version.path,
                version.examples,
                plural(version.examples)
            )?;
        }
        for signature in &self.unchanged {
            writeln!(out, "{signature}: nothing new, no version written")?;
        }
        for group in &self.groups {
            writeln!(out)?;
            write_group(group, out)?;
        }
        if !self.groups.is_empty() {
            writeln!(
                out,
                "\nquantiles from a sketch, each within {}% of the true value; n = the values it saw",
                self.quantile_relative_error * 100.0
            )?;
        }
        write_problems(&self.problems, self.problems_total, out)
    }
}

/// The list of problems, capped at [`MAX_PROBLEMS_PRINTED`].
pub(crate) fn write_problems(
    problems: &[Problem],
    total: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    if total == 0 {
        return Ok(());
    }
    let shown = problems.len().min(MAX_PROBLEMS_PRINTED);
    writeln!(out, "\nproblems ({shown} of {total} shown):")?;
    for problem in &problems[..shown] {
        writeln!(out, "  {problem}")?;
    }
    Ok(())
}

fn write_group(group: &GroupReport, out: &mut impl Write) -> io::Result<()> {
    let c = &group.counts;
    let f = &c.filtered;
    writeln!(out, "{} / {}", group.module_name, group.signature)?;
    writeln!(
        out,
        "  records   {} read, {} filtered (failed {}, latency {}, cost {}, quality {}), {} duplicate{} ({} of earlier versions), {} written",
        c.read,
        f.total(),
        f.failed,
        f.latency,
        f.cost,
        f.quality,
        c.duplicates + c.duplicates_of_earlier_versions,
        plural(c.duplicates + c.duplicates_of_earlier_versions),
        c.duplicates_of_earlier_versions,
        c.written
    )?;
    writeln!(
        out,
        "  dedup     {} of what passed the filter",
        percent(group.dedup_rate)
    )?;
    writeln!(
        out,
        "  sampling  {} (estimated)",
        percent(group.estimated_sampling_rate)
    )?;
    writeln!(out, "  success   {}", percent(group.success_rate))?;
    match &group.latency_ms {
        Some(q) => writeln!(
            out,
            "  latency   p50 {} (n={}), p95 {} (n={}), p99 {} (n={})",
            millis(q.p50.value),
            q.p50.samples,
            millis(q.p95.value),
            q.p95.samples,
            millis(q.p99.value),
            q.p99.samples
        )?,
        None => writeln!(out, "  latency   no record had one")?,
    }
    match &group.cost_usd {
        Some(q) => writeln!(
            out,
            "  cost      p99 {} (n={})",
            dollars(q.p99.value),
            q.p99.samples
        )?,
        None => writeln!(out, "  cost      no record had one")?,
    }
    if c.redacted_spans > 0 {
        writeln!(
            out,
            "  redacted  {} span{}",
            c.redacted_spans,
            plural(c.redacted_spans)
        )?;
    }
    Ok(())
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `0.955` as `95.5%`, `0.95` as `95%`.
pub(crate) fn percent(rate: f64) -> String {
    let text = format!("{:.1}", rate * 100.0);
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}

/// Milliseconds, rounded: `250ms`.
pub(crate) fn millis(value: f64) -> String {
    format!("{value:.0}ms")
}

/// Dollars with four decimals: `$0.0123`.
pub(crate) fn dollars(value: f64) -> String {
    format!("${value:.4}")
}

fn human_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "a size for people")]
    let value = bytes as f64;
    if bytes < 1 << 10 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", value / 1024.0)
    } else if bytes < 1 << 30 {
        format!("{:.1} MiB", value / f64::from(1u32 << 20))
    } else {
        format!("{:.2} GiB", value / f64::from(1u32 << 30))
    }
}

/// Statistics of one group as records arrive.
#[derive(Debug, Default)]
pub(crate) struct GroupStats {
    pub(crate) counts: RecordCounts,
    pub(crate) successes: u64,
    pub(crate) adjusted_total: f64,
    pub(crate) latency: QuantileSketch,
    pub(crate) cost: QuantileSketch,
}

impl GroupStats {
    /// Counts one record read.
    pub(crate) fn record(
        &mut self,
        success: bool,
        latency_ms: Option<u64>,
        cost_usd: Option<f64>,
        adjusted: f64,
    ) {
        self.counts.read += 1;
        self.successes += u64::from(success);
        self.adjusted_total += adjusted;
        if let Some(latency) = latency_ms {
            #[allow(clippy::cast_precision_loss, reason = "milliseconds far below 2^52")]
            self.latency.add(latency as f64);
        }
        if let Some(cost) = cost_usd {
            self.cost.add(cost);
        }
    }

    pub(crate) fn report(&self, module_name: &str, signature: &str) -> GroupReport {
        let c = &self.counts;
        #[allow(clippy::cast_precision_loss, reason = "ratios of counts")]
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let passed = c.read - c.filtered.total();
        let quantile = |sketch: &QuantileSketch, q: f64| Quantile {
            value: sketch.quantile(q),
            samples: sketch.count(),
        };
        #[allow(clippy::cast_precision_loss, reason = "ratios of counts")]
        let sampling = if self.adjusted_total > 0.0 {
            c.read as f64 / self.adjusted_total
        } else {
            0.0
        };
        GroupReport {
            module_name: module_name.to_owned(),
            signature: signature.to_owned(),
            counts: *c,
            dedup_rate: ratio(c.duplicates + c.duplicates_of_earlier_versions, passed),
            estimated_sampling_rate: sampling,
            success_rate: ratio(self.successes, c.read),
            latency_ms: (self.latency.count() > 0).then(|| LatencyQuantiles {
                p50: quantile(&self.latency, 0.5),
                p95: quantile(&self.latency, 0.95),
                p99: quantile(&self.latency, 0.99),
            }),
            cost_usd: (self.cost.count() > 0).then(|| CostQuantiles {
                p99: quantile(&self.cost, 0.99),
            }),
        }
    }
}

/// Groups by module, then signature, found by borrowed names.
#[derive(Debug, Default)]
pub(crate) struct Groups {
    index: HashMap<String, HashMap<String, usize>>,
    groups: Vec<(String, String, GroupStats)>,
}

impl Groups {
    pub(crate) fn get(&mut self, module: &str, signature: &str) -> &mut GroupStats {
        let found = self
            .index
            .get(module)
            .and_then(|by_signature| by_signature.get(signature))
            .copied();
        let slot = found.unwrap_or_else(|| {
            let slot = self.groups.len();
            self.groups.push((
                module.to_owned(),
                signature.to_owned(),
                GroupStats::default(),
            ));
            self.index
                .entry(module.to_owned())
                .or_default()
                .insert(signature.to_owned(), slot);
            slot
        });
        &mut self.groups[slot].2
    }

    /// Every group, sorted by module, then signature.
    pub(crate) fn sorted(&self) -> Vec<(&str, &str, &GroupStats)> {
        let mut all: Vec<_> = self
            .groups
            .iter()
            .map(|(module, signature, stats)| (module.as_str(), signature.as_str(), stats))
            .collect();
        all.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        all
    }

    /// The groups of one signature, mutable.
    pub(crate) fn of_signature<'s>(
        &'s mut self,
        signature: &'s str,
    ) -> impl Iterator<Item = (&'s str, &'s mut GroupStats)> + 's {
        self.groups
            .iter_mut()
            .filter(move |(_, s, _)| s == signature)
            .map(|(module, _, stats)| (module.as_str(), stats))
    }
}

/// The relative error stated in reports.
pub(crate) const QUANTILE_RELATIVE_ERROR: f64 = RELATIVE_ACCURACY;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(percent(0.95), "95%");
        assert_eq!(percent(0.8945), "89.5%");
        assert_eq!(millis(4200.4), "4200ms");
        assert_eq!(dollars(0.012_345), "$0.0123");
        assert_eq!(human_bytes(2048), "2.0 KiB");
    }
}
