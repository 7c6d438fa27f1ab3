//! Project automation, run as `cargo xtask <task>`: `ci`, `snapshots`,
//! `audit`, `manifest`, `bench`.
//!
//! Deliberately small: it shells out to cargo, echoing each command and how
//! long it took, and depends on little (`anyhow`). The privacy review's
//! checks are tests (`tests/review.rs`) on `telemetry_audit`, so that
//! they build with the same features as every other test.

mod audit;
mod bench;
mod bench_collector;
mod bench_dataset;
mod bench_tokens;
mod bench_traces;
mod ci;
mod cmd;
mod manifest;
mod review;
mod snapshots;

use std::env;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                    what CI runs: fmt check, clippy with -D warnings, the tests,
                        then snapshot coverage, the audit and `manifest --check`
  snapshots [--review]  every snapshot test (INSTA_UPDATE=no), and a snapshot for every
                        registered type; --review accepts pending snapshots
  audit                 every snapshot and example payload through the PII audit
                        (reviewed findings: audit-allow.toml)
  manifest [--check]    write docs/telemetry-manifest.md from the schemas; --check
                        fails when the committed file is stale
  bench [--no-write]    every benchmark (divan, the end-to-end comparison with
                        posthog-rs in benches/e2e, then the token-usage, the
                        collector, the trace and the dataset benchmarks below); prints their tables of medians
                        and ratios and writes them into docs/benchmarks.md
  bench tokens [--no-write]
                        the token-usage benchmarks alone (recording cost; calibrate on
                        1,000,000 rows beside reading them and beside Python)
  bench collector [--no-write] [--reference-only]
                        the collector's registry endpoint under wrk on SQLite (and
                        PostgreSQL with TELEMETRY_BENCH_DATABASE_URL or
                        TELEMETRY_TEST_DATABASE_URL) beside FastAPI on uvicorn;
                        --reference-only runs FastAPI's rows alone, without writing
  bench traces [--no-write]
                        the collector's trace upload on SQLite from 4 and 16 uploaders
                        (chunk latency, events/s with the hash and chain checks,
                        `complete`), and inclusion proofs at 2^20 leaves
  bench dataset [--no-write] [--mib N]
                        logging an interaction on the caller's thread, and `telemetry
                        dataset build` of a generated N MiB log (default 1024) beside
                        the reference design's Python aggregator: time, peak RSS, counts";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = project_root().and_then(|root| {
        env::set_current_dir(&root)?;
        match args.first().map(String::as_str) {
            Some("ci") => ci::run(&args[1..]),
            Some("snapshots") => snapshots::run(&args[1..]),
            Some("audit") => audit::run(&args[1..]),
            Some("manifest") => manifest::run(&args[1..]),
            Some("bench") => bench::run(&args[1..]),
            Some("-h" | "--help" | "help") => {
                println!("{USAGE}");
                Ok(())
            }
            Some(other) => {
                eprintln!("unknown task `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
            None => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn project_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("xtask's manifest directory has no parent"))
}
