//! `cargo xtask bench`: every benchmark in one run, one table of medians and
//! of ratios between numbers measured in that same run, printed and written
//! into `docs/benchmarks.md` with the machine and the date.
//!
//! - `cargo bench -p telemetry-benches` runs the divan benchmarks in
//!   `benches/micro/benches/` (the filter, the hash, capture, the sampling
//!   decision).
//! - `benches/e2e`, a crate outside the workspace with its own lock file,
//!   sends events end to end to a fake PostHog through our pipeline and
//!   through `posthog-rs`, and captures a million events with the server
//!   down. CI never builds it.
//!
//! `--no-write` prints the table without touching the document.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail, ensure};

const DOC: &str = "docs/benchmarks.md";
const BEGIN: &str = "<!-- bench:begin (written by `cargo xtask bench`) -->";
const END: &str = "<!-- bench:end -->";
const E2E_MANIFEST: &str = "benches/e2e/Cargo.toml";
const E2E_EVENTS: &str = "100000";
const OFFLINE_EVENTS: &str = "1000000";
/// Runs of the micro benchmarks: each row shows the median of the runs'
/// medians and their range, so that one disturbed run shows and flips
/// nothing.
const MICRO_RUNS: usize = 3;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    // `bench tokens`, `bench collector` and `bench traces`: those benchmarks
    // alone; the full run does the token-usage ones first and the
    // collector's (the registry endpoint, then the trace upload) last.
    match args.first().map(String::as_str) {
        Some("tokens") => return crate::bench_tokens::run(&args[1..]),
        Some("collector") => return crate::bench_collector::run(&args[1..]),
        Some("traces") => return crate::bench_traces::run(&args[1..]),
        Some("dataset") => return crate::bench_dataset::run(&args[1..]),
        _ => {}
    }
    crate::bench_tokens::run(args)?;
    let write = match args.first().map(String::as_str) {
        None => true,
        Some("--no-write") => false,
        Some(other) => bail!("`bench` takes only --no-write, got `{other}`"),
    };
    let started = Instant::now();
    let mut runs = Vec::new();
    for run in 1..=MICRO_RUNS {
        runs.push(divan_medians(&captured(
            &format!("micro benchmarks, run {run} of {MICRO_RUNS}"),
            "cargo",
            &[
                "bench",
                "--locked",
                "-p",
                "telemetry-benches",
                "--bench",
                "filter",
                "--bench",
                "capture",
                "--bench",
                "sampling",
            ],
        )?)?);
    }
    let medians = Medians::of(&runs)?;
    let e2e = captured(
        "end to end",
        "cargo",
        &[
            "run",
            "--release",
            "--locked",
            "--manifest-path",
            E2E_MANIFEST,
            "--",
            "all",
            E2E_EVENTS,
            OFFLINE_EVENTS,
        ],
    )?;
    let e2e = E2e::parse(&e2e)?;
    let table = table(&medians, &e2e)?;
    publish("bench", started, &table, write.then_some((BEGIN, END)))?;
    crate::bench_collector::run(args)?;
    crate::bench_traces::run(args)?;
    crate::bench_dataset::run(args)
}

/// Runs a command, echoed like every xtask step, and returns its standard
/// output; standard error passes through.
pub(crate) fn captured(step: &str, program: &str, args: &[&str]) -> anyhow::Result<String> {
    eprintln!("$ {program} {}", args.join(" "));
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("step `{step}`: could not start `{program}`"))?;
    eprintln!("  ({step}: {:.1} s)", started.elapsed().as_secs_f64());
    let stdout = String::from_utf8(output.stdout)?;
    eprint!("{stdout}");
    ensure!(
        output.status.success(),
        "step `{step}` failed ({})",
        output.status
    );
    Ok(stdout)
}

/// The numbers of the `{prefix} key=value…` line a plain benchmark program
/// prints (`tokens_calibrate`, `trace_ingest`).
pub(crate) fn key_values(output: &str, prefix: &str) -> anyhow::Result<HashMap<String, f64>> {
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix(prefix)?.strip_prefix(' '))
        .with_context(|| format!("no `{prefix}` line in the benchmark's output"))?;
    line.split_whitespace()
        .filter_map(|word| word.split_once('='))
        .map(|(key, value)| {
            let number = value
                .parse()
                .with_context(|| format!("`{key}={value}` is not a number"))?;
            Ok((key.to_owned(), number))
        })
        .collect()
}

/// Medians in nanoseconds by benchmark name, from divan's table:
/// `├─ name  fastest │ slowest │ median │ mean │ samples │ iters`.
pub(crate) fn divan_medians(output: &str) -> anyhow::Result<HashMap<String, f64>> {
    let mut medians = HashMap::new();
    for line in output.lines() {
        let columns: Vec<&str> = line.split('│').collect();
        let [first, _, median, ..] = columns[..] else {
            continue;
        };
        let mut words = first
            .trim_start_matches(|c: char| c.is_whitespace() || "├╰─".contains(c))
            .split_whitespace();
        let (Some(name), Some(_), Some(_)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if let Some(nanos) = nanoseconds(median) {
            medians.insert(name.to_owned(), nanos);
        }
    }
    ensure!(!medians.is_empty(), "no divan results in the output");
    Ok(medians)
}

/// Each benchmark's median over several runs of divan, with the range of
/// the runs' medians.
struct Medians {
    runs: HashMap<String, Vec<f64>>,
}

impl Medians {
    fn of(runs: &[HashMap<String, f64>]) -> anyhow::Result<Self> {
        let mut by_name: HashMap<String, Vec<f64>> = HashMap::new();
        for run in runs {
            for (name, median) in run {
                by_name.entry(name.clone()).or_default().push(*median);
            }
        }
        for (name, values) in &mut by_name {
            ensure!(
                values.len() == runs.len(),
                "benchmark `{name}` is missing from some runs"
            );
            values.sort_by(f64::total_cmp);
        }
        Ok(Self { runs: by_name })
    }

    fn values(&self, name: &str) -> anyhow::Result<&[f64]> {
        self.runs
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("no median for benchmark `{name}`"))
    }

    /// The median of the runs' medians.
    fn get(&self, name: &str) -> anyhow::Result<f64> {
        let values = self.values(name)?;
        Ok(values[values.len() / 2])
    }

    /// `1.02 µs (runs 0.98–1.10 µs)`.
    fn shown(&self, name: &str) -> anyhow::Result<String> {
        let values = self.values(name)?;
        Ok(format!(
            "{} (runs {}–{})",
            duration(self.get(name)?),
            duration(values[0]),
            duration(values[values.len() - 1])
        ))
    }
}

/// `1.2 µs` in nanoseconds.
fn nanoseconds(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    let scale = match words.next()? {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some(value * scale)
}

/// The end-to-end numbers: `e2e CLIENT key=value…` and `offline key=value…`.
struct E2e {
    lines: HashMap<String, HashMap<String, f64>>,
}

impl E2e {
    fn parse(output: &str) -> anyhow::Result<Self> {
        let mut lines = HashMap::new();
        for line in output.lines() {
            let mut words = line.split_whitespace();
            let key = match words.next() {
                Some("e2e") => words.next().context("e2e line without a client")?,
                Some(name @ ("offline" | "offline_paced")) => name,
                _ => continue,
            };
            let values = words
                .filter_map(|word| word.split_once('='))
                .map(|(name, value)| Ok((name.to_owned(), value.parse()?)))
                .collect::<anyhow::Result<_>>()?;
            lines.insert(key.to_owned(), values);
        }
        Ok(Self { lines })
    }

    fn get(&self, line: &str, key: &str) -> anyhow::Result<f64> {
        self.lines
            .get(line)
            .and_then(|values| values.get(key))
            .copied()
            .with_context(|| format!("no `{key}` in the `{line}` result"))
    }
}

/// `1.23 µs`, `456 ns`, `0.44 ns`.
pub(crate) fn duration(nanos: f64) -> String {
    if nanos >= 1e3 {
        format!("{:.2} µs", nanos / 1e3)
    } else if nanos >= 10.0 {
        format!("{nanos:.0} ns")
    } else {
        format!("{nanos:.2} ns")
    }
}

pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

#[allow(
    clippy::too_many_lines,
    reason = "one row per target, in the issue's order"
)]
fn table(medians: &Medians, e2e: &E2e) -> anyhow::Result<String> {
    let median = |name: &str| medians.get(name);
    let shown = |name: &str| medians.shown(name);
    let filtered = median("serialize_filtered")?;
    let serde = median("serialize_serde_derive")?;
    let naive = median("serialize_naive_value")?;
    let hash_field = median("hash_field")?;
    let hash_digest = median("hash_digest")?;
    let sha256 = median("hash_plain_sha256")?;
    let enabled = median("capture_enabled")?;
    let disabled = median("capture_disabled")?;

    let mut out = String::from(
        "| what | measured | compared with | result | target | met |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut row = |cells: [&str; 6]| {
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    };
    let ratio = filtered / serde;
    row([
        "filtered serialization of a 12-field event, no hashed fields, into a reused `Vec<u8>`",
        &shown("serialize_filtered")?,
        &format!(
            "`serde_json::to_writer` of the raw struct (`#[derive(Serialize)]`): {}",
            shown("serialize_serde_derive")?
        ),
        &format!("ratio {ratio:.2}"),
        "≤ 1.15",
        verdict(ratio <= 1.15),
    ]);
    let speedup = naive / filtered;
    row([
        "the same event",
        &shown("serialize_filtered")?,
        &format!(
            "`serde_json::to_value`, walk and filter the `Value`, write: {}",
            shown("serialize_naive_value")?
        ),
        &format!("{speedup:.1}× faster"),
        "≥ 3×",
        verdict(speedup >= 3.0),
    ]);
    let ratio = hash_field / sha256;
    row([
        "one `hash` field of a 64-byte path (HMAC-SHA256, hex, JSON)",
        &shown("hash_field")?,
        &format!(
            "one plain SHA-256 of the same bytes: {}",
            shown("hash_plain_sha256")?
        ),
        &format!("ratio {ratio:.2}"),
        "≤ 2.5",
        verdict(ratio <= 2.5),
    ]);
    let ratio = hash_digest / sha256;
    row([
        "the keyed digest alone (`Anonymizer::hash`)",
        &shown("hash_digest")?,
        &format!("one plain SHA-256: {}", shown("hash_plain_sha256")?),
        &format!("ratio {ratio:.2}"),
        "—",
        "—",
    ]);
    row([
        "`capture` of that event, enabled, local queue",
        &shown("capture_enabled")?,
        "—",
        &format!("median {}", duration(enabled)),
        "≤ 1 µs",
        verdict(enabled <= 1_000.0),
    ]);
    row([
        "`capture`, disabled",
        &shown("capture_disabled")?,
        "no allocation: `crates/telemetry-runtime/tests/disabled_alloc.rs` (dhat, 10,000 captures)",
        &format!("median {}", duration(disabled)),
        "≤ 5 ns",
        verdict(disabled <= 5.0),
    ]);
    let uuid = median("sampling_decide_uuid")?;
    row([
        "one sampling decision (`Sampler::decide`) for a UUID v7: its last 56 bits",
        &shown("sampling_decide_uuid")?,
        "no allocation: `crates/telemetry-core/tests/sampling_alloc.rs` (dhat)",
        &format!("median {}", duration(uuid)),
        "≤ 100 ns",
        verdict(uuid <= 100.0),
    ]);
    let hashed = median("sampling_decide_hashed")?;
    row([
        "one sampling decision for a short id, `req-8f3a2c`: keyed SHA-256 under the salt",
        &shown("sampling_decide_hashed")?,
        &format!(
            "one plain SHA-256 of the id: {}",
            shown("sampling_plain_sha256")?
        ),
        &format!("median {}", duration(hashed)),
        "≤ 100 ns",
        verdict(hashed <= 100.0),
    ]);
    let events = e2e.get("ours", "events")?;
    let runs = e2e.get("ours", "runs")?;
    let client = |name: &str| -> anyhow::Result<Client> {
        Ok(Client {
            rate: e2e.get(name, "events_per_s")?,
            cpu: e2e.get(name, "cpu_s")?,
            best_rate: e2e.get(name, "best_events_per_s")?,
            best_cpu: e2e.get(name, "best_cpu_s")?,
        })
    };
    let ours = client("ours")?;
    // posthog-rs in its faster batch mode of the two, by median events per
    // second.
    let mut theirs = [
        (client("posthog-rs")?, "`capture_batch`"),
        (client("posthog-rs-immediate")?, "`capture_batch_immediate`"),
    ];
    theirs.sort_by(|a, b| b.0.rate.total_cmp(&a.0.rate));
    let [(theirs, mode), (other, other_mode)] = theirs;
    let rate_ratio = ours.rate / theirs.rate;
    row([
        &format!(
            "{events:.0} events end to end to a loopback fake PostHog, gzip on: events per second, median of {runs:.0} runs (best)"
        ),
        &format!("{:.0}/s ({:.0}/s)", ours.rate, ours.best_rate),
        &format!(
            "posthog-rs {mode}, gzip on: {:.0}/s ({:.0}/s); {other_mode}: {:.0}/s",
            theirs.rate, theirs.best_rate, other.rate
        ),
        &format!(
            "{rate_ratio:.2}× (best {:.2}×)",
            ours.best_rate / theirs.best_rate
        ),
        "≥ 2×",
        verdict(rate_ratio >= 2.0),
    ]);
    let cpu_ratio = ours.cpu / theirs.cpu;
    row([
        "the same: client CPU seconds, median run (best run); the server runs in another process",
        &format!("{:.2} s ({:.2} s)", ours.cpu, ours.best_cpu),
        &format!(
            "posthog-rs {mode}: {:.2} s ({:.2} s); {other_mode}: {:.2} s",
            theirs.cpu, theirs.best_cpu, other.cpu
        ),
        &format!("ratio {cpu_ratio:.2}"),
        "≤ 0.5",
        verdict(cpu_ratio <= 0.5),
    ]);
    let writer_ns = e2e.get("ours", "writer_cpu_s")? / events * 1e9;
    row([
        "the same: our writer thread's CPU per event, median run",
        &duration(writer_ns),
        "—",
        &duration(writer_ns),
        "≤ 300 ns",
        verdict(writer_ns <= 300.0),
    ]);
    for line in ["offline", "offline_paced"] {
        offline_rows(e2e, line, &mut row)?;
    }
    Ok(out)
}

/// One client's end-to-end numbers: the median run and the best.
#[derive(Clone, Copy)]
struct Client {
    rate: f64,
    cpu: f64,
    best_rate: f64,
    best_cpu: f64,
}

/// Peak RSS, and where every capture went, for one offline run.
fn offline_rows(e2e: &E2e, line: &str, row: &mut impl FnMut([&str; 6])) -> anyhow::Result<()> {
    let get = |key| e2e.get(line, key);
    let events = get("events")?;
    let pace = match get("per_second")? {
        0.0 => "as fast as one thread captures".to_owned(),
        rate => format!("{rate:.0} a second"),
    };
    let rss_mib = get("peak_rss_kib")? / 1024.0;
    row([
        &format!("{events:.0} captures while the server is down, {pace}: peak RSS"),
        &format!("{rss_mib:.1} MiB"),
        "—",
        &format!("{rss_mib:.1} MiB"),
        "≤ 64 MiB",
        verdict(rss_mib <= 64.0),
    ]);
    let written = get("written")?;
    let writer_ns = get("writer_cpu_s")? / written.max(1.0) * 1e9;
    row([
        "the same: the writer thread's CPU per event written",
        &duration(writer_ns),
        "—",
        &duration(writer_ns),
        "≤ 300 ns",
        verdict(writer_ns <= 300.0),
    ]);
    let captured = get("captured")?;
    let queued = get("queued")?;
    let by_bounds = get("dropped_by_bounds")?;
    let channel_full = get("dropped_channel_full")?;
    let (bytes, max_bytes) = (get("queue_bytes")?, get("max_bytes")?);
    #[allow(clippy::float_cmp, reason = "whole event counts")]
    let accounted = queued + by_bounds == captured;
    let within = bytes <= max_bytes;
    #[allow(clippy::float_cmp, reason = "whole event counts")]
    let all_captured = channel_full == 0.0 && captured == events;
    row([
        "the same: every event on disk, or dropped by the bounds and counted",
        &format!(
            "{captured:.0} handed to the writer, {channel_full:.0} dropped at the full channel (counted)"
        ),
        &format!(
            "{queued:.0} queued + {by_bounds:.0} dropped by the bounds (counted); {:.1} MiB of {:.0} MiB",
            bytes / 1_048_576.0,
            max_bytes / 1_048_576.0
        ),
        match (accounted && within, all_captured) {
            (true, true) => "all on disk or counted, within the bounds",
            (true, false) => "within the bounds; the writer fell behind",
            (false, _) => "events unaccounted for, or over the bound",
        },
        "all, within the bounds",
        verdict(accounted && within && all_captured),
    ]);
    Ok(())
}

/// The CPU model from `/proc/cpuinfo`, or the architecture without one.
fn cpu_model() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or_else(
            || std::env::consts::ARCH.to_owned(),
            |(_, model)| model.trim().to_owned(),
        )
}

fn today() -> anyhow::Result<String> {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output()?;
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// Prints `table` under a line saying on what, by `cargo xtask {task}`,
/// and how long it took since `started`; with `markers`, also writes it
/// between those lines of `docs/benchmarks.md`.
pub(crate) fn publish(
    task: &str,
    started: Instant,
    table: &str,
    markers: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let section = format!(
        "Measured on {} ({} cores available) on {}, by `cargo xtask {task}` in {:.0} s.\n\n{table}",
        cpu_model(),
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        today()?,
        started.elapsed().as_secs_f64(),
    );
    println!("\n{section}");
    if let Some((begin, end)) = markers {
        write_between(begin, end, &section)?;
        eprintln!("xtask {task}: wrote {DOC}");
    }
    Ok(())
}

/// Replaces what stands between the `begin` and `end` lines of
/// `docs/benchmarks.md` with `section`, keeping the rest.
fn write_between(begin: &str, end: &str, section: &str) -> anyhow::Result<()> {
    let document = std::fs::read_to_string(DOC).with_context(|| format!("read {DOC}"))?;
    let (before, rest) = document
        .split_once(begin)
        .with_context(|| format!("{DOC} has no `{begin}` line"))?;
    let (_, after) = rest
        .split_once(end)
        .with_context(|| format!("{DOC} has no `{end}` line"))?;
    std::fs::write(DOC, format!("{before}{begin}\n{section}{end}{after}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divan_tables_parse_into_medians() {
        let output = "\
Timer precision: 20 ns
filter                     fastest       │ slowest       │ median        │ mean          │ samples │ iters
├─ hash_digest             126.1 ns      │ 133 ns        │ 128.6 ns      │ 128.8 ns      │ 100     │ 1600
╰─ serialize_naive_value   820.7 ns      │ 8.412 µs      │ 1.5 µs        │ 960.2 ns      │ 100     │ 100
";
        let medians = divan_medians(output).unwrap();
        assert_eq!(medians.len(), 2);
        assert!((medians["hash_digest"] - 128.6).abs() < 1e-9);
        assert!((medians["serialize_naive_value"] - 1500.0).abs() < 1e-9);
    }

    #[test]
    fn runs_give_the_middle_median_and_their_range() {
        let run = |nanos: f64| HashMap::from([("capture_enabled".to_owned(), nanos)]);
        let medians = Medians::of(&[run(1_100.0), run(900.0), run(2_500.0)]).unwrap();
        assert!((medians.get("capture_enabled").unwrap() - 1_100.0).abs() < 1e-9);
        assert_eq!(
            medians.shown("capture_enabled").unwrap(),
            "1.10 µs (runs 900 ns–2.50 µs)"
        );
        let missing = Medians::of(&[run(1.0), HashMap::new()]);
        assert!(missing.is_err());
    }

    #[test]
    fn durations_read_every_unit() {
        assert_eq!(nanoseconds("0.5 ps"), Some(0.0005));
        assert_eq!(nanoseconds(" 2 ms "), Some(2e6));
        assert_eq!(nanoseconds("garbage"), None);
        assert_eq!(duration(1234.0), "1.23 µs");
        assert_eq!(duration(0.44), "0.44 ns");
    }
}
