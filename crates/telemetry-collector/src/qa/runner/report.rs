//! Reading a test framework's report into [`TestCounts`]: JUnit XML
//! (pytest's `--junitxml`, and any JUnit writer), `cargo test`'s and
//! nextest's summaries, and Python `unittest`'s.
//!
//! Each framework is one parser; adding one is a variant, its name in
//! [`FRAMEWORKS`](crate::qa::FRAMEWORKS) and its arm in [`Framework::parse`].

use std::str::FromStr;

use telemetry_trace::TestCounts;

/// A test framework whose results the runner reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// pytest: the JUnit XML at the report path (`--junitxml=…`), else
    /// the `== 3 passed, 1 failed in 0.12s ==` summary.
    Pytest,
    /// Any JUnit XML writer, at the report path.
    Junit,
    /// `cargo test`: the `test result:` lines, summed over test binaries.
    Cargo,
    /// `cargo nextest run`: its `Summary` line.
    Nextest,
    /// Python's `unittest`: `Ran N tests` and `OK` or `FAILED (…)`.
    Unittest,
}

impl Framework {
    /// Its name in the complete body.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pytest => "pytest",
            Self::Junit => "junit",
            Self::Cargo => "cargo",
            Self::Nextest => "nextest",
            Self::Unittest => "unittest",
        }
    }

    /// The counts from the report file's text (`report`, when the request
    /// named one and it was written) or the command's log; `Err` says
    /// what was missing or wrong.
    pub fn parse(self, report: Option<&str>, log: &str) -> Result<TestCounts, String> {
        match self {
            Self::Junit => junit(report.ok_or("no JUnit report was written at the report path")?),
            Self::Pytest => match report {
                Some(xml) => junit(xml),
                None => pytest_summary(log),
            },
            Self::Cargo => cargo(log),
            Self::Nextest => nextest(log),
            Self::Unittest => unittest(log),
        }
    }
}

impl FromStr for Framework {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [
            Self::Pytest,
            Self::Junit,
            Self::Cargo,
            Self::Nextest,
            Self::Unittest,
        ]
        .into_iter()
        .find(|framework| framework.as_str() == name)
        .ok_or_else(|| format!("`{name}` is not a known framework"))
    }
}

/// Counts the `<testcase>` elements of a JUnit XML report by their
/// outcome (a `<failure>`, `<error>` or `<skipped>` child, else passed).
fn junit(xml: &str) -> Result<TestCounts, String> {
    let document = roxmltree::Document::parse(xml)
        .map_err(|error| format!("the JUnit report is not XML: {error}"))?;
    let root = document.root_element().tag_name().name();
    if root != "testsuites" && root != "testsuite" {
        return Err(format!(
            "the JUnit report's root is <{root}>, not <testsuites> or <testsuite>"
        ));
    }
    let mut counts = TestCounts::default();
    for case in document
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
    {
        let outcome = case
            .children()
            .find_map(|child| match child.tag_name().name() {
                "failure" => Some(1),
                "error" => Some(2),
                "skipped" => Some(3),
                _ => None,
            });
        match outcome {
            Some(1) => counts.failed = counts.failed.saturating_add(1),
            Some(2) => counts.errors = counts.errors.saturating_add(1),
            Some(_) => counts.skipped = counts.skipped.saturating_add(1),
            None => counts.passed = counts.passed.saturating_add(1),
        }
    }
    Ok(counts)
}

/// The number before each `word` in `text` (`3 passed, 1 failed`).
fn count_before(text: &str, word: &str) -> Option<u32> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|pair| pair[1].trim_end_matches(['.', ':']) == word)
        .filter_map(|pair| pair[0].parse::<u32>().ok())
        .reduce(u32::saturating_add)
}

/// pytest's last `=== … in 0.12s ===` line.
fn pytest_summary(log: &str) -> Result<TestCounts, String> {
    let line = log
        .lines()
        .rev()
        .find(|line| {
            line.starts_with('=')
                && [" passed", " failed", " error", " no tests ran"]
                    .iter()
                    .any(|word| line.contains(word))
        })
        .ok_or("no pytest summary line in the log (and no --junitxml report)")?;
    Ok(TestCounts {
        passed: count_before(line, "passed").unwrap_or(0),
        failed: count_before(line, "failed").unwrap_or(0),
        errors: count_before(line, "errors")
            .or_else(|| count_before(line, "error"))
            .unwrap_or(0),
        skipped: count_before(line, "skipped").unwrap_or(0),
    })
}

/// `cargo test`: every `test result: ok. 3 passed; 0 failed; 1 ignored;`
/// line, summed (one per test binary and doc tests).
fn cargo(log: &str) -> Result<TestCounts, String> {
    let mut counts = TestCounts::default();
    let mut seen = false;
    for line in log.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        seen = true;
        let add = |total: &mut u32, word| {
            *total = total.saturating_add(count_before(rest, word).unwrap_or(0));
        };
        add(&mut counts.passed, "passed");
        add(&mut counts.failed, "failed");
        add(&mut counts.skipped, "ignored");
    }
    if !seen {
        return Err("no `test result:` line in the log".to_owned());
    }
    if counts.failed == 0 && log.contains("error: could not compile") {
        counts.errors += 1;
    }
    Ok(counts)
}

/// nextest: `Summary [ 0.01s] 5 tests run: 4 passed, 1 failed, 2 skipped`.
fn nextest(log: &str) -> Result<TestCounts, String> {
    let line = log
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| {
            line.starts_with("Summary")
                && (line.contains("tests run:") || line.contains("test run:"))
        })
        .ok_or("no nextest `Summary` line in the log")?;
    let (_, outcomes) = line.split_once("run:").unwrap_or(("", line));
    Ok(TestCounts {
        passed: count_before(outcomes, "passed").unwrap_or(0),
        failed: count_before(outcomes, "failed")
            .unwrap_or(0)
            .saturating_add(count_before(outcomes, "timed").unwrap_or(0)),
        errors: 0,
        skipped: count_before(outcomes, "skipped").unwrap_or(0),
    })
}

/// `unittest`: `Ran 5 tests in 0.001s`, then `OK (skipped=1)` or
/// `FAILED (failures=1, errors=1)`.
fn unittest(log: &str) -> Result<TestCounts, String> {
    let ran = log
        .lines()
        .find_map(|line| {
            line.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .ok_or("no `Ran N tests` line in the log")?;
    let status = log
        .lines()
        .rev()
        .find(|line| line.starts_with("OK") || line.starts_with("FAILED"))
        .ok_or("no `OK` or `FAILED` line after `Ran N tests`")?;
    let field = |name: &str| {
        status
            .split(['(', ')', ','])
            .find_map(|part| {
                part.trim()
                    .strip_prefix(name)?
                    .strip_prefix('=')?
                    .parse::<u32>()
                    .ok()
            })
            .unwrap_or(0)
    };
    let failed = field("failures");
    let errors = field("errors");
    let skipped = field("skipped");
    let expected = field("expected failures");
    Ok(TestCounts {
        passed: [failed, errors, skipped, expected]
            .into_iter()
            .fold(ran, u32::saturating_sub),
        failed,
        errors,
        skipped: skipped.saturating_add(expected),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: u32, failed: u32, errors: u32, skipped: u32) -> TestCounts {
        TestCounts {
            passed,
            failed,
            errors,
            skipped,
        }
    }

    #[test]
    fn pytest_junit_xml_is_counted_by_test_case() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_a" name="test_one" time="0.001"/>
<testcase classname="tests.test_a" name="test_two" time="0.001"/>
<testcase classname="tests.test_a" name="test_three"><failure message="assert 1 == 2">x</failure></testcase>
<testcase classname="tests.test_b" name="test_four"><error message="fixture">y</error></testcase>
<testcase classname="tests.test_b" name="test_five"><skipped message="later"/></testcase>
</testsuite></testsuites>"#;
        assert_eq!(
            Framework::Pytest.parse(Some(xml), ""),
            Ok(counts(2, 1, 1, 1))
        );
        assert_eq!(
            Framework::Junit.parse(Some(xml), ""),
            Ok(counts(2, 1, 1, 1))
        );
    }

    #[test]
    fn a_broken_or_missing_report_says_what_is_wrong() {
        let error = Framework::Junit
            .parse(Some("<testsuites>"), "")
            .unwrap_err();
        assert!(error.contains("not XML"), "{error}");
        let error = Framework::Junit.parse(Some("<html/>"), "").unwrap_err();
        assert!(error.contains("<html>"), "{error}");
        let error = Framework::Junit.parse(None, "").unwrap_err();
        assert!(error.contains("no JUnit report"), "{error}");
        let error = Framework::Cargo.parse(None, "compiling…").unwrap_err();
        assert!(error.contains("test result:"), "{error}");
    }

    #[test]
    fn pytest_without_a_report_reads_its_summary_line() {
        let log = "....F\n=== FAILURES ===\n=========== 1 failed, 4 passed, 2 skipped in 0.12s ===========\n";
        assert_eq!(Framework::Pytest.parse(None, log), Ok(counts(4, 1, 0, 2)));
        let log = "==== 3 passed, 2 errors in 0.40s ====";
        assert_eq!(Framework::Pytest.parse(None, log), Ok(counts(3, 0, 2, 0)));
    }

    #[test]
    fn cargo_test_results_are_summed_over_binaries() {
        let log = "\
running 3 tests
test a ... ok
test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s

running 2 tests
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s
";
        assert_eq!(Framework::Cargo.parse(None, log), Ok(counts(4, 1, 0, 1)));
    }

    #[test]
    fn nextest_summary_is_read() {
        let log = "    PASS [   0.004s] crate tests::a\n------------\n     Summary [   0.010s] 6 tests run: 4 passed, 2 failed, 1 skipped\n";
        assert_eq!(Framework::Nextest.parse(None, log), Ok(counts(4, 2, 0, 1)));
    }

    #[test]
    fn unittest_counts_come_from_ran_and_the_status_line() {
        let log = "..F.E\n----------------------------------------------------------------------\nRan 6 tests in 0.002s\n\nFAILED (failures=1, errors=1, skipped=1)\n";
        assert_eq!(Framework::Unittest.parse(None, log), Ok(counts(3, 1, 1, 1)));
        let log = "Ran 3 tests in 0.000s\n\nOK (expected failures=1)\n";
        assert_eq!(Framework::Unittest.parse(None, log), Ok(counts(2, 0, 0, 1)));
        let log = "Ran 2 tests in 0.000s\n\nOK\n";
        assert_eq!(Framework::Unittest.parse(None, log), Ok(counts(2, 0, 0, 0)));
    }

    #[test]
    fn every_framework_name_parses_back() {
        for name in crate::qa::FRAMEWORKS {
            assert_eq!(name.parse::<Framework>().unwrap().as_str(), name);
        }
        assert!("mocha".parse::<Framework>().is_err());
    }
}
