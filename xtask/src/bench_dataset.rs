//! `cargo xtask bench dataset`: the interaction-log and dataset benchmarks,
//! in one run, and their table in `docs/benchmarks.md` (a section of its
//! own, between the `bench-dataset` markers).
//!
//! - `dataset_log` (divan): what logging costs the calling thread.
//! - `dataset_build` (a plain program): generates a 1 GiB log, then runs
//!   `telemetry dataset build` (the release binary, built first) and the
//!   reference design's aggregator in Python on it, each in a process of its
//!   own, and reports their times, peak RSS and counts.
//!
//! `--no-write` prints the table without touching the document; `--mib N`
//! sizes the log (default 1024).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::bench::{captured, divan_medians, duration, publish, verdict};

const BEGIN: &str = "<!-- bench-dataset:begin (written by `cargo xtask bench dataset`) -->";
const END: &str = "<!-- bench-dataset:end -->";

/// The peak RSS allowed: 128 MiB plus 64 bytes per distinct example.
const RSS_BASE_KIB: f64 = 128.0 * 1024.0;
const RSS_PER_EXAMPLE_BYTES: f64 = 64.0;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut write = true;
    let mut mib = "1024".to_owned();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-write" => write = false,
            "--mib" => mib.clone_from(args.next().context("--mib takes a number")?),
            other => bail!("`bench dataset` takes --no-write and --mib N, got `{other}`"),
        }
    }
    let started = Instant::now();
    captured(
        "the telemetry binary, release",
        "cargo",
        &["build", "--release", "--locked", "-p", "telemetry-cli"],
    )?;
    let log = divan_medians(&captured(
        "interaction logging",
        "cargo",
        &[
            "bench",
            "--locked",
            "-p",
            "telemetry-benches",
            "--bench",
            "dataset_log",
        ],
    )?)?;
    let build = captured(
        "dataset build against Python",
        "cargo",
        &[
            "bench",
            "--locked",
            "-p",
            "telemetry-benches",
            "--bench",
            "dataset_build",
            "--",
            &mib,
        ],
    )?;
    let numbers = crate::bench::key_values(&build, "dataset")?;
    let table = table(&log, &numbers)?;
    publish(
        "bench dataset",
        started,
        &table,
        write.then_some((BEGIN, END)),
    )?;
    Ok(())
}

#[allow(
    clippy::too_many_lines,
    reason = "one row per target, in the issue's order"
)]
fn table(log: &HashMap<String, f64>, numbers: &HashMap<String, f64>) -> anyhow::Result<String> {
    let median = |name: &str| {
        log.get(name)
            .copied()
            .with_context(|| format!("no median for benchmark `{name}`"))
    };
    let get = |key: &str| {
        numbers
            .get(key)
            .copied()
            .with_context(|| format!("no `{key}` in the build benchmark's line"))
    };
    let mut out = String::from(
        "| what | measured | compared with | result | target | met |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut row = |cells: [&str; 6]| {
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    };
    let kept = median("dataset_log_kept_1kib")?;
    let clean = median("dataset_log_kept_1kib_clean")?;
    let sampled_out = median("dataset_call_sampled_out")?;
    let disabled = median("dataset_call_disabled")?;
    row([
        "`InteractionLogger::log` of a kept 1 KiB record with an address in it (sampling, span redaction of every key and string, JSON, hand-off to the writer)",
        &duration(kept),
        &format!("the same record without the address: {}", duration(clean)),
        &format!("median {}", duration(kept)),
        "≤ 5 µs",
        verdict(kept <= 5_000.0 && clean <= 5_000.0),
    ]);
    row([
        "`call_module_with_sampling` of a call the sampler leaves out (timing, one decision on a hashed id)",
        &duration(sampled_out),
        &format!("logger disabled: {}", duration(disabled)),
        &format!("median {}", duration(sampled_out)),
        "— (the decision alone: ≤ 100 ns, in the main table)",
        "—",
    ]);
    let mb = get("bytes")? / 1e6;
    let (ours_s, python_s) = (get("ours_s")?, get("python_s")?);
    let speedup = python_s / ours_s;
    row([
        &format!(
            "`telemetry dataset build` of a {mb:.0} MB log ({:.0} lines: nested inputs, 10% failures, 5% duplicates, {:.0} malformed)",
            get("lines")?,
            get("malformed_planted")?
        ),
        &format!("{ours_s:.2} s, {:.0} MB/s", get("ours_mb_s")?),
        &format!(
            "the reference design's aggregator in Python (`json.loads`, `json.dumps(sort_keys=True)`, SHA-256): {python_s:.2} s, {:.0} MB/s",
            get("python_mb_s")?
        ),
        &format!("{speedup:.1}× faster"),
        "≥ 10×",
        verdict(speedup >= 10.0),
    ]);
    let written = get("ours_written")?;
    let rss = get("ours_rss_kib")?;
    let allowed = RSS_BASE_KIB + written * RSS_PER_EXAMPLE_BYTES / 1024.0;
    row([
        "its peak RSS",
        &format!("{:.1} MiB", rss / 1024.0),
        &format!("Python: {:.1} MiB", get("python_rss_kib")? / 1024.0),
        &format!(
            "{:.1} MiB allowed for {written:.0} examples",
            allowed / 1024.0
        ),
        "≤ 128 MiB + 64 B per distinct example",
        verdict(rss <= allowed),
    ]);
    let same = |key: &str| -> anyhow::Result<bool> {
        Ok(get(&format!("ours_{key}"))? == get(&format!("python_{key}"))?)
    };
    let merged = get("ours_duplicates")? - get("python_duplicates")?;
    row([
        "the same counts: read, malformed, filtered",
        &format!(
            "{:.0} read, {:.0} malformed, {:.0} filtered",
            get("ours_read")?,
            get("ours_malformed")?,
            get("ours_filtered")?
        ),
        &format!(
            "Python: {:.0}, {:.0}, {:.0}",
            get("python_read")?,
            get("python_malformed")?,
            get("python_filtered")?
        ),
        if same("read")? && same("malformed")? && same("filtered")? {
            "equal"
        } else {
            "different"
        },
        "equal",
        verdict(same("read")? && same("malformed")? && same("filtered")?),
    ]);
    row([
        "duplicates found, and examples written",
        &format!(
            "{:.0} duplicates, {written:.0} written",
            get("ours_duplicates")?
        ),
        &format!(
            "Python: {:.0} duplicates, {:.0} written",
            get("python_duplicates")?,
            get("python_written")?
        ),
        &format!(
            "{merged:.0} more merged: the same input up to number spelling (`2.0` for `2`, {:.0} planted) or to an address the redaction replaces ({:.0} planted), which `json.dumps(sort_keys=True)` keeps apart",
            get("number_dups_planted")?,
            get("redaction_dups_planted")?
        ),
        "equal but for those",
        verdict(merged >= 0.0 && get("python_written")? - written == merged),
    ]);
    row([
        "spans redacted on the way in (every record, whatever wrote it)",
        &format!("{:.0}", get("redacted_spans")?),
        "Python: none",
        "—",
        "—",
        "—",
    ]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_line_parses_into_a_table() {
        let numbers = crate::bench::key_values(
            "dataset bytes=1000000000 lines=900000 malformed_planted=9 exact_dups_planted=45000 number_dups_planted=9000 redaction_dups_planted=4500 generate_s=10 \
             ours_s=2 python_s=40 ours_mb_s=500 python_mb_s=25 ours_rss_kib=60000 python_rss_kib=200000 \
             ours_read=899991 python_read=899991 ours_malformed=9 python_malformed=9 ours_filtered=100000 python_filtered=100000 \
             ours_duplicates=50000 python_duplicates=40000 ours_written=749991 python_written=759991 redacted_spans=30000\n",
            "dataset",
        )
        .unwrap();
        let log: HashMap<String, f64> = [
            ("dataset_log_kept_1kib", 4_000.0),
            ("dataset_log_kept_1kib_clean", 3_000.0),
            ("dataset_call_sampled_out", 240.0),
            ("dataset_call_disabled", 4.0),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let table = table(&log, &numbers).unwrap();
        assert!(table.contains("20.0× faster"), "{table}");
        assert!(table.contains("10000 more merged"), "{table}");
        assert!(!table.contains("**no**"), "{table}");
        let mut slow = numbers.clone();
        slow.insert("ours_s".to_owned(), 8.0);
        assert!(table_of(&log, &slow).contains("**no**"));
    }

    fn table_of(log: &HashMap<String, f64>, numbers: &HashMap<String, f64>) -> String {
        table(log, numbers).unwrap()
    }
}
