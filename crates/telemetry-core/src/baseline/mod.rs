//! What a naive approach would have returned for a search, against what the
//! tool returned: the numbers behind "our search returns 70% fewer tokens than
//! grep", as a [`PerformanceBenchmark`].
//!
//! A [`BaselineComparator`] estimates one [`BaselineApproach`] for a set of
//! keywords:
//!
//! - [`GrepFullFiles`](BaselineApproach::GrepFullFiles): every file whose
//!   content contains any keyword, returned whole (`grep -ril` then `cat`);
//! - [`FileNameWithDirectory`](BaselineApproach::FileNameWithDirectory):
//!   every file whose name contains a keyword, plus every other file in the
//!   same directories (not their subdirectories).
//!
//! It works in one of two ways:
//!
//! - from a list of [`FileEntry`] (path, language, size), such as a search
//!   index already holds: cheap, but contents are unknown, so `GrepFullFiles`
//!   matches the keywords against each entry's *path* instead, and lines are
//!   estimated from bytes ([`BaselineComparator::estimate_entries`]);
//! - by really reading a directory tree, with the `scan` feature
//!   (`BaselineComparator::scan_directory`): `.gitignore` is honoured,
//!   contents are matched, binary files skipped and lines counted.
//!
//! Tokens are estimated from bytes at a rate per language ([`TokenModel`]),
//! and priced with a [`CostModel`]. [`BaselineComparator::compare`] puts the
//! estimate beside what the tool returned ([`ToolOutput`]); the
//! [`ComparisonReport`] holds both sides and the reductions, for a CLI to
//! print, and turns into a [`PerformanceBenchmark`] with
//! [`ComparisonReport::to_benchmark`].
//!
//! Keywords and paths stay on the machine: the estimate and the event hold
//! counts only.
//!
//! ```
//! use telemetry_core::baseline::{BaselineComparator, FileEntry, ToolOutput};
//! use telemetry_core::catalogue::BaselineApproach;
//!
//! let index = [
//!     FileEntry::new("src/invoice/parse.rs", "rust", 4_000),
//!     FileEntry::new("src/invoice/mod.rs", "rust", 1_000),
//!     FileEntry::new("src/main.rs", "rust", 2_000),
//! ];
//! let comparator = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
//! let baseline = comparator.estimate_entries(index, &["Parse"]);
//! assert_eq!((baseline.matched_files, baseline.files, baseline.tokens), (1, 2, 1_000));
//!
//! let report = comparator.compare(baseline, ToolOutput::new(1, 20, 250));
//! assert_eq!(report.improvement().tokens_reduction_percent, 75.0);
//! let event = report.to_benchmark("search_vs_filename")?;
//! assert_eq!(event.actual().tokens, 250);
//! # Ok::<(), telemetry_core::InvalidEvent>(())
//! ```
//!
//! [`PerformanceBenchmark`]: crate::catalogue::PerformanceBenchmark

mod estimate;
mod keywords;
mod languages;
mod report;
#[cfg(feature = "scan")]
mod scan;
mod tokens;

#[cfg(feature = "scan")]
use std::path::Path;

pub use estimate::{BaselineEstimate, EstimateSource, FileEntry};
pub use languages::language_for_path;
pub use report::{ComparisonReport, ToolOutput, improvement, reduction_percent};
#[cfg(feature = "scan")]
pub use scan::ScanError;
pub use tokens::{
    BUILT_IN_TOKENS_PER_1000_BYTES, DEFAULT_BYTES_PER_LINE, DEFAULT_TOKENS_PER_1000_BYTES,
    TokenModel,
};

use crate::CostModel;
use crate::catalogue::{BaselineApproach, BenchmarkCounts};
use keywords::Keywords;

/// Estimates what a naive approach would have returned for a search, and
/// compares it with what the tool returned. See the [module](self) docs.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineComparator {
    approach: BaselineApproach,
    token_model: TokenModel,
    cost_model: CostModel,
}

impl BaselineComparator {
    /// A comparator for `approach`, with the default [`TokenModel`] and
    /// [`CostModel`].
    #[must_use]
    pub fn new(approach: BaselineApproach) -> Self {
        Self {
            approach,
            token_model: TokenModel::default(),
            cost_model: CostModel::default(),
        }
    }

    /// Sets how tokens and lines are estimated from bytes.
    #[must_use]
    pub fn with_token_model(mut self, token_model: TokenModel) -> Self {
        self.token_model = token_model;
        self
    }

    /// Sets how tokens are priced, for the baseline and for a [`ToolOutput`]
    /// without a cost.
    #[must_use]
    pub fn with_cost_model(mut self, cost_model: CostModel) -> Self {
        self.cost_model = cost_model;
        self
    }

    /// The approach estimated.
    #[must_use]
    pub fn approach(&self) -> BaselineApproach {
        self.approach
    }

    /// How tokens and lines are estimated.
    #[must_use]
    pub fn token_model(&self) -> &TokenModel {
        &self.token_model
    }

    /// How tokens are priced.
    #[must_use]
    pub fn cost_model(&self) -> CostModel {
        self.cost_model
    }

    /// Estimates the baseline from a list of files, without reading them.
    ///
    /// Keywords match case-insensitively (Unicode lowercase); they are
    /// trimmed, and blank ones are ignored, so that no keyword matches
    /// nothing. Contents are unknown, so
    /// [`GrepFullFiles`](BaselineApproach::GrepFullFiles) matches keywords
    /// against each entry's whole path (directories included), and
    /// [`FileNameWithDirectory`](BaselineApproach::FileNameWithDirectory)
    /// against its file name, returning every entry whose parent directory
    /// holds a match. Lines are estimated from bytes
    /// ([`TokenModel::estimate_lines`]).
    pub fn estimate_entries<'a, I, S>(&self, entries: I, keywords: &[S]) -> BaselineEstimate
    where
        I: IntoIterator,
        I::Item: Into<FileEntry<'a>>,
        S: AsRef<str>,
    {
        let entries: Vec<FileEntry<'a>> = entries.into_iter().map(Into::into).collect();
        estimate::from_entries(self, &entries, &Keywords::new(keywords))
    }

    /// Estimates the baseline by reading the directory tree under `root`.
    /// Available with the `scan` feature.
    ///
    /// The walk honours `.gitignore` files (also outside a git repository),
    /// `.ignore` files and git's global and repository excludes, as ripgrep
    /// does; it skips hidden files and directories, and does not follow
    /// symbolic links. Files with a NUL byte in their first 8 KiB are binary:
    /// skipped and counted in
    /// [`binary_files_skipped`](BaselineEstimate::binary_files_skipped),
    /// never returned nor matched, by content or by name. Contents are
    /// matched line by line, case-insensitively (Unicode lowercase, invalid
    /// UTF-8 replaced); keywords are treated as in
    /// [`estimate_entries`](Self::estimate_entries). Lines are counted: a
    /// last line without a newline counts, an empty file has none.
    ///
    /// With `FileNameWithDirectory`, only the files of directories holding a
    /// name match are read.
    ///
    /// A file or directory that cannot be read is skipped and counted in
    /// [`unreadable_skipped`](BaselineEstimate::unreadable_skipped).
    ///
    /// # Errors
    ///
    /// [`ScanError`], naming `root`, when it cannot be read or is not a
    /// directory.
    #[cfg(feature = "scan")]
    pub fn scan_directory<S: AsRef<str>>(
        &self,
        root: impl AsRef<Path>,
        keywords: &[S],
    ) -> Result<BaselineEstimate, ScanError> {
        scan::scan(self, root.as_ref(), &Keywords::new(keywords))
    }

    /// Puts `baseline` beside what the tool returned. The tool's cost, unless
    /// given, is priced with this comparator's [`CostModel`].
    #[must_use]
    pub fn compare(&self, baseline: BaselineEstimate, actual: ToolOutput) -> ComparisonReport {
        let actual = BenchmarkCounts {
            files: actual.files,
            lines: actual.lines,
            tokens: actual.tokens,
            cost_usd: actual
                .cost_usd
                .unwrap_or_else(|| self.cost_model.cost_usd(actual.tokens)),
        };
        ComparisonReport::new(baseline, actual)
    }
}

/// What the unit tests of several of these modules share.
#[cfg(test)]
mod fixtures {
    use super::FileEntry;

    pub(super) fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    pub(super) fn index() -> Vec<(&'static str, &'static str, u64)> {
        vec![
            ("src/billing/invoice.rs", "rust", 5_000),
            ("src/billing/tax.rs", "rust", 1_000),
            ("src/billing/vat.py", "python", 2_000),
            ("src/main.rs", "rust", 500),
            ("docs/Invoice-guide.md", "markdown", 1_000),
            ("docs/faq.md", "markdown", 2_000),
            ("invoices/readme.txt", "text", 100),
            ("other/deep/x.json", "json", 1_000),
            ("Makefile", "", 1_000),
        ]
    }

    pub(super) fn entries(index: &[(&'static str, &'static str, u64)]) -> Vec<FileEntry<'static>> {
        index
            .iter()
            .map(|&(path, language, size)| FileEntry::new(path, language, size))
            .collect()
    }
}
