//! Reports: an estimate beside what the tool returned, the reductions, and
//! the event they make.

use super::estimate::BaselineEstimate;
use crate::InvalidEvent;
use crate::catalogue::{
    BaselineApproach, BenchmarkCounts, BenchmarkInput, Improvement, PerformanceBenchmark,
};

/// What the tool returned for the same search, as its caller knows it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ToolOutput {
    /// Files returned.
    pub files: u64,
    /// Lines returned.
    pub lines: u64,
    /// Tokens returned.
    pub tokens: u64,
    /// Their cost in US dollars; `None` prices `tokens` with the comparator's
    /// [`CostModel`](crate::CostModel), like the baseline's.
    pub cost_usd: Option<f64>,
}

impl ToolOutput {
    /// Files, lines and tokens, priced with the comparator's cost model.
    #[must_use]
    pub fn new(files: u64, lines: u64, tokens: u64) -> Self {
        Self {
            files,
            lines,
            tokens,
            cost_usd: None,
        }
    }

    /// Sets the cost, when the tool knows it better than the cost model.
    #[must_use]
    pub fn with_cost_usd(mut self, cost_usd: f64) -> Self {
        self.cost_usd = Some(cost_usd);
        self
    }
}

/// A baseline beside what the tool returned, and the reductions: what a CLI
/// prints, and what [`to_benchmark`](Self::to_benchmark) sends.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonReport {
    baseline: BaselineEstimate,
    actual: BenchmarkCounts,
    improvement: Improvement,
}

impl ComparisonReport {
    /// `baseline` beside what the tool returned, with the reductions.
    pub(super) fn new(baseline: BaselineEstimate, actual: BenchmarkCounts) -> Self {
        let improvement = improvement(baseline.counts(), actual);
        Self {
            baseline,
            actual,
            improvement,
        }
    }

    /// The approach compared with.
    #[must_use]
    pub fn approach(&self) -> BaselineApproach {
        self.baseline.approach
    }

    /// Everything known about the baseline: matched files and directories,
    /// bytes, skipped files.
    #[must_use]
    pub fn baseline(&self) -> &BaselineEstimate {
        &self.baseline
    }

    /// What the baseline returned, as the event records it.
    #[must_use]
    pub fn baseline_counts(&self) -> BenchmarkCounts {
        self.baseline.counts()
    }

    /// What the tool returned, with its cost.
    #[must_use]
    pub fn actual(&self) -> BenchmarkCounts {
        self.actual
    }

    /// The reductions, in percent: see [`reduction_percent`].
    #[must_use]
    pub fn improvement(&self) -> Improvement {
        self.improvement
    }

    /// The report as an event, under an identifier chosen by the application
    /// (`search_vs_grep`): counts and percentages only.
    ///
    /// # Errors
    ///
    /// [`InvalidEvent`] when `comparison_type` is not an identifier (1 to 64
    /// ASCII letters, digits, `_`, `-`, `.`), or when a cost given in
    /// [`ToolOutput`] is negative or not finite.
    pub fn to_benchmark(
        &self,
        comparison_type: impl Into<String>,
    ) -> Result<PerformanceBenchmark, InvalidEvent> {
        PerformanceBenchmark::new(BenchmarkInput {
            comparison_type: comparison_type.into(),
            baseline_approach: self.baseline.approach,
            baseline: self.baseline.counts(),
            actual: self.actual,
            improvement: self.improvement,
        })
    }
}

/// How much less `actual` is than `baseline`, in percent:
/// `(baseline - actual) / baseline * 100`.
///
/// 0 when the baseline is 0 (or negative): there was nothing to reduce.
/// Negative, and not clamped, when the tool returned more than the baseline:
/// `reduction_percent(10.0, 25.0)` is -150. At most 100 for an `actual` that
/// is not negative.
#[must_use]
pub fn reduction_percent(baseline: f64, actual: f64) -> f64 {
    if baseline <= 0.0 {
        return 0.0;
    }
    (baseline - actual) / baseline * 100.0
}

/// The reductions of `actual` against `baseline`, field by field, with
/// [`reduction_percent`].
#[must_use]
pub fn improvement(baseline: BenchmarkCounts, actual: BenchmarkCounts) -> Improvement {
    #[allow(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
    let percent = |baseline: u64, actual: u64| reduction_percent(baseline as f64, actual as f64);
    Improvement {
        files_reduction_percent: percent(baseline.files, actual.files),
        lines_reduction_percent: percent(baseline.lines, actual.lines),
        tokens_reduction_percent: percent(baseline.tokens, actual.tokens),
        cost_savings_percent: reduction_percent(baseline.cost_usd, actual.cost_usd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CostModel;
    use crate::baseline::BaselineComparator;
    use crate::baseline::estimate::EstimateSource;
    use crate::baseline::fixtures::{close, entries, index};

    #[test]
    fn reduction_math() {
        assert!(close(reduction_percent(200.0, 50.0), 75.0));
        assert!(close(reduction_percent(200.0, 200.0), 0.0));
        assert!(close(reduction_percent(200.0, 0.0), 100.0));
        assert!(close(reduction_percent(10.0, 25.0), -150.0));
        assert!(close(reduction_percent(0.0, 0.0), 0.0));
        assert!(close(reduction_percent(0.0, 500.0), 0.0));

        let baseline = BenchmarkCounts {
            files: 10,
            lines: 1_000,
            tokens: 8_000,
            cost_usd: 0.08,
        };
        let actual = BenchmarkCounts {
            files: 12,
            lines: 250,
            tokens: 2_000,
            cost_usd: 0.02,
        };
        let improvement = improvement(baseline, actual);
        assert!(close(improvement.files_reduction_percent, -20.0));
        assert!(close(improvement.lines_reduction_percent, 75.0));
        assert!(close(improvement.tokens_reduction_percent, 75.0));
        assert!(close(improvement.cost_savings_percent, 75.0));
    }

    fn estimate_of(files: u64, lines: u64, tokens: u64) -> BaselineEstimate {
        let mut estimate =
            BaselineEstimate::empty(BaselineApproach::GrepFullFiles, EstimateSource::Entries);
        estimate.files = files;
        estimate.matched_files = files;
        estimate.lines = lines;
        estimate.tokens = tokens;
        estimate.cost_usd = CostModel::default().cost_usd(tokens);
        estimate
    }

    #[test]
    fn compare_prices_the_tool_with_the_same_model() {
        let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
        let report = comparator.compare(
            estimate_of(20, 4_000, 40_000),
            ToolOutput::new(5, 300, 4_000),
        );
        assert_eq!(report.approach(), BaselineApproach::GrepFullFiles);
        assert_eq!(report.baseline().matched_files, 20);
        assert_eq!(report.baseline_counts().tokens, 40_000);
        assert!(close(report.actual().cost_usd, 4.0 * 0.0054));
        let improvement = report.improvement();
        assert!(close(improvement.files_reduction_percent, 75.0));
        assert!(close(improvement.lines_reduction_percent, 92.5));
        assert!(close(improvement.tokens_reduction_percent, 90.0));
        assert!(close(improvement.cost_savings_percent, 90.0));

        let priced = comparator.compare(
            estimate_of(20, 4_000, 40_000),
            ToolOutput::new(5, 300, 4_000).with_cost_usd(0.108),
        );
        assert!(close(priced.actual().cost_usd, 0.108));
        assert!(close(priced.improvement().cost_savings_percent, 50.0));
    }

    #[test]
    fn compare_with_an_empty_baseline_or_a_larger_output() {
        let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
        let empty = comparator.compare(estimate_of(0, 0, 0), ToolOutput::new(3, 90, 700));
        assert_eq!(empty.improvement(), Improvement::default());
        assert!(empty.to_benchmark("search_vs_grep").is_ok());

        let worse = comparator.compare(estimate_of(2, 100, 1_000), ToolOutput::new(4, 300, 2_500));
        let improvement = worse.improvement();
        assert!(close(improvement.files_reduction_percent, -100.0));
        assert!(close(improvement.lines_reduction_percent, -200.0));
        assert!(close(improvement.tokens_reduction_percent, -150.0));
        assert!(close(improvement.cost_savings_percent, -150.0));
        let event = worse.to_benchmark("search_vs_grep").unwrap();
        assert!(close(event.improvement().tokens_reduction_percent, -150.0));
    }

    #[test]
    fn converts_into_a_performance_benchmark_of_counts_only() {
        let index = index();
        let comparator = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
        let baseline = comparator.estimate_entries(entries(&index), &["invoice"]);
        let report = comparator.compare(baseline, ToolOutput::new(2, 120, 900));
        let event = report.to_benchmark("search_vs_filename").unwrap();
        assert_eq!(event.baseline(), report.baseline_counts());
        assert_eq!(event.actual(), report.actual());
        assert_eq!(event.improvement(), report.improvement());

        let anonymizer = crate::Anonymizer::new(&crate::HashKey::from_bytes([1; 32]));
        let json =
            serde_json::to_string(&crate::TelemetrySafe::telemetry_view(&event, &anonymizer))
                .unwrap();
        assert!(json.starts_with(
            r#"{"comparison_type":"search_vs_filename","baseline_approach":"file_name_with_directory","baseline":{"files":5,"#
        ));
        for secret in ["invoice", "billing", "docs", "src", ".rs", ".md"] {
            assert!(!json.to_lowercase().contains(secret), "{secret} in {json}");
        }
    }

    #[test]
    fn to_benchmark_refuses_bad_identifiers_and_costs() {
        let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
        let report = comparator.compare(estimate_of(2, 100, 1_000), ToolOutput::new(1, 10, 100));
        assert!(matches!(
            report.to_benchmark("search vs /home/ana"),
            Err(InvalidEvent::BadText {
                field: "comparison_type",
                ..
            })
        ));
        let nan = comparator.compare(
            estimate_of(2, 100, 1_000),
            ToolOutput::new(1, 10, 100).with_cost_usd(f64::NAN),
        );
        assert!(matches!(
            nan.to_benchmark("search_vs_grep"),
            Err(InvalidEvent::NotFinite {
                field: "actual.cost_usd",
                ..
            })
        ));
        let negative = comparator.compare(
            estimate_of(2, 100, 1_000),
            ToolOutput::new(1, 10, 100).with_cost_usd(-1.0),
        );
        assert!(negative.to_benchmark("search_vs_grep").is_err());
    }
}
