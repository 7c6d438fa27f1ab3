//! The interaction logger on real files: redaction before anything is
//! written, sampling fields, rotation under a size limit with gzip,
//! retention, a torn last line, two writer processes, and the wrapper.

// The files compared are the logger's own, named in lowercase.
#![allow(clippy::case_sensitive_file_extension_comparisons)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use telemetry_dataset::config::{Compression, TelemetryConfig};
use telemetry_dataset::{InteractionLog, InteractionLogger, ModuleCall, ModuleOutput};
use telemetry_runtime::guard;

const WAIT: Duration = Duration::from_secs(10);

fn config(dir: &Path) -> TelemetryConfig {
    TelemetryConfig {
        enabled: true,
        sampling_rate_pct: 100.0,
        log_file_path: dir.join("logs").join("dspy_production.jsonl"),
        ..TelemetryConfig::default()
    }
}

fn open(config: &TelemetryConfig) -> InteractionLogger {
    InteractionLogger::open_with_env(config, "MYAPP_", |_| None).unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("an object")
    };
    map
}

/// The names of the files of the log's directory, the lock file left out.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

/// Whether every rotated file of the log's directory is compressed.
fn all_compressed(dir: &Path) -> bool {
    names(dir)
        .iter()
        .all(|name| name == "dspy_production.jsonl" || name.ends_with(".jsonl.gz"))
}

/// Every line of every file of the log's directory, `.gz` decompressed,
/// with the files' names.
fn read_all(dir: &Path) -> (Vec<String>, Vec<String>) {
    let names: Vec<PathBuf> = names(dir).iter().map(|name| dir.join(name)).collect();
    let mut lines = Vec::new();
    for path in &names {
        let bytes = fs::read(path).unwrap();
        let text = if path.extension().is_some_and(|ext| ext == "gz") {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .unwrap();
            text
        } else {
            String::from_utf8(bytes).unwrap()
        };
        lines.extend(text.lines().map(str::to_owned));
    }
    let names = names
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    (names, lines)
}

fn call(id: &str) -> ModuleCall<'_> {
    ModuleCall::new("reviewer", "baseline", "extract_requirements", id)
}

#[test]
fn pii_planted_in_nested_inputs_and_outputs_never_reaches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let logger = open(&config);
    let inputs = object(json!({
        "user_intent": "Implement user authentication for jane.doe@example.com",
        "context": {
            "files": ["/home/jane/project/src/auth.rs", "README"],
            "env": {"GITHUB_TOKEN": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"},
            "jane.doe@example.com": "a key that is an address",
        },
        "attempt": 2,
    }));
    let answer = logger
        .call_module_with_sampling(&call("req-1"), &inputs, |_| {
            Ok::<_, std::io::Error>(ModuleOutput::from(object(json!({
                "requirements": ["Send a reset link to jane.doe@example.com", "Session management"],
                "notes": {"server": "see http://10.1.2.3:8080/admin"},
            }))))
        })
        .unwrap();
    // The caller gets its outputs as they were.
    assert!(
        Value::Object(answer.output)
            .to_string()
            .contains("jane.doe@example.com")
    );
    let failed = logger.call_module_with_sampling(&call("req-2"), &inputs, |_| {
        Err::<ModuleOutput, _>("could not read /home/jane/.ssh/id_rsa")
    });
    assert!(failed.is_err());
    logger.flush(WAIT).unwrap();
    let (_, lines) = read_all(config.log_file_path.parent().unwrap());
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert!(!line.contains("jane"), "{line}");
        assert!(!line.contains("ghp_"), "{line}");
        assert!(!line.contains("10.1.2.3"), "{line}");
        assert!(guard::scan_json(line.as_bytes()).is_ok(), "{line}");
        assert!(
            line.contains("Implement user authentication"),
            "clean words stay: {line}"
        );
    }
    let first: InteractionLog = serde_json::from_str(&lines[0]).unwrap();
    assert!(first.success);
    assert!(first.redactions >= 5, "{}", first.redactions);
    assert_eq!(first.input["attempt"], 2);
    assert_eq!(first.th.as_deref(), Some("0"));
    assert_eq!(first.adjusted_count, Some(1.0));
    let second: InteractionLog = serde_json::from_str(&lines[1]).unwrap();
    assert!(!second.success);
    assert!(second.error.as_deref().unwrap().contains("[path]"));
    assert!(second.output.is_empty());
    assert_eq!(
        logger.counters().redacted_spans,
        u64::from(first.redactions + second.redactions)
    );
}

#[test]
fn the_allow_list_keeps_only_the_keys_a_signature_needs() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.allowed_keys.insert(
        "extract_requirements".to_owned(),
        telemetry_dataset::config::AllowedKeys {
            input: vec!["user_intent".to_owned()],
            output: vec!["requirements".to_owned()],
        },
    );
    let logger = open(&config);
    let inputs = object(json!({"user_intent": "log in", "session_cookie": "abc"}));
    logger
        .call_module_with_sampling(&call("req-1"), &inputs, |_| {
            Ok::<_, std::io::Error>(ModuleOutput::from(object(
                json!({"requirements": ["x"], "debug": "y"}),
            )))
        })
        .unwrap();
    logger.flush(WAIT).unwrap();
    let (_, lines) = read_all(config.log_file_path.parent().unwrap());
    let record: InteractionLog = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        Value::Object(record.input),
        json!({"user_intent": "log in"})
    );
    assert_eq!(Value::Object(record.output), json!({"requirements": ["x"]}));
}

#[test]
fn sampling_keeps_about_its_rate_records_its_threshold_and_keeps_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.sampling_rate_pct = 10.0;
    let logger = open(&config);
    let inputs = object(json!({"q": "x"}));
    for n in 0..5_000 {
        let id = format!("request-{n}");
        let failing = n % 10 == 0;
        let _ = logger.call_module_with_sampling(&call(&id), &inputs, |_| {
            if failing {
                Err("timeout")
            } else {
                Ok(ModuleOutput::default())
            }
        });
    }
    logger.flush(WAIT).unwrap();
    let (_, lines) = read_all(config.log_file_path.parent().unwrap());
    let records: Vec<InteractionLog> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let failures = records.iter().filter(|record| !record.success).count();
    assert_eq!(failures, 500, "every failure is kept");
    let successes: Vec<&InteractionLog> = records.iter().filter(|record| record.success).collect();
    // 4,500 successes at 10%: 450 expected, a 5-sigma band is ±100.
    assert!(
        (350..=550).contains(&successes.len()),
        "{} successes kept",
        successes.len()
    );
    for record in &successes {
        let adjusted = record.adjusted_count.unwrap();
        assert!((adjusted - 10.0).abs() < 1e-9, "{adjusted}");
        assert_ne!(record.th.as_deref(), Some("0"));
    }
    let counters = logger.counters();
    assert_eq!(counters.kept, records.len() as u64);
    assert_eq!(counters.kept + counters.sampled_out, 5_000);
    // The same ids decide the same way in another logger (another process
    // would too: the decision is a function of the id and the salt).
    let dir2 = tempfile::tempdir().unwrap();
    let mut config2 = self::config(dir2.path());
    config2.sampling_rate_pct = 10.0;
    let again = open(&config2);
    for n in 0..5_000 {
        let id = format!("request-{n}");
        let _ = again.call_module_with_sampling(&call(&id), &inputs, |_| {
            if n % 10 == 0 {
                Err("timeout")
            } else {
                Ok(ModuleOutput::default())
            }
        });
    }
    again.flush(WAIT).unwrap();
    assert_eq!(again.counters().kept, counters.kept);
}

#[test]
fn disabled_or_refused_by_the_environment_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.enabled = false;
    let off = open(&config);
    assert!(!off.is_enabled());
    config.enabled = true;
    let refused = InteractionLogger::open_with_env(&config, "MYAPP_", |name| {
        (name == "DO_NOT_TRACK").then(|| "1".to_owned())
    })
    .unwrap();
    assert!(!refused.is_enabled());
    let refused_by_app = InteractionLogger::open_with_env(&config, "MYAPP_", |name| {
        (name == "MYAPP_TELEMETRY_ENABLED").then(|| "false".to_owned())
    })
    .unwrap();
    assert!(!refused_by_app.is_enabled());
    let inputs = object(json!({"q": "x"}));
    for logger in [&off, &refused, &refused_by_app] {
        let answer = logger
            .call_module_with_sampling(&call("r"), &inputs, |_| {
                Ok::<_, std::io::Error>(ModuleOutput::default().tokens(3))
            })
            .unwrap();
        assert_eq!(answer.tokens, Some(3));
    }
    assert!(!dir.path().join("logs").exists());
}

#[test]
fn the_async_wrapper_needs_no_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let logger = open(&config);
    let inputs = object(json!({"q": "x"}));
    let call = call("r");
    let future = logger.call_module_with_sampling_async(&call, &inputs, async {
        Ok::<_, std::io::Error>(
            ModuleOutput::default()
                .cost_usd(0.002)
                .model("claude-haiku-4-5"),
        )
    });
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    let std::task::Poll::Ready(answer) = future.as_mut().poll(&mut context) else {
        panic!("a ready module makes a ready call");
    };
    assert_eq!(answer.unwrap().cost_usd, Some(0.002));
    logger.flush(WAIT).unwrap();
    let (_, lines) = read_all(config.log_file_path.parent().unwrap());
    let record: InteractionLog = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(record.model.as_deref(), Some("claude-haiku-4-5"));
    assert!(record.latency_ms.is_some());
}

/// A record of about 1 KiB.
fn big_record(n: usize) -> InteractionLog {
    let mut record = telemetry_dataset::log::record(
        "reviewer",
        "baseline",
        "extract_requirements",
        object(json!({"n": n, "text": "lorem ipsum dolor sit amet ".repeat(36)})),
        1_764_657_300_000,
    );
    record.latency_ms = Some(250);
    record
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rotation_under_a_size_limit_compresses_in_the_background_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.rotation.max_size_mb = 1;
    let logger = open(&config);
    for n in 0..3_500 {
        assert!(logger.log(&format!("r{n}"), big_record(n)));
        if n % 500 == 0 {
            logger.flush(WAIT).unwrap();
        }
    }
    logger.shutdown(WAIT).unwrap();
    let logs = config.log_file_path.parent().unwrap();
    wait_for("every rotated file compressed", || all_compressed(logs));
    let (names, lines) = read_all(logs);
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(names.last().unwrap(), "dspy_production.jsonl", "{names:?}");
    let seen: Vec<u64> = lines
        .iter()
        .map(|line| {
            serde_json::from_str::<InteractionLog>(line).unwrap().input["n"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        seen,
        (0..3_500).collect::<Vec<_>>(),
        "every record once, in order"
    );
    for name in names.iter().filter(|name| name.ends_with(".gz")) {
        let plain = fs::metadata(logs.join(name)).unwrap().len();
        assert!(plain < 1024 * 1024, "{name} is compressed: {plain} bytes");
    }
}

#[test]
fn without_compression_rotated_files_stay_plain() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.rotation.max_size_mb = 1;
    config.rotation.compression = Compression::None;
    let logger = open(&config);
    for n in 0..1_500 {
        logger.log("r", big_record(n));
    }
    logger.shutdown(WAIT).unwrap();
    let (names, lines) = read_all(config.log_file_path.parent().unwrap());
    assert_eq!(lines.len(), 1_500);
    assert!(names.iter().all(|name| !name.ends_with(".gz")), "{names:?}");
    assert!(names.len() >= 2, "{names:?}");
}

#[test]
fn retention_deletes_old_rotated_files_and_caps_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.rotation.max_size_mb = 1;
    config.rotation.max_total_mb = Some(2);
    let logs = config.log_file_path.parent().unwrap().to_path_buf();
    fs::create_dir_all(&logs).unwrap();
    let old = SystemTime::now() - Duration::from_secs(91 * 86_400);
    let recent = SystemTime::now() - Duration::from_secs(86_400);
    let plant = |name: &str, bytes: usize, modified: SystemTime| {
        let path = logs.join(name);
        fs::write(&path, vec![b'\n'; bytes]).unwrap();
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
    };
    plant("dspy_production.20250101T000000Z.jsonl.gz", 10, old);
    plant(
        "dspy_production.20261101T000000Z.jsonl.gz",
        1_500_000,
        recent,
    );
    plant(
        "dspy_production.20261102T000000Z.jsonl.gz",
        1_000_000,
        recent,
    );
    plant("unrelated.20250101T000000Z.jsonl.gz", 10, old);
    let logger = open(&config);
    logger.shutdown(WAIT).unwrap();
    assert_eq!(
        names(&logs),
        [
            "dspy_production.20261102T000000Z.jsonl.gz",
            "dspy_production.jsonl",
            "unrelated.20250101T000000Z.jsonl.gz",
        ],
        "the expired file and then the oldest over the cap are gone; others' files stay"
    );
}

#[test]
fn a_torn_last_line_costs_only_that_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let logger = open(&config);
    for n in 0..10 {
        logger.log("r", big_record(n));
    }
    logger.shutdown(WAIT).unwrap();
    drop(logger);
    // A crash in the middle of the last write.
    let path = &config.log_file_path;
    let length = fs::metadata(path).unwrap().len();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(length - 300)
        .unwrap();
    let logger = open(&config);
    for n in 10..15 {
        logger.log("r", big_record(n));
    }
    logger.shutdown(WAIT).unwrap();
    let text = fs::read_to_string(path).unwrap();
    let parsed: Vec<Option<u64>> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<InteractionLog>(line)
                .ok()
                .map(|record| record.input["n"].as_u64().unwrap())
        })
        .collect();
    let expected: Vec<Option<u64>> = (0..9)
        .map(Some)
        .chain([None])
        .chain((10..15).map(Some))
        .collect();
    assert_eq!(parsed, expected, "the torn line alone is lost");
}

#[test]
fn a_peer_that_died_mid_line_does_not_take_the_next_record_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let logger = open(&config);
    logger.log("r", big_record(0));
    logger.flush(WAIT).unwrap();
    // Another process sharing the log dies in the middle of its write.
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(&config.log_file_path)
        .unwrap();
    std::io::Write::write_all(&mut file, br#"{"module_name":"reviewer","inp"#).unwrap();
    logger.log("r", big_record(1));
    logger.shutdown(WAIT).unwrap();
    let text = fs::read_to_string(&config.log_file_path).unwrap();
    let parsed: Vec<Option<u64>> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<InteractionLog>(line)
                .ok()
                .map(|record| record.input["n"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(parsed, [Some(0), None, Some(1)]);
}

/// The child of [`two_writer_processes_share_one_log_through_rotation`]:
/// does nothing unless the variable names a log.
#[test]
fn child_writer() {
    let Ok(log) = std::env::var("TELEMETRY_DATASET_CHILD_LOG") else {
        return;
    };
    let writer: u64 = std::env::var("TELEMETRY_DATASET_CHILD_ID")
        .unwrap()
        .parse()
        .unwrap();
    let mut config = config(Path::new("/unused"));
    config.log_file_path = PathBuf::from(log);
    config.rotation.max_size_mb = 1;
    let logger = open(&config);
    for n in 0..5_000 {
        let mut record = big_record(n);
        record.input.insert("writer".to_owned(), json!(writer));
        while !logger.log("r", record.clone()) {
            // The channel is full: this test wants every record, so waits.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    logger.shutdown(Duration::from_secs(60)).unwrap();
}

#[test]
fn two_writer_processes_share_one_log_through_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs").join("dspy_production.jsonl");
    let children: Vec<_> = (0..2)
        .map(|writer| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_writer", "--nocapture"])
                .env("TELEMETRY_DATASET_CHILD_LOG", &log)
                .env("TELEMETRY_DATASET_CHILD_ID", writer.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let logs = log.parent().unwrap();
    // Each child exits without waiting for its compressor; the next logger
    // to open the log compresses what they left plain.
    let mut config = config(dir.path());
    config.log_file_path.clone_from(&log);
    open(&config).shutdown(WAIT).unwrap();
    wait_for("compression of what the children left", || {
        all_compressed(logs)
    });
    let (names, lines) = read_all(logs);
    assert!(names.len() >= 5, "{names:?}");
    let mut seen = BTreeSet::new();
    // A writer that sees a peer's write in progress ends it with a line
    // break of its own: at worst an empty line, which readers skip.
    for line in lines.iter().filter(|line| !line.is_empty()) {
        let record: InteractionLog = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("an interleaved or torn line ({error}): {line:.80}"));
        let key = (
            record.input["writer"].as_u64().unwrap(),
            record.input["n"].as_u64().unwrap(),
        );
        assert!(seen.insert(key), "{key:?} twice");
    }
    assert_eq!(seen.len(), 10_000);
}
