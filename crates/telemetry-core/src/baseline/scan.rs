//! Reading a directory tree for [`BaselineComparator::scan_directory`].

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

use super::BaselineComparator;
use super::estimate::{BaselineEstimate, EstimateSource, parent};
use super::keywords::{Keywords, fold_case};
use super::languages::language_for_path;
use crate::catalogue::BaselineApproach;

/// How many leading bytes are searched for a NUL to tell a binary file.
const BINARY_PROBE_BYTES: u64 = 8 * 1024;

/// Why a directory tree could not be scanned. Files and subdirectories that
/// cannot be read are skipped and counted instead; see
/// [`BaselineEstimate::unreadable_skipped`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The root could not be read: missing, not permitted, …
    #[error("cannot scan `{}`: {source}", path.display())]
    UnreadableRoot {
        /// The root given.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: io::Error,
    },
    /// The root is not a directory.
    #[error("cannot scan `{}`: not a directory", path.display())]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
}

pub(super) fn scan(
    comparator: &BaselineComparator,
    root: &Path,
    keywords: &Keywords,
) -> Result<BaselineEstimate, ScanError> {
    let (files, walk_errors) = walk(root)?;
    let mut estimate = tally(comparator, &files, keywords);
    estimate.unreadable_skipped += walk_errors;
    Ok(estimate)
}

/// The regular files under `root` that are neither ignored nor hidden, and
/// how many entries could not be read.
fn walk(root: &Path) -> Result<(Vec<PathBuf>, u64), ScanError> {
    let unreadable = |source| ScanError::UnreadableRoot {
        path: root.to_owned(),
        source,
    };
    if !fs::metadata(root).map_err(unreadable)?.is_dir() {
        return Err(ScanError::NotADirectory {
            path: root.to_owned(),
        });
    }
    // The walk would report an unreadable root as one skipped entry.
    fs::read_dir(root).map_err(unreadable)?;

    let mut files = Vec::new();
    let mut errors = 0;
    for entry in WalkBuilder::new(root).require_git(false).build() {
        match entry {
            Ok(entry) if entry.file_type().is_some_and(|kind| kind.is_file()) => {
                files.push(entry.into_path());
            }
            Ok(_) => {}
            Err(_) => errors += 1,
        }
    }
    Ok((files, errors))
}

/// Reads what the approach needs of `files` and adds up what it returns.
fn tally(
    comparator: &BaselineComparator,
    files: &[PathBuf],
    keywords: &Keywords,
) -> BaselineEstimate {
    let token_model = &comparator.token_model;
    let mut estimate = BaselineEstimate::empty(comparator.approach, EstimateSource::Scan);
    estimate.files_seen = files.len() as u64;
    match comparator.approach {
        BaselineApproach::GrepFullFiles => {
            for path in files {
                match read(path, Some(keywords)) {
                    Err(_) => estimate.unreadable_skipped += 1,
                    Ok(Content::Binary) => estimate.binary_files_skipped += 1,
                    Ok(Content::Text(text)) => {
                        if text.matched {
                            estimate.matched_files += 1;
                            estimate.add(
                                token_model,
                                language_for_path(path),
                                text.bytes,
                                text.lines,
                            );
                        }
                    }
                }
            }
        }
        BaselineApproach::FileNameWithDirectory => {
            let mut directories: BTreeMap<&Path, Vec<&Path>> = BTreeMap::new();
            for path in files {
                directories.entry(parent(path)).or_default().push(path);
            }
            for files in directories.into_values() {
                let names: Vec<bool> = files
                    .iter()
                    .map(|path| keywords.matches_file_name(path))
                    .collect();
                if !names.contains(&true) {
                    continue;
                }
                // Binary and unreadable files are neither returned nor matches.
                let mut returned = Vec::new();
                let mut matched = 0;
                for (path, name_matches) in files.into_iter().zip(names) {
                    match read(path, None) {
                        Err(_) => estimate.unreadable_skipped += 1,
                        Ok(Content::Binary) => estimate.binary_files_skipped += 1,
                        Ok(Content::Text(text)) => {
                            matched += u64::from(name_matches);
                            returned.push((path, text));
                        }
                    }
                }
                if matched > 0 {
                    estimate.matched_files += matched;
                    estimate.matched_directories += 1;
                    for (path, text) in returned {
                        estimate.add(token_model, language_for_path(path), text.bytes, text.lines);
                    }
                }
            }
        }
    }
    estimate.cost_usd = comparator.cost_model.cost_usd(estimate.tokens);
    estimate
}

/// What reading one file found.
enum Content {
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Anything else.
    Text(TextFacts),
}

/// Size, lines and whether a keyword occurs, of a text file.
#[derive(Debug, Default, PartialEq, Eq)]
struct TextFacts {
    bytes: u64,
    lines: u64,
    matched: bool,
}

/// Reads `path` through, line by line, and looks for `keywords` if given.
fn read(path: &Path, keywords: Option<&Keywords>) -> io::Result<Content> {
    let mut file = File::open(path)?;
    let mut head = Vec::new();
    (&mut file)
        .take(BINARY_PROBE_BYTES)
        .read_to_end(&mut head)?;
    if head.contains(&0) {
        return Ok(Content::Binary);
    }
    let mut reader = BufReader::new(io::Cursor::new(head).chain(file));
    let mut facts = TextFacts::default();
    let mut line = Vec::new();
    let mut folded = String::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        facts.bytes += read as u64;
        facts.lines += 1;
        if let Some(keywords) = keywords
            && !facts.matched
        {
            fold_case(&String::from_utf8_lossy(&line), &mut folded);
            facts.matched = keywords.matches(&folded);
        }
    }
    Ok(Content::Text(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &Path, keywords: &[&str]) -> TextFacts {
        match read(path, Some(&Keywords::new(keywords))).unwrap() {
            Content::Text(facts) => facts,
            Content::Binary => panic!("{} read as binary", path.display()),
        }
    }

    #[test]
    fn counts_lines_like_a_person_would() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], u64); 5] = [
            ("empty", b"", 0),
            ("one", b"one line", 1),
            ("one-newline", b"one line\n", 1),
            ("two", b"one\ntwo", 2),
            ("blank-lines", b"\n\n\n", 3),
        ];
        for (name, content, lines) in cases {
            let path = dir.path().join(name);
            fs::write(&path, content).unwrap();
            let facts = text(&path, &["line"]);
            assert_eq!(
                (facts.bytes, facts.lines),
                (content.len() as u64, lines),
                "{name}"
            );
        }
    }

    #[test]
    fn matches_keywords_across_the_binary_probe_and_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.txt");
        let mut content = "filler line\n".repeat(2_000);
        content.push_str("the Needle is here\nand after\n");
        fs::write(&path, &content).unwrap();
        let facts = text(&path, &["NEEDLE"]);
        assert!(facts.matched);
        assert_eq!(facts.lines, 2_002);
        assert_eq!(facts.bytes, content.len() as u64);
        assert!(!text(&path, &["needle is here and"]).matched);
        assert!(!text(&path, &[]).matched);
    }

    #[test]
    fn a_nul_in_the_first_8_kib_is_binary_and_later_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let early = dir.path().join("early.bin");
        let mut content = vec![b'a'; 8 * 1024];
        content[8 * 1024 - 1] = 0;
        fs::write(&early, &content).unwrap();
        assert!(matches!(read(&early, None).unwrap(), Content::Binary));

        let late = dir.path().join("late.txt");
        let mut content = vec![b'a'; 8 * 1024];
        content.push(0);
        fs::write(&late, &content).unwrap();
        assert!(matches!(read(&late, None).unwrap(), Content::Text(_)));
    }

    #[test]
    fn unreadable_files_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let readable = dir.path().join("keyword.txt");
        fs::write(&readable, "keyword\n").unwrap();
        // Gone between the walk and the read; a directory cannot be read as a file.
        let directory = dir.path().join("keyword-dir");
        fs::create_dir(&directory).unwrap();
        let files = [readable, dir.path().join("vanished-keyword.txt"), directory];
        let keywords = Keywords::new(&["keyword"]);
        for approach in [
            BaselineApproach::GrepFullFiles,
            BaselineApproach::FileNameWithDirectory,
        ] {
            let estimate = tally(&BaselineComparator::new(approach), &files, &keywords);
            assert_eq!(estimate.files_seen, 3, "{approach:?}");
            assert_eq!(estimate.files, 1, "{approach:?}");
            assert_eq!(estimate.matched_files, 1, "{approach:?}");
            assert_eq!(estimate.unreadable_skipped, 2, "{approach:?}");
        }
    }
}
