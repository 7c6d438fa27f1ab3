//! `build` on real files: plain, gzip (several members, truncated), torn
//! lines, malformed lines, PII planted in every place a record can hold
//! it, deduplication within a run and across versions, and the manifest.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use telemetry_dataset::read::ReadOptions;
use telemetry_dataset::{BuildOptions, BuildReport, ExampleId, Manifest, build, expand};
use telemetry_runtime::guard;

/// A record line for `signature` with `input`, successful, fast and cheap.
fn record(signature: &str, input: &Value) -> Value {
    json!({
        "module_name": "reviewer",
        "module_version": "baseline",
        "signature": signature,
        "input": input,
        "output": {"requirements": ["JWT token generation"]},
        "timestamp_ms": 1_699_564_800_000_u64,
        "latency_ms": 250,
        "tokens": 120,
        "cost_usd": 0.0018,
        "model": "claude-haiku-4-5",
        "success": true,
        "error": null
    })
}

fn lines(records: &[Value]) -> String {
    records.iter().fold(String::new(), |mut text, record| {
        text.push_str(&record.to_string());
        text.push('\n');
        text
    })
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

/// Small batches and two workers, so that batch boundaries and ordering
/// are exercised on small files.
fn options(files: Vec<PathBuf>, out: &Path) -> BuildOptions {
    let mut options = BuildOptions::new(files, out);
    options.read = ReadOptions {
        workers: 2,
        batch_bytes: 256,
        batches_in_flight: 4,
        max_line_bytes: 4096,
    };
    options
}

fn run(files: Vec<PathBuf>, out: &Path) -> BuildReport {
    build(&options(files, out), &|_| {}).unwrap()
}

fn read_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn ids(version: &Path) -> Vec<String> {
    read_lines(&version.join("examples.jsonl"))
        .iter()
        .map(|example| example["example_id"].as_str().unwrap().to_owned())
        .collect()
}

fn manifest(version: &Path) -> Manifest {
    serde_json::from_slice(&fs::read(version.join("manifest.json")).unwrap()).unwrap()
}

fn input(n: u64) -> Value {
    json!({"user_intent": format!("task {n}"), "context": "REST API project"})
}

#[test]
fn a_directory_of_rotated_gzip_and_live_plain_files_reads_in_order_with_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    // Rotated, gzip, two members (as concatenated rotations are).
    let first = lines(&[record("sig", &input(1)), record("sig", &input(2))]);
    let second = lines(&[record("sig", &input(3))]);
    let mut two_members = gzip(&first);
    two_members.extend(gzip(&second));
    fs::write(logs.join("app.20250101T000000Z.jsonl.gz"), two_members).unwrap();
    // Gzip without the .gz name: recognised by its magic bytes.
    fs::write(
        logs.join("app.20250102T000000Z.jsonl"),
        gzip(&lines(&[record("sig", &input(4))])),
    )
    .unwrap();
    // The live file: a malformed line, a blank line, a torn last line.
    let live = format!(
        "{}{{\"module_name\": 5}}\n\n{}",
        lines(&[record("sig", &input(5))]),
        &record("sig", &input(6)).to_string()[..40]
    );
    fs::write(logs.join("app.jsonl"), live).unwrap();
    fs::write(logs.join("notes.txt"), "not a log").unwrap();

    let files = expand(&[logs.to_str().unwrap()]).unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "app.20250101T000000Z.jsonl.gz",
            "app.20250102T000000Z.jsonl",
            "app.jsonl"
        ]
    );
    let out = dir.path().join("out");
    let report = run(files, &out);
    assert_eq!(report.counts.records.read, 5);
    assert_eq!(report.counts.records.written, 5);
    assert_eq!(report.counts.malformed, 2);
    let live = logs.join("app.jsonl").display().to_string();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            format!("{live}:2: field `module_name`: expected a string, found an unsigned integer"),
            format!(
                "{live}:4: torn last line (no newline at the end of the file): not valid JSON: EOF while parsing a value at column 40"
            ),
        ]
    );
    // Examples are in input order: files by name, lines in order.
    let examples = read_lines(&out.join("sig/v1/examples.jsonl"));
    let intents: Vec<&str> = examples
        .iter()
        .map(|e| e["input"]["user_intent"].as_str().unwrap())
        .collect();
    assert_eq!(intents, ["task 1", "task 2", "task 3", "task 4", "task 5"]);
    let provenance = read_lines(&out.join("sig/v1/provenance.jsonl"));
    assert_eq!(provenance[2]["metadata"]["line"], 3);
    assert_eq!(provenance[4]["metadata"]["file"], live.as_str());
    assert_eq!(provenance[4]["metadata"]["line"], 1);
    assert_eq!(provenance[0]["source"], "telemetry");
    assert_eq!(
        provenance[0]["metadata"]["original_timestamp_ms"],
        1_699_564_800_000_u64
    );
    assert_eq!(provenance[0]["metadata"]["model"], "claude-haiku-4-5");
    assert_eq!(provenance[0]["example_id"], examples[0]["example_id"]);
}

#[test]
fn a_truncated_gzip_member_is_reported_and_what_was_read_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Value> = (0..200).map(|n| record("sig", &input(n))).collect();
    let whole = gzip(&lines(&records));
    let path = dir.path().join("cut.jsonl.gz");
    fs::write(&path, &whole[..whole.len() * 2 / 3]).unwrap();
    let report = run(vec![path.clone()], &dir.path().join("out"));
    assert_eq!(report.counts.damaged_inputs, 1);
    let truncated = report
        .problems
        .iter()
        .find(|p| p.reason.starts_with("truncated gzip"))
        .unwrap();
    let kept: u64 = truncated
        .reason
        .strip_prefix("truncated gzip after line ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(kept > 50 && kept < 200, "{truncated}");
    assert_eq!(
        truncated.to_string(),
        format!("{}: truncated gzip after line {kept}", path.display())
    );
    assert_eq!(report.counts.records.written, kept);
    // The manifest still hashes every byte of the file.
    let manifest = manifest(&dir.path().join("out/sig/v1"));
    assert_eq!(manifest.inputs[0].bytes, (whole.len() * 2 / 3) as u64);
    assert_eq!(
        manifest.inputs[0].sha256,
        hex::encode(Sha256::digest(&whole[..whole.len() * 2 / 3]))
    );
}

#[test]
fn pii_in_keys_values_errors_and_labels_reaches_no_dataset_file() {
    let dir = tempfile::tempdir().unwrap();
    let planted = [
        "ana@example.com",
        "/home/ana/notes.md",
        "sk-proj-4f9Xk2LqZ8rT5vW1",
        "192.168.1.20",
        "4111 1111 1111 1111",
    ];
    let mut records = Vec::new();
    for (n, pii) in planted.iter().enumerate() {
        let mut r = record(
            "sig",
            &json!({
                "message": format!("please write to {pii} today"),
                pii.to_string(): "a key",
                "nested": {"deep": [{"list": ["ok", format!("see {pii}")]}], "n": n},
            }),
        );
        r["output"] = json!({"answer": format!("sent to {pii}"), "by": {pii.to_string(): [pii]}});
        r["module_name"] = json!(format!("mod {pii}"));
        r["model"] = json!(format!("model {pii}"));
        records.push(r);
        let mut failed = record("sig", &json!({"x": n}));
        failed["success"] = json!(false);
        failed["error"] = json!(format!("failed for {pii}"));
        records.push(failed);
    }
    let log = dir.path().join("pii.jsonl");
    fs::write(&log, lines(&records)).unwrap();
    let out = dir.path().join("out");
    let report = run(vec![log.clone()], &out);
    assert_eq!(report.counts.records.written, 5);
    assert_eq!(report.counts.records.filtered.failed, 5);
    // message, key, deep list, output answer, output key, output list,
    // module, model and error, per planted value.
    assert_eq!(report.counts.records.redacted_spans, 5 * 9);

    let version = out.join("sig/v1");
    let mut scanned = 0;
    for entry in fs::read_dir(&version).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read_to_string(&path).unwrap();
        for pii in planted {
            assert!(!text.contains(pii), "{} holds {pii}", path.display());
        }
        let documents: Vec<Value> = if path.extension().unwrap() == "json" {
            vec![serde_json::from_str(&text).unwrap()]
        } else {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        for mut document in documents {
            // What the builder itself writes and the detectors would flag:
            // digests (64 hex digits) and the input's path, as given.
            let object = document.as_object_mut().unwrap();
            if let Some(id) = object.remove("example_id") {
                assert!(id.as_str().unwrap().parse::<ExampleId>().is_ok());
            }
            if let Some(metadata) = object.get_mut("metadata") {
                assert_eq!(metadata["file"], log.display().to_string());
                metadata.as_object_mut().unwrap().remove("file");
            }
            for key in ["inputs", "files", "content_sha256"] {
                object.remove(key);
            }
            assert_eq!(guard::scan_value(&document), [], "{}", path.display());
            scanned += 1;
        }
    }
    assert_eq!(scanned, 11);
}

#[test]
fn inputs_that_differ_only_in_member_order_or_number_spelling_are_one_example() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let records = [
        record("sig", &json!({"a": 1, "b": 2})),
        record("sig", &json!({"b": 2, "a": 1})),
        record("sig", &json!({"a": 1.0, "b": 2})),
        record("other", &json!({"a": 1, "b": 2})),
        record("sig", &json!({"a": "1", "b": 2})),
    ];
    // serde_json writes 1.0 as `1.0`; check the line says so.
    assert!(lines(&records).contains(r#"{"a":1.0,"b":2}"#));
    fs::write(&log, lines(&records)).unwrap();
    let out = dir.path().join("out");
    let report = run(vec![log], &out);
    assert_eq!(report.counts.records.duplicates, 2);
    assert_eq!(ids(&out.join("sig/v1")).len(), 2);
    // Per signature: the same input under another signature is kept.
    assert_eq!(ids(&out.join("other/v1")), ids(&out.join("sig/v1"))[..1]);
    let examples = read_lines(&out.join("sig/v1/examples.jsonl"));
    assert_eq!(examples[0]["input"], json!({"a": 1, "b": 2}));
    assert_eq!(
        examples[0]["example_id"],
        ExampleId::of_json(r#"{"b":2,"a":1}"#).unwrap().to_string()
    );
    assert_eq!(
        examples[0]["example_id"],
        hex::encode(Sha256::digest(r#"{"a":1,"b":2}"#))
    );
    let keys: Vec<&String> = examples[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5);
    assert_eq!(examples[0]["module_name"], "reviewer");
    assert_eq!(examples[0]["module_version"], "baseline");
    assert_eq!(
        examples[0]["output"],
        json!({"requirements": ["JWT token generation"]})
    );
}

#[test]
fn each_version_holds_only_what_earlier_versions_lack_and_nothing_new_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = dir.path().join("first.jsonl");
    fs::write(
        &first,
        lines(
            &(0..10)
                .map(|n| record("sig", &input(n)))
                .collect::<Vec<_>>(),
        ),
    )
    .unwrap();
    let report = run(vec![first.clone()], &out);
    assert_eq!(report.versions.len(), 1);
    assert_eq!(report.versions[0].version, 1);

    // 5..15: 5 already in v1.
    let second = dir.path().join("second.jsonl");
    fs::write(
        &second,
        lines(
            &(5..15)
                .map(|n| record("sig", &input(n)))
                .collect::<Vec<_>>(),
        ),
    )
    .unwrap();
    let report = run(vec![second.clone()], &out);
    assert_eq!(report.counts.records.duplicates_of_earlier_versions, 5);
    assert_eq!(report.counts.records.written, 5);
    assert_eq!(report.groups[0].dedup_rate, 0.5);
    let v2 = out.join("sig/v2");
    let manifest = manifest(&v2);
    assert_eq!((manifest.version, manifest.parent_version), (2, Some(1)));
    assert_eq!(manifest.counts.records.duplicates_of_earlier_versions, 5);
    let v1_ids = ids(&out.join("sig/v1"));
    assert!(ids(&v2).iter().all(|id| !v1_ids.contains(id)));

    // Both logs again: nothing new, no v3, and the report says so.
    let report = run(vec![first, second], &out);
    assert!(report.versions.is_empty());
    assert_eq!(report.unchanged, ["sig"]);
    // Every record is in v1 or v2, the five read twice included.
    assert_eq!(report.counts.records.duplicates_of_earlier_versions, 20);
    assert_eq!(report.counts.records.duplicates, 0);
    let mut entries: Vec<String> = fs::read_dir(out.join("sig"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, [".lock", "v1", "v2"]);
}

#[test]
fn the_manifest_describes_the_version_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut records: Vec<Value> = (0..4).map(|n| record("sig", &input(n))).collect();
    records[1]["success"] = json!(false);
    records[2]["latency_ms"] = json!(9000);
    records[3]["quality_score"] = json!(0.5);
    records.push(record("sig", &input(4)));
    records[4]["cost_usd"] = json!(0.5);
    let mut no_latency = record("sig", &input(5));
    no_latency.as_object_mut().unwrap().remove("latency_ms");
    no_latency.as_object_mut().unwrap().remove("cost_usd");
    records.push(no_latency);
    let text = lines(&records);
    fs::write(&log, &text).unwrap();
    let out = dir.path().join("out");
    let report = run(vec![log.clone()], &out);
    let version = out.join("sig/v1");
    let manifest = manifest(&version);
    let filtered = manifest.counts.records.filtered;
    assert_eq!(
        (
            filtered.failed,
            filtered.latency,
            filtered.cost,
            filtered.quality
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(manifest.counts.records.written, 2);
    assert_eq!(manifest.signature, "sig");
    assert_eq!(manifest.parent_version, None);
    assert_eq!(manifest.thresholds.max_latency_ms, 5000);
    assert_eq!(manifest.inputs.len(), 1);
    assert_eq!(
        manifest.inputs[0].sha256,
        hex::encode(Sha256::digest(text.as_bytes()))
    );
    assert_eq!(manifest.inputs[0].bytes, text.len() as u64);
    let examples = fs::read(version.join("examples.jsonl")).unwrap();
    let provenance = fs::read(version.join("provenance.jsonl")).unwrap();
    assert_eq!(
        manifest.files.examples.sha256,
        hex::encode(Sha256::digest(&examples))
    );
    assert_eq!(
        manifest.files.provenance.sha256,
        hex::encode(Sha256::digest(&provenance))
    );
    assert_eq!(manifest.files.examples.lines, 2);
    let mut both = examples.clone();
    both.extend(&provenance);
    assert_eq!(manifest.content_sha256, hex::encode(Sha256::digest(&both)));
    let created = time::OffsetDateTime::parse(
        &manifest.created_at,
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(created.offset(), time::UtcOffset::UTC);
    let provenance = read_lines(&version.join("provenance.jsonl"));
    assert_eq!(provenance[0]["timestamp"], manifest.created_at.as_str());
    // A record without latency or cost passed; provenance says null.
    assert_eq!(provenance[1]["metadata"]["latency_ms"], Value::Null);
    assert_eq!(report.groups[0].success_rate, 5.0 / 6.0);
    let latency = report.groups[0].latency_ms.unwrap();
    assert_eq!(latency.p50.samples, 5);
}

#[test]
fn signatures_that_cannot_name_a_directory_are_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let records = [
        record("../escape", &input(1)),
        record("a/b", &input(2)),
        record("..", &input(3)),
        record("ok.sig-1", &input(4)),
    ];
    fs::write(&log, lines(&records)).unwrap();
    let out = dir.path().join("out");
    let report = run(vec![log], &out);
    assert_eq!(report.counts.malformed, 3);
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.reason.starts_with("field `signature`: "))
    );
    let mut made: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    made.sort();
    assert_eq!(made, ["ok.sig-1"]);
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn sampling_rates_are_estimated_from_thresholds_and_adjusted_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut records = Vec::new();
    for n in 0..4 {
        let mut half = record("half", &input(n));
        half["th"] = json!("8");
        records.push(half);
        let mut tenth = record("tenth", &input(n));
        tenth["adjusted_count"] = json!(10.0);
        records.push(tenth);
        records.push(record("all", &input(n)));
    }
    fs::write(&log, lines(&records)).unwrap();
    let report = run(vec![log], &dir.path().join("out"));
    let rate = |signature: &str| {
        report
            .groups
            .iter()
            .find(|g| g.signature == signature)
            .unwrap()
            .estimated_sampling_rate
    };
    assert_eq!(rate("half"), 0.5);
    assert_eq!(rate("tenth"), 0.1);
    assert_eq!(rate("all"), 1.0);
}

#[test]
fn inputs_that_name_nothing_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("*.jsonl");
    let error = expand(&[pattern.to_str().unwrap()]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}: the pattern matches no file", pattern.display())
    );
    let missing = dir.path().join("missing.jsonl");
    let error = expand(&[missing.to_str().unwrap()]).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}: no such file or directory", missing.display())
    );
    let error = expand(&[dir.path().to_str().unwrap()]).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("the directory holds no *.jsonl or *.jsonl.gz file")
    );
    fs::write(dir.path().join("b.jsonl"), "").unwrap();
    fs::write(dir.path().join("a.jsonl.gz"), "").unwrap();
    let found = expand(&[
        pattern.to_str().unwrap(),
        dir.path().join("*.gz").to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        found,
        [dir.path().join("b.jsonl"), dir.path().join("a.jsonl.gz")]
    );
}

#[test]
fn a_line_longer_than_the_limit_is_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.jsonl");
    let mut within_a_read = record("sig", &json!({"text": "x".repeat(10_000)}));
    within_a_read["n"] = json!(1);
    // Longer than a read: skipped by the reader before it is whole.
    let over_several_reads = record("sig", &json!({"text": "y".repeat(300_000)}));
    let text = lines(&[
        record("sig", &input(1)),
        within_a_read,
        record("sig", &input(3)),
        over_several_reads,
        record("sig", &input(5)),
    ]);
    fs::write(&log, text).unwrap();
    let report = run(vec![log.clone()], &dir.path().join("out"));
    assert_eq!(report.counts.records.written, 3);
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    let skipped = |line: u32| format!("{}:{line}: longer than 4096 bytes, skipped", log.display());
    assert_eq!(problems, [skipped(2), skipped(4)]);
    let provenance = read_lines(&dir.path().join("out/sig/v1/provenance.jsonl"));
    let numbers: Vec<&Value> = provenance.iter().map(|p| &p["metadata"]["line"]).collect();
    assert_eq!(numbers, [1, 3, 5]);
}
