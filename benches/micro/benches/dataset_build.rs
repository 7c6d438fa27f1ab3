//! `telemetry dataset build` on a generated log beside the DSPy telemetry
//! design's aggregator written in Python the way the design writes it
//! (`dataset_build.py`), on the same file in the same run, each in a
//! process of its own so that its peak RSS is its own. Prints one line for
//! `cargo xtask bench dataset`:
//!
//! `dataset bytes=… lines=… ours_s=… python_s=… ours_rss_kib=… python_rss_kib=… …`
//!
//! The `telemetry` binary is the one `TELEMETRY_BIN` names (the xtask
//! builds it in release first), else `target/release/telemetry`.
//! `cargo bench -p telemetry-benches --bench dataset_build [-- MIB]` runs it
//! alone (default 1024 MiB).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use telemetry_dataset::simulate::Simulation;

/// Runs the command after `--`, prints its wall time and its peak RSS
/// (`ru_maxrss` of the child, KiB on Linux) as JSON on stderr's last line,
/// and passes its stdout through.
const MEASURE: &str = r#"
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE)
seconds = time.perf_counter() - started
sys.stdout.buffer.write(done.stdout)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "max_rss_kib": usage.ru_maxrss, "status": done.returncode}), file=sys.stderr)
"#;

struct Run {
    seconds: f64,
    max_rss_kib: f64,
    stdout: Value,
}

fn measured(program: &Path, args: &[&Path]) -> Run {
    let output = Command::new("python3")
        .arg("-c")
        .arg(MEASURE)
        .arg(program)
        .args(args)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let usage: Value = serde_json::from_str(last)
        .unwrap_or_else(|error| panic!("{error}: the measuring script said:\n{stderr}"));
    assert_eq!(
        usage["status"],
        0,
        "{} failed:\n{stderr}",
        program.display()
    );
    let stdout: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{error}: {} printed:\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    });
    Run {
        seconds: usage["seconds"].as_f64().unwrap(),
        max_rss_kib: usage["max_rss_kib"].as_f64().unwrap(),
        stdout,
    }
}

fn telemetry_bin() -> PathBuf {
    std::env::var_os("TELEMETRY_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/telemetry"),
        PathBuf::from,
    )
}

/// A count from our report's `counts` object; `filtered` is the sum of its
/// reasons.
fn ours(report: &Value, key: &str) -> f64 {
    let counts = &report["counts"];
    if key == "filtered" {
        return ["failed", "latency", "cost", "quality"]
            .iter()
            .map(|reason| counts["filtered"][reason].as_f64().unwrap_or(0.0))
            .sum();
    }
    counts[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no counts.{key} in the build's --json report: {report}"))
}

fn main() {
    let mib: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1024);
    let binary = telemetry_bin();
    assert!(
        binary.is_file(),
        "{} is missing: `cargo build --release -p telemetry-cli` first, or set TELEMETRY_BIN",
        binary.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dspy_production.jsonl");

    let started = Instant::now();
    let simulation = Simulation {
        bytes: mib * 1024 * 1024,
        ..Simulation::default()
    };
    let written = simulation
        .write(&mut BufWriter::new(File::create(&log).unwrap()))
        .unwrap();
    let generate_s = started.elapsed().as_secs_f64();

    let python_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/dataset_build.py");
    let python_out = dir.path().join("python");
    let python = measured(Path::new("python3"), &[&python_script, &log, &python_out]);

    let ours_out = dir.path().join("ours");
    let run = Command::new(&binary)
        .args(["dataset", "build", "--json", "--log-file"])
        .arg(&log)
        .arg("--output-dir")
        .arg(&ours_out)
        .stdout(std::process::Stdio::null())
        .status();
    drop(run);
    std::fs::remove_dir_all(&ours_out).ok();
    // The measured run, on a warm page cache like Python's.
    let ours_run = measured(
        &binary,
        &[
            Path::new("dataset"),
            Path::new("build"),
            Path::new("--json"),
            Path::new("--log-file"),
            &log,
            Path::new("--output-dir"),
            &ours_out,
        ],
    );
    let report = &ours_run.stdout;
    let p = &python.stdout;
    let count = |key: &str| p[key].as_f64().unwrap();
    #[allow(clippy::cast_precision_loss)]
    let bytes = written.bytes as f64;
    let mb = bytes / 1e6;
    println!(
        "dataset bytes={} lines={} malformed_planted={} exact_dups_planted={} number_dups_planted={} redaction_dups_planted={} generate_s={generate_s:.2} \
         ours_s={:.3} python_s={:.3} ours_mb_s={:.1} python_mb_s={:.1} ours_rss_kib={} python_rss_kib={} \
         ours_read={} python_read={} ours_malformed={} python_malformed={} ours_filtered={} python_filtered={} \
         ours_duplicates={} python_duplicates={} ours_written={} python_written={} redacted_spans={}",
        written.bytes,
        written.lines,
        written.malformed,
        written.exact_duplicates,
        written.number_duplicates,
        written.redaction_duplicates,
        ours_run.seconds,
        python.seconds,
        mb / ours_run.seconds,
        mb / python.seconds,
        ours_run.max_rss_kib,
        python.max_rss_kib,
        ours(report, "read"),
        count("read"),
        ours(report, "malformed"),
        count("malformed"),
        ours(report, "filtered"),
        count("failed") + count("latency") + count("cost") + count("quality"),
        ours(report, "duplicates"),
        count("duplicates"),
        ours(report, "written"),
        count("written"),
        ours(report, "redacted_spans"),
    );
}
