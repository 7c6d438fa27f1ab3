//! `telemetry-collector demo`, the real binary: the three examples
//! submitted to its embedded collector, validated in the sandbox, judged by
//! the heuristic judge, and the reference design's comparison table printed
//! with the trace pages' addresses, which answer while `--keep` serves.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The table's rows by label: one cell per example, in column order.
fn table(stdout: &str) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut rows = stdout
        .lines()
        .filter(|line| line.starts_with("| "))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>()
        });
    let header = rows.next().expect("a table");
    assert_eq!(header[0], "Feature");
    let body = rows
        .filter(|cells| !cells[0].starts_with('-'))
        .map(|cells| (cells[0].clone(), cells[1..].to_vec()))
        .collect();
    (header[1..].to_vec(), body)
}

#[test]
fn the_demo_prints_the_reference_comparison_table() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_telemetry-collector"))
        .arg("demo")
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("TELEMETRY_COLLECTOR_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let (columns, rows) = table(&stdout);
    assert_eq!(columns, ["Simple", "Complex", "Failed"], "{stdout}");
    assert_eq!(rows["Bug Fixed?"], ["yes", "yes", "no"], "{stdout}");
    assert_eq!(rows["Files Edited"], ["1", "3", "2"], "{stdout}");
    assert_eq!(rows["Test Runs"], ["2", "4", "3"], "{stdout}");
    assert_eq!(rows["Commit?"], ["yes", "yes", "no"], "{stdout}");
    let scores: Vec<f64> = rows["Score"]
        .iter()
        .map(|cell| {
            cell.strip_suffix("/5")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a score, not {cell}: {stdout}"))
        })
        .collect();
    let (simple, complex, failed) = (scores[0], scores[1], scores[2]);
    assert!(
        complex > failed && failed > simple,
        "process over outcome: {stdout}"
    );
    for name in ["simple", "complex", "failed"] {
        assert!(
            stdout.lines().any(|line| line.starts_with(name)
                && line.contains("/ui/traces/trace-")
                && line.ends_with("(QA done)")),
            "{name}: {stdout}"
        );
    }
    // Nothing but warnings goes to standard error.
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

#[test]
fn with_keep_the_demo_serves_the_pages_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_telemetry-collector"))
        .args(["demo", "--keep", "--data-dir"])
        .arg(dir.path())
        .env_remove("TELEMETRY_COLLECTOR_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pages = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(url) = line
            .split_whitespace()
            .find(|word| word.contains("/ui/traces/"))
        {
            pages.push(url.to_owned());
        }
        if line.starts_with("serving until Ctrl-C") {
            break;
        }
    }
    assert_eq!(pages.len(), 3, "{pages:?}");
    for page in &pages {
        let mut answer = ureq::get(page).call().expect("the page answers");
        assert_eq!(answer.status(), 200, "{page}");
        let html = answer.body_mut().read_to_string().unwrap();
        assert!(html.contains("id=\"rubric\""), "{page}");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
