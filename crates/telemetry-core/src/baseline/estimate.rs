//! Estimates: what a naive approach would have returned, as counts
//! ([`BaselineEstimate`]), and the list of files it can be estimated from
//! without reading them ([`FileEntry`]).

use std::collections::BTreeSet;
use std::path::Path;

use super::BaselineComparator;
use super::keywords::{Keywords, fold_case};
use super::languages::language_for_path;
use super::tokens::TokenModel;
use crate::catalogue::{BaselineApproach, BenchmarkCounts};

/// One file of a list, as a search index knows it: for
/// [`BaselineComparator::estimate_entries`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileEntry<'a> {
    /// The path, best relative to the repository root: with
    /// [`GrepFullFiles`](BaselineApproach::GrepFullFiles) keywords are
    /// matched against all of it.
    pub path: &'a Path,
    /// The language, as named in
    /// [`BUILT_IN_TOKENS_PER_1000_BYTES`](super::BUILT_IN_TOKENS_PER_1000_BYTES);
    /// when empty, it is found from the path's extension with
    /// [`language_for_path`].
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
    pub(super) fn empty(approach: BaselineApproach, source: EstimateSource) -> Self {
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
    pub(super) fn add(
        &mut self,
        tokens: &TokenModel,
        language: Option<&str>,
        bytes: u64,
        lines: u64,
    ) {
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

/// The walk of [`BaselineComparator::estimate_entries`], over entries whose
/// contents are unknown.
pub(super) fn from_entries(
    comparator: &BaselineComparator,
    entries: &[FileEntry<'_>],
    keywords: &Keywords,
) -> BaselineEstimate {
    let mut estimate = BaselineEstimate::empty(comparator.approach, EstimateSource::Entries);
    estimate.files_seen = entries.len() as u64;
    let add = |estimate: &mut BaselineEstimate, entry: &FileEntry<'_>| {
        let lines = comparator.token_model.estimate_lines(entry.size_bytes);
        estimate.add(
            &comparator.token_model,
            entry.language(),
            entry.size_bytes,
            lines,
        );
    };
    match comparator.approach {
        BaselineApproach::GrepFullFiles => {
            let mut folded = String::new();
            for entry in entries {
                fold_case(&entry.path.to_string_lossy(), &mut folded);
                if keywords.matches(&folded) {
                    estimate.matched_files += 1;
                    add(&mut estimate, entry);
                }
            }
        }
        BaselineApproach::FileNameWithDirectory => {
            let mut directories = BTreeSet::new();
            for entry in entries {
                if keywords.matches_file_name(entry.path) {
                    estimate.matched_files += 1;
                    directories.insert(parent(entry.path));
                }
            }
            estimate.matched_directories = directories.len() as u64;
            for entry in entries {
                if directories.contains(parent(entry.path)) {
                    add(&mut estimate, entry);
                }
            }
        }
    }
    estimate.cost_usd = comparator.cost_model.cost_usd(estimate.tokens);
    estimate
}

/// The directory of `path`; the empty path for a bare file name.
pub(super) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CostModel;
    use crate::baseline::fixtures::{close, entries, index};

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
}
