//! `cargo xtask bench tokens`: the token-usage benchmarks, in one run, and
//! their table in `docs/benchmarks.md` (a section of its own, between the
//! `bench-tokens` markers).
//!
//! - `tokens_record` (divan): what `TokenRecorder::record` costs the caller.
//! - `tokens_calibrate` (a plain program): generates 1,000,000 calls in 30
//!   groups, then times reading the rows alone, `calibrate`, and the
//!   reference workflow's Python (`sqlite3` + `statistics.median`) on the
//!   same file, and checks that the medians agree.
//!
//! `--no-write` prints the table without touching the document.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::bench::{captured, divan_medians, duration, publish, verdict};

const BEGIN: &str = "<!-- bench-tokens:begin (written by `cargo xtask bench tokens`) -->";
const END: &str = "<!-- bench-tokens:end -->";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let write = match args.first().map(String::as_str) {
        None => true,
        Some("--no-write") => false,
        Some(other) => bail!("`bench tokens` takes only --no-write, got `{other}`"),
    };
    let started = Instant::now();
    let bench = |step, name| {
        captured(
            step,
            "cargo",
            &[
                "bench",
                "--locked",
                "-p",
                "telemetry-benches",
                "--bench",
                name,
            ],
        )
    };
    let record = divan_medians(&bench("token recording", "tokens_record")?)?;
    let calibrate = bench("token calibration", "tokens_calibrate")?;
    let numbers = parse(&calibrate)?;
    let table = table(&record, &numbers)?;
    publish(
        "bench tokens",
        started,
        &table,
        write.then_some((BEGIN, END)),
    )?;
    Ok(())
}

/// The `tokens key=value…` line.
fn parse(output: &str) -> anyhow::Result<HashMap<String, f64>> {
    crate::bench::key_values(output, "tokens")
}

fn table(record: &HashMap<String, f64>, numbers: &HashMap<String, f64>) -> anyhow::Result<String> {
    let get = |key: &str| {
        numbers
            .get(key)
            .copied()
            .with_context(|| format!("no `{key}` in the calibration benchmark's line"))
    };
    let recording = record
        .get("tokens_record")
        .copied()
        .context("no median for benchmark `tokens_record`")?;
    let (rows, groups) = (get("rows")?, get("groups")?);
    let (floor, ours, python) = (get("read_floor_s")?, get("calibrate_s")?, get("python_s")?);
    let (medians, diff) = (get("medians")?, get("max_median_diff")?);
    let mut out = String::from(
        "| what | measured | compared with | result | target | met |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut row = |cells: [&str; 6]| {
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    };
    row([
        "`TokenRecorder::record`, recording on (checks, guard on six labels, hand-off to the writer)",
        &duration(recording),
        "—",
        &format!("median {}", duration(recording)),
        "≤ 2 µs",
        verdict(recording <= 2_000.0),
    ]);
    row([
        &format!(
            "`calibrate` of {rows:.0} calls in {groups:.0} groups: every statistic, proposals, backtest"
        ),
        &format!("{ours:.2} s"),
        "—",
        &format!("{ours:.2} s"),
        "≤ 5 s",
        verdict(ours <= 5.0),
    ]);
    let speedup = python / ours;
    row([
        "the same",
        &format!("{ours:.2} s"),
        &format!(
            "Python 3 `sqlite3` rows + `statistics.median` per group, medians only: {python:.2} s"
        ),
        &format!("{speedup:.1}× faster"),
        "≥ 5×",
        verdict(speedup >= 5.0),
    ]);
    row([
        "the same medians",
        &format!("{medians:.0} groups"),
        "Python's medians",
        &format!("largest difference {diff:e}"),
        "equal",
        verdict(diff == 0.0),
    ]);
    row([
        "reading the rows alone (the floor: the same columns, touched, no work)",
        &format!("{floor:.2} s"),
        &format!("`calibrate`: {ours:.2} s"),
        &format!("calibrate at {:.2}× the floor", ours / floor),
        "—",
        "—",
    ]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_line_parses() {
        let numbers =
            parse("noise\ntokens rows=1000000 groups=30 calibrate_s=0.7988 max_median_diff=0e0\n")
                .unwrap();
        assert_eq!(numbers["rows"], 1_000_000.0);
        assert_eq!(numbers["calibrate_s"], 0.7988);
        assert_eq!(numbers["max_median_diff"], 0.0);
        assert!(parse("nothing here").is_err());
        assert!(parse("tokens rows=many").is_err());
    }
}
