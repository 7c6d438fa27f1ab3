//! `BaselineComparator::scan_directory` on a real directory tree.
#![cfg(feature = "scan")]

use std::fs;
use std::path::Path;

use telemetry_core::baseline::{BaselineComparator, EstimateSource, ScanError, ToolOutput};
use telemetry_core::catalogue::BaselineApproach;

/// `count` lines of exactly 50 bytes, the one at `at` (if any) holding `text`.
fn lines(count: usize, at: Option<(usize, &str)>) -> String {
    (0..count)
        .map(|index| match at {
            Some((line, text)) if line == index => format!("{text:<49}\n"),
            _ => format!("{:<49}\n", format!("line {index} of ordinary words")),
        })
        .collect()
}

fn write(root: &Path, path: &str, content: impl AsRef<[u8]>) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// The tree, with the keyword `invoice`:
///
/// | file | why |
/// | --- | --- |
/// | `billing/invoice.rs` | matches by content and by name; 1000 bytes, 20 lines, rust |
/// | `billing/tax.rs` | no match, but beside a name match; 500 bytes, 10 lines |
/// | `docs/guide.md` | matches only case-insensitively (`INVOICE`); 2000 bytes, 40 lines, markdown |
/// | `src/main.rs` | no match anywhere; 500 bytes |
/// | `assets/invoice-data.bin` | binary (NUL byte), keyword in name and content: skipped |
/// | `assets/readme.txt` | no match, beside the binary file only |
/// | `billing/invoice.generated.rs` | ignored by `.gitignore`, keyword in name and content |
/// | `docs/.notes.md` | hidden, keyword in content |
fn tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("baseline-scan-")
        .tempdir()
        .unwrap();
    let root = dir.path();
    write(root, ".gitignore", "*.generated.rs\n");
    write(
        root,
        "billing/invoice.rs",
        lines(20, Some((3, "fn total(invoice: &Invoice) -> Cents {"))),
    );
    write(root, "billing/tax.rs", lines(10, None));
    write(
        root,
        "docs/guide.md",
        lines(40, Some((39, "How to send an INVOICE by mail"))),
    );
    write(root, "src/main.rs", lines(10, None));
    let mut binary = b"\x89PNG\r\n\x1a\n\0\0\0\rinvoice\n".to_vec();
    binary.extend_from_slice(lines(10, None).as_bytes());
    write(root, "assets/invoice-data.bin", binary);
    write(root, "assets/readme.txt", lines(4, None));
    write(
        root,
        "billing/invoice.generated.rs",
        lines(100, Some((0, "// generated invoice tables"))),
    );
    write(
        root,
        "docs/.notes.md",
        lines(10, Some((0, "invoice ideas"))),
    );
    dir
}

#[test]
fn grep_full_files_reads_contents() {
    let dir = tree();
    let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
    let estimate = comparator.scan_directory(dir.path(), &["invoice"]).unwrap();
    assert_eq!(estimate.approach, BaselineApproach::GrepFullFiles);
    assert_eq!(estimate.source, EstimateSource::Scan);
    // Not the ignored file, the hidden one nor .gitignore itself.
    assert_eq!(estimate.files_seen, 6);
    assert_eq!(estimate.binary_files_skipped, 1);
    assert_eq!(estimate.unreadable_skipped, 0);
    // billing/invoice.rs and docs/guide.md.
    assert_eq!(estimate.matched_files, 2);
    assert_eq!(estimate.matched_directories, 0);
    assert_eq!(estimate.files, 2);
    assert_eq!(estimate.bytes, 3_000);
    assert_eq!(estimate.lines, 60);
    // 1000 bytes of Rust at 200 per 1000, 2000 of Markdown at 300.
    assert_eq!(estimate.tokens, 200 + 600);
    assert!((estimate.cost_usd - 0.8 * 0.0054).abs() < 1e-12);
}

#[test]
fn keywords_match_case_insensitively_both_ways() {
    let dir = tree();
    let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
    let upper = comparator.scan_directory(dir.path(), &["INVOICE"]).unwrap();
    assert_eq!((upper.matched_files, upper.tokens), (2, 800));
    // Only docs/guide.md has "send an invoice".
    let phrase = comparator
        .scan_directory(dir.path(), &["Send An Invoice", "no such words"])
        .unwrap();
    assert_eq!(
        (phrase.matched_files, phrase.lines, phrase.tokens),
        (1, 40, 600)
    );
    let none = comparator.scan_directory(dir.path(), &["receipt"]).unwrap();
    assert_eq!(
        (none.files, none.lines, none.tokens, none.cost_usd),
        (0, 0, 0, 0.0)
    );
    assert_eq!(none.files_seen, 6);
}

#[test]
fn file_name_with_directory_returns_whole_directories() {
    let dir = tree();
    let comparator = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
    let estimate = comparator.scan_directory(dir.path(), &["Invoice"]).unwrap();
    assert_eq!(estimate.files_seen, 6);
    // billing/invoice.rs; not the binary assets/invoice-data.bin nor the ignored file.
    assert_eq!(estimate.matched_files, 1);
    assert_eq!(estimate.matched_directories, 1);
    // billing/invoice.rs and billing/tax.rs; assets/ is read but does not count.
    assert_eq!(estimate.files, 2);
    assert_eq!(estimate.bytes, 1_500);
    assert_eq!(estimate.lines, 30);
    assert_eq!(estimate.tokens, 300);
    assert_eq!(estimate.binary_files_skipped, 1);
    assert_eq!(estimate.unreadable_skipped, 0);
}

#[test]
fn a_scan_compares_and_converts_into_a_benchmark() {
    let dir = tree();
    let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
    let baseline = comparator.scan_directory(dir.path(), &["invoice"]).unwrap();
    let report = comparator.compare(baseline, ToolOutput::new(1, 6, 120));
    assert_eq!(report.baseline().matched_files, 2);
    let improvement = report.improvement();
    assert!((improvement.files_reduction_percent - 50.0).abs() < 1e-9);
    assert!((improvement.lines_reduction_percent - 90.0).abs() < 1e-9);
    assert!((improvement.tokens_reduction_percent - 85.0).abs() < 1e-9);
    assert!((improvement.cost_savings_percent - 85.0).abs() < 1e-9);

    let event = report.to_benchmark("search_vs_grep").unwrap();
    assert_eq!(event.baseline().tokens, 800);
    assert_eq!(event.actual().tokens, 120);
}

#[test]
fn an_ignore_file_counts_outside_a_git_repository() {
    let dir = tree();
    assert!(!dir.path().join(".git").exists());
    fs::remove_file(dir.path().join(".gitignore")).unwrap();
    let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);
    let estimate = comparator.scan_directory(dir.path(), &["invoice"]).unwrap();
    // Without it, the generated file (5000 bytes of Rust) counts.
    assert_eq!(estimate.files_seen, 7);
    assert_eq!((estimate.matched_files, estimate.tokens), (3, 1_800));
}

#[test]
fn a_hidden_root_is_still_scanned() {
    let dir = tempfile::Builder::new()
        .prefix(".hidden-")
        .tempdir()
        .unwrap();
    write(dir.path(), "a/invoice.txt", lines(2, None));
    let comparator = BaselineComparator::new(BaselineApproach::FileNameWithDirectory);
    let estimate = comparator.scan_directory(dir.path(), &["invoice"]).unwrap();
    assert_eq!(
        (estimate.files, estimate.lines, estimate.tokens),
        (1, 2, 30)
    );
}

#[test]
fn a_root_that_cannot_be_scanned_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let comparator = BaselineComparator::new(BaselineApproach::GrepFullFiles);

    let missing = dir.path().join("missing");
    let error = comparator
        .scan_directory(&missing, &["invoice"])
        .unwrap_err();
    assert!(matches!(&error, ScanError::UnreadableRoot { path, .. } if *path == missing));
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot scan `{}`: ", missing.display())),
        "{error}"
    );

    let file = dir.path().join("file.txt");
    fs::write(&file, "invoice\n").unwrap();
    let error = comparator.scan_directory(&file, &["invoice"]).unwrap_err();
    assert!(matches!(&error, ScanError::NotADirectory { path } if *path == file));
    assert_eq!(
        error.to_string(),
        format!("cannot scan `{}`: not a directory", file.display())
    );
}
