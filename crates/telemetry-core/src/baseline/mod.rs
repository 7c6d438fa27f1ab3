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

#[cfg(feature = "scan")]
mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::path::Path;

#[cfg(feature = "scan")]
pub use scan::ScanError;

use crate::catalogue::{
    BaselineApproach, BenchmarkCounts, BenchmarkInput, Improvement, PerformanceBenchmark,
};
use crate::{CostModel, InvalidEvent};

/// Tokens per 1000 bytes for a language that [`TokenModel::default`] does not
/// list.
pub const DEFAULT_TOKENS_PER_1000_BYTES: u32 = 220;

/// Bytes per line, for estimating lines when they are not counted.
pub const DEFAULT_BYTES_PER_LINE: u32 = 50;

/// The rates [`TokenModel::default`] starts with, in tokens per 1000 bytes.
pub const BUILT_IN_TOKENS_PER_1000_BYTES: &[(&str, u32)] = &[
    ("python", 250),
    ("typescript", 220),
    ("javascript", 220),
    ("rust", 200),
    ("go", 200),
    ("java", 200),
    ("c", 200),
    ("cpp", 200),
    ("csharp", 210),
    ("markdown", 300),
    ("text", 300),
    ("json", 180),
    ("yaml", 200),
    ("toml", 200),
];

/// The language of a file, from its extension (case-insensitive), as named in
/// [`BUILT_IN_TOKENS_PER_1000_BYTES`]; `None` for any other extension.
///
/// `py` python, `ts`/`tsx` typescript, `js`/`jsx`/`mjs` javascript, `rs`
/// rust, `go`, `java`, `c`/`h` c, `cc`/`cpp`/`cxx`/`hpp` cpp, `cs` csharp,
/// `md` markdown, `txt` text, `json`, `yaml`/`yml` yaml, `toml`.
#[must_use]
pub fn language_for_path(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    let language = match extension.as_str() {
        "py" => "python",
        "ts" | "tsx" => "typescript",
        "js" | "jsx" | "mjs" => "javascript",
        "rs" => "rust",
        "go" => "go",
        "java" => "java",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" => "cpp",
        "cs" => "csharp",
        "md" => "markdown",
        "txt" => "text",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        _ => return None,
    };
    Some(language)
}

/// How many tokens and lines a file of some bytes holds, by language.
///
/// Starts from [`BUILT_IN_TOKENS_PER_1000_BYTES`],
/// [`DEFAULT_TOKENS_PER_1000_BYTES`] for other languages and
/// [`DEFAULT_BYTES_PER_LINE`]; each can be overridden. Language names are
/// compared case-insensitively (ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenModel {
    rates: BTreeMap<String, u32>,
    default_rate: u32,
    bytes_per_line: NonZeroU32,
}

impl Default for TokenModel {
    fn default() -> Self {
        Self {
            rates: BUILT_IN_TOKENS_PER_1000_BYTES
                .iter()
                .map(|&(language, rate)| (language.to_owned(), rate))
                .collect(),
            default_rate: DEFAULT_TOKENS_PER_1000_BYTES,
            bytes_per_line: NonZeroU32::new(DEFAULT_BYTES_PER_LINE).expect("50 is not zero"),
        }
    }
}

impl TokenModel {
    /// Sets the rate of `language`, in tokens per 1000 bytes, replacing the
    /// built-in one if any.
    #[must_use]
    pub fn with_rate(mut self, language: &str, tokens_per_1000_bytes: u32) -> Self {
        self.rates
            .insert(language.to_ascii_lowercase(), tokens_per_1000_bytes);
        self
    }

    /// Sets the rate of languages without a rate of their own.
    #[must_use]
    pub fn with_default_rate(mut self, tokens_per_1000_bytes: u32) -> Self {
        self.default_rate = tokens_per_1000_bytes;
        self
    }

    /// Sets how many bytes make a line, when lines are estimated.
    #[must_use]
    pub fn with_bytes_per_line(mut self, bytes_per_line: NonZeroU32) -> Self {
        self.bytes_per_line = bytes_per_line;
        self
    }

    /// Tokens per 1000 bytes of `language`: its own rate, or the default one.
    #[must_use]
    pub fn tokens_per_1000_bytes(&self, language: &str) -> u32 {
        self.rate(Some(language))
    }

    /// Tokens per 1000 bytes of languages without a rate of their own.
    #[must_use]
    pub fn default_rate(&self) -> u32 {
        self.default_rate
    }

    /// Bytes per line, when lines are estimated.
    #[must_use]
    pub fn bytes_per_line(&self) -> NonZeroU32 {
        self.bytes_per_line
    }

    /// Every language with its own rate, sorted by name.
    pub fn rates(&self) -> impl Iterator<Item = (&str, u32)> {
        self.rates
            .iter()
            .map(|(language, rate)| (language.as_str(), *rate))
    }

    /// Tokens in `bytes` bytes of `language`, rounded to the nearest token
    /// (half up).
    #[must_use]
    pub fn estimate_tokens(&self, language: &str, bytes: u64) -> u64 {
        self.tokens(Some(language), bytes)
    }

    /// Lines in `bytes` bytes: bytes divided by [`bytes_per_line`](Self::bytes_per_line),
    /// rounded up, so that a file that is not empty has at least one line.
    #[must_use]
    pub fn estimate_lines(&self, bytes: u64) -> u64 {
        bytes.div_ceil(u64::from(self.bytes_per_line.get()))
    }

    fn rate(&self, language: Option<&str>) -> u32 {
        language
            .and_then(|language| match self.rates.get(language) {
                Some(rate) => Some(*rate),
                None => self.rates.get(&language.to_ascii_lowercase()).copied(),
            })
            .unwrap_or(self.default_rate)
    }

    fn tokens(&self, language: Option<&str>, bytes: u64) -> u64 {
        let tokens = (u128::from(bytes) * u128::from(self.rate(language)) + 500) / 1000;
        u64::try_from(tokens).unwrap_or(u64::MAX)
    }
}

/// One file of a list, as a search index knows it: for
/// [`BaselineComparator::estimate_entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// The path, best relative to the repository root: with
    /// [`GrepFullFiles`](BaselineApproach::GrepFullFiles) keywords are
    /// matched against all of it.
    pub path: &'a Path,
    /// The language, as named in [`BUILT_IN_TOKENS_PER_1000_BYTES`]; when
    /// empty, it is found from the path's extension with [`language_for_path`].
    pub language: &'a str,
    /// The size of the file.
    pub size_bytes: u64,
}

impl<'a> FileEntry<'a> {
    /// An entry for the file at `path`.
    pub fn new<P: AsRef<Path> + ?Sized>(path: &'a P, language: &'a str, size_bytes: u64) -> Self {
        Self {
            path: path.as_ref(),
            language,
            size_bytes,
        }
    }

    fn language(&self) -> Option<&'a str> {
        if self.language.is_empty() {
            language_for_path(self.path)
        } else {
            Some(self.language)
        }
    }
}

impl<'a, P: AsRef<Path> + ?Sized> From<(&'a P, &'a str, u64)> for FileEntry<'a> {
    fn from((path, language, size_bytes): (&'a P, &'a str, u64)) -> Self {
        Self::new(path, language, size_bytes)
    }
}

/// How a [`BaselineEstimate`] was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EstimateSource {
    /// From a list of [`FileEntry`]: names matched, lines estimated from bytes.
    Entries,
    /// From reading a directory tree: contents matched, lines counted.
    Scan,
}

/// What the naive approach would have returned: counts only, never a path or
/// a keyword.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BaselineEstimate {
    /// The approach estimated.
    pub approach: BaselineApproach,
    /// Whether it was estimated from entries or from a scan.
    pub source: EstimateSource,
    /// Files that matched a keyword themselves: by content (by path for
    /// entries) with `GrepFullFiles`, by name with `FileNameWithDirectory`.
    pub matched_files: u64,
    /// Directories returned whole, with `FileNameWithDirectory`; 0 with
    /// `GrepFullFiles`.
    pub matched_directories: u64,
    /// Files returned: the matched ones, plus, with `FileNameWithDirectory`,
    /// the other files of their directories.
    pub files: u64,
    /// Bytes of the files returned.
    pub bytes: u64,
    /// Lines of the files returned: counted by a scan, estimated from bytes
    /// for entries.
    pub lines: u64,
    /// Tokens of the files returned, estimated from bytes per language.
    pub tokens: u64,
    /// Cost of those tokens, in US dollars.
    pub cost_usd: f64,
    /// Files considered: the entries given, or the files the scan walked (not
    /// ignored, not hidden).
    pub files_seen: u64,
    /// Files a scan read and skipped as binary (a NUL byte in the first
    /// 8 KiB). Always 0 for entries.
    pub binary_files_skipped: u64,
    /// Files or directories a scan could not read and skipped. Always 0 for
    /// entries.
    pub unreadable_skipped: u64,
}

impl BaselineEstimate {
    fn empty(approach: BaselineApproach, source: EstimateSource) -> Self {
        Self {
            approach,
            source,
            matched_files: 0,
            matched_directories: 0,
            files: 0,
            bytes: 0,
            lines: 0,
            tokens: 0,
            cost_usd: 0.0,
            files_seen: 0,
            binary_files_skipped: 0,
            unreadable_skipped: 0,
        }
    }

    /// Adds one returned file.
    fn add(&mut self, tokens: &TokenModel, language: Option<&str>, bytes: u64, lines: u64) {
        self.files += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        self.lines = self.lines.saturating_add(lines);
        self.tokens = self.tokens.saturating_add(tokens.tokens(language, bytes));
    }

    /// What the baseline returned, as the event records it.
    #[must_use]
    pub fn counts(&self) -> BenchmarkCounts {
        BenchmarkCounts {
            files: self.files,
            lines: self.lines,
            tokens: self.tokens,
            cost_usd: self.cost_usd,
        }
    }
}

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
    /// [`CostModel`], like the baseline's.
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
        let keywords = Keywords::new(keywords);
        let entries: Vec<FileEntry<'a>> = entries.into_iter().map(Into::into).collect();
        let mut estimate = BaselineEstimate::empty(self.approach, EstimateSource::Entries);
        estimate.files_seen = entries.len() as u64;
        let add = |estimate: &mut BaselineEstimate, entry: &FileEntry<'_>| {
            let lines = self.token_model.estimate_lines(entry.size_bytes);
            estimate.add(&self.token_model, entry.language(), entry.size_bytes, lines);
        };
        match self.approach {
            BaselineApproach::GrepFullFiles => {
                let mut folded = String::new();
                for entry in &entries {
                    fold_case(&entry.path.to_string_lossy(), &mut folded);
                    if keywords.matches(&folded) {
                        estimate.matched_files += 1;
                        add(&mut estimate, entry);
                    }
                }
            }
            BaselineApproach::FileNameWithDirectory => {
                let mut directories = BTreeSet::new();
                for entry in &entries {
                    if keywords.matches_file_name(entry.path) {
                        estimate.matched_files += 1;
                        directories.insert(parent(entry.path));
                    }
                }
                estimate.matched_directories = directories.len() as u64;
                for entry in &entries {
                    if directories.contains(parent(entry.path)) {
                        add(&mut estimate, entry);
                    }
                }
            }
        }
        estimate.cost_usd = self.cost_model.cost_usd(estimate.tokens);
        estimate
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
        let improvement = improvement(baseline.counts(), actual);
        ComparisonReport {
            baseline,
            actual,
            improvement,
        }
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

/// Keywords, trimmed, case-folded, blank ones dropped, without duplicates.
#[derive(Debug)]
struct Keywords(Vec<String>);

impl Keywords {
    fn new<S: AsRef<str>>(keywords: &[S]) -> Self {
        let mut folded: Vec<String> = keywords
            .iter()
            .map(|keyword| keyword.as_ref().trim())
            .filter(|keyword| !keyword.is_empty())
            .map(|keyword| {
                let mut out = String::new();
                fold_case(keyword, &mut out);
                out
            })
            .collect();
        folded.sort_unstable();
        folded.dedup();
        Self(folded)
    }

    /// Whether case-folded `text` contains any keyword.
    fn matches(&self, folded: &str) -> bool {
        self.0
            .iter()
            .any(|keyword| folded.contains(keyword.as_str()))
    }

    /// Whether the file name of `path` contains any keyword.
    fn matches_file_name(&self, path: &Path) -> bool {
        let Some(name) = path.file_name() else {
            return false;
        };
        let mut folded = String::new();
        fold_case(&name.to_string_lossy(), &mut folded);
        self.matches(&folded)
    }
}

/// Writes `text` lowercased into `out`, character by character, so that
/// keywords and contents fold alike.
fn fold_case(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.extend(text.chars().flat_map(char::to_lowercase));
    }
}

/// The directory of `path`; the empty path for a bare file name.
fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn token_rates_per_language() {
        let model = TokenModel::default();
        let expected = [
            ("python", 250),
            ("typescript", 220),
            ("javascript", 220),
            ("rust", 200),
            ("go", 200),
            ("java", 200),
            ("c", 200),
            ("cpp", 200),
            ("csharp", 210),
            ("markdown", 300),
            ("text", 300),
            ("json", 180),
            ("yaml", 200),
            ("toml", 200),
            ("haskell", 220),
            ("", 220),
        ];
        for (language, rate) in expected {
            assert_eq!(model.tokens_per_1000_bytes(language), rate, "{language}");
            assert_eq!(
                model.estimate_tokens(language, 10_000),
                u64::from(rate) * 10,
                "{language}"
            );
        }
        assert_eq!(model.tokens_per_1000_bytes("Python"), 250);
        assert_eq!(model.rates().count(), 14);
    }

    #[test]
    fn tokens_round_to_nearest_and_lines_round_up() {
        let model = TokenModel::default();
        // 10 bytes of Python: 2.5 tokens, half up.
        assert_eq!(model.estimate_tokens("python", 10), 3);
        // 9 bytes of JSON: 1.62 tokens.
        assert_eq!(model.estimate_tokens("json", 9), 2);
        assert_eq!(model.estimate_tokens("rust", 2), 0);
        assert_eq!(model.estimate_tokens("rust", 0), 0);
        assert_eq!(model.estimate_tokens("rust", u64::MAX), u64::MAX / 5);

        assert_eq!(model.estimate_lines(0), 0);
        assert_eq!(model.estimate_lines(1), 1);
        assert_eq!(model.estimate_lines(50), 1);
        assert_eq!(model.estimate_lines(51), 2);
        assert_eq!(model.estimate_lines(5_000), 100);
    }

    #[test]
    fn token_model_overrides() {
        let model = TokenModel::default()
            .with_rate("Rust", 300)
            .with_rate("haskell", 260)
            .with_default_rate(100)
            .with_bytes_per_line(NonZeroU32::new(40).unwrap());
        assert_eq!(model.tokens_per_1000_bytes("rust"), 300);
        assert_eq!(model.tokens_per_1000_bytes("haskell"), 260);
        assert_eq!(model.tokens_per_1000_bytes("python"), 250);
        assert_eq!(model.tokens_per_1000_bytes("cobol"), 100);
        assert_eq!(model.default_rate(), 100);
        assert_eq!(model.estimate_tokens("cobol", 1_000), 100);
        assert_eq!(model.estimate_lines(400), 10);
        assert_eq!(model.bytes_per_line().get(), 40);
    }

    #[test]
    fn languages_from_extensions() {
        let cases = [
            ("a.py", Some("python")),
            ("a.ts", Some("typescript")),
            ("a.tsx", Some("typescript")),
            ("a.js", Some("javascript")),
            ("a.jsx", Some("javascript")),
            ("a.mjs", Some("javascript")),
            ("a.rs", Some("rust")),
            ("a.go", Some("go")),
            ("a.java", Some("java")),
            ("a.c", Some("c")),
            ("a.h", Some("c")),
            ("a.cc", Some("cpp")),
            ("a.cpp", Some("cpp")),
            ("a.cxx", Some("cpp")),
            ("a.hpp", Some("cpp")),
            ("a.cs", Some("csharp")),
            ("README.MD", Some("markdown")),
            ("a.txt", Some("text")),
            ("a.json", Some("json")),
            ("a.yaml", Some("yaml")),
            ("a.yml", Some("yaml")),
            ("Cargo.toml", Some("toml")),
            ("Makefile", None),
            ("a.hs", None),
            (".gitignore", None),
        ];
        for (path, language) in cases {
            assert_eq!(language_for_path(Path::new(path)), language, "{path}");
        }
    }

    #[test]
    fn cost_uses_the_cost_model() {
        let entries = [FileEntry::new("notes/invoice.md", "markdown", 10_000)];
        let default = BaselineComparator::new(BaselineApproach::GrepFullFiles)
            .estimate_entries(entries, &["invoice"]);
        assert_eq!(default.tokens, 3_000);
        assert!(close(default.cost_usd, 3.0 * 0.0054));

        let flat = BaselineComparator::new(BaselineApproach::GrepFullFiles)
            .with_cost_model(CostModel::flat(0.01))
            .estimate_entries(entries, &["invoice"]);
        assert!(close(flat.cost_usd, 0.03));
    }

    fn index() -> Vec<(&'static str, &'static str, u64)> {
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

    fn entries(index: &[(&'static str, &'static str, u64)]) -> Vec<FileEntry<'static>> {
        index
            .iter()
            .map(|&(path, language, size)| FileEntry::new(path, language, size))
            .collect()
    }

    #[test]
    fn grep_from_entries_matches_whole_paths() {
        let index = index();
        let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
        let estimate = comparator.estimate_entries(entries(&index), &["INVOICE", "  ", ""]);
        // invoice.rs, Invoice-guide.md, and invoices/readme.txt by its directory.
        assert_eq!(estimate.approach, BaselineApproach::GrepFullFiles);
        assert_eq!(estimate.source, EstimateSource::Entries);
        assert_eq!(estimate.files_seen, 9);
        assert_eq!(estimate.matched_files, 3);
        assert_eq!(estimate.matched_directories, 0);
        assert_eq!(estimate.files, 3);
        assert_eq!(estimate.bytes, 6_100);
        assert_eq!(estimate.lines, 100 + 20 + 2);
        assert_eq!(estimate.tokens, 1_000 + 300 + 30);
        assert_eq!(
            (estimate.binary_files_skipped, estimate.unreadable_skipped),
            (0, 0)
        );
        assert!(close(estimate.cost_usd, 1.330 * 0.0054));
    }

    #[test]
    fn file_name_with_directory_from_entries() {
        let index = index();
        let comparator = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
        let estimate = comparator.estimate_entries(entries(&index), &["invoice", "Makefile"]);
        // Names: invoice.rs, Invoice-guide.md and Makefile (the directory
        // invoices/ does not count). Directories: src/billing, docs and the root.
        assert_eq!(estimate.matched_files, 3);
        assert_eq!(estimate.matched_directories, 3);
        assert_eq!(estimate.files, 6);
        assert_eq!(estimate.bytes, 12_000);
        assert_eq!(estimate.lines, 100 + 20 + 40 + 20 + 40 + 20);
        // The Makefile has no language: the default rate.
        assert_eq!(estimate.tokens, 1_000 + 200 + 500 + 300 + 600 + 220);
    }

    #[test]
    fn entries_accept_tuples_and_detect_missing_languages() {
        let path = String::from("lib/parse.py");
        let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
        let estimate = comparator.estimate_entries([(path.as_str(), "", 1_000)], &["parse"]);
        assert_eq!(estimate.tokens, 250);
        let estimate = comparator.estimate_entries([(path.as_str(), "Python", 1_000)], &["parse"]);
        assert_eq!(estimate.tokens, 250);
    }

    #[test]
    fn no_keywords_match_nothing() {
        let index = index();
        for approach in [
            BaselineApproach::GrepFullFiles,
            BaselineApproach::FileNameWithDirectory,
        ] {
            let estimate =
                BaselineComparator::new(approach).estimate_entries(entries(&index), &[" "]);
            assert_eq!(
                estimate.counts(),
                BenchmarkCounts::default(),
                "{approach:?}"
            );
            let none: [&str; 0] = [];
            let estimate =
                BaselineComparator::new(approach).estimate_entries(entries(&index), &none);
            assert_eq!(estimate.files, 0);
            assert_eq!(estimate.files_seen, 9);
        }
    }

    #[test]
    fn keywords_fold_unicode_case() {
        let keywords = Keywords::new(&["ÄRGER", "Straße", "ärger"]);
        assert_eq!(keywords.0, ["straße", "ärger"]);
        let mut folded = String::new();
        fold_case("VIEL ÄRGER", &mut folded);
        assert!(keywords.matches(&folded));
        assert!(keywords.matches_file_name(Path::new("x/STRAßE.txt")));
        assert!(!keywords.matches_file_name(Path::new("strasse/readme.md")));
    }

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
