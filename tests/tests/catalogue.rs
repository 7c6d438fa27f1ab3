//! The event catalogue: every constructor's validation, and a reviewed
//! snapshot of every payload (realistic and edge case), in its envelope, as
//! `telemetry_audit::snapshot` writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use telemetry_audit as audit;
use telemetry_core::catalogue::{
    BaselineApproach, BenchmarkCounts, BenchmarkInput, DeviceType, DistanceMetric, Improvement,
    Modality, ModelRegistrationInput, ModelSource, Normalization, Period, SemanticValidationInput,
    SessionSummaryInput, SessionTiming, SessionTokens,
};
use telemetry_core::guard::{scan_json, scan_value};
use telemetry_core::{
    InvalidEvent, ModelRegistration, PerformanceBenchmark, SearchRecord, SemanticValidation,
    SessionAggregator, SessionSummary, TelemetryEvent, Timestamp,
};

/// The envelope as sent, with fixed hashing keys (hashed fields give the same
/// digest on every run) and the changing envelope fields redacted.
fn payload<T: TelemetryEvent>(event: &T) -> serde_json::Value {
    audit::snapshot(event)
}

/// A change that spoils one field of an input, and the error it must give.
type Case<I> = (fn(&mut I), &'static str);

fn labels<V: Copy>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(label, value)| ((*label).to_owned(), *value))
        .collect()
}

fn session_input() -> SessionSummaryInput {
    SessionSummaryInput {
        duration_minutes: 42.5,
        total_searches: 120,
        successful_searches: 114,
        failed_searches: 6,
        success_rate: 0.95,
        timing: SessionTiming {
            avg_response_ms: 84.2,
            median_response_ms: 61.0,
            p95_response_ms: 230.5,
        },
        tokens: SessionTokens {
            generated: 512_000,
            delivered: 96_000,
            saved: 404_000,
        },
        context_reduction_percent: 80.8,
        estimated_cost_savings_usd: 2.1816,
        languages: labels(&[("rust", 70), ("python", 35), ("markdown", 15)]),
        semantic_categories: labels(&[("function", 0.55), ("type", 0.25), ("test", 0.2)]),
    }
}

#[test]
fn session_summary_realistic() {
    let summary = SessionSummary::new(session_input()).unwrap();
    insta::assert_json_snapshot!(payload(&summary));
}

#[test]
fn session_summary_of_an_empty_session() {
    let summary = SessionAggregator::new()
        .summary_with_duration(Duration::from_secs(30))
        .unwrap();
    insta::assert_json_snapshot!(payload(&summary));
}

#[test]
fn session_summary_from_the_aggregator() {
    let mut session = SessionAggregator::new();
    for (i, ms) in [12u64, 18, 25, 40, 33, 250, 19, 22, 27, 31]
        .into_iter()
        .enumerate()
    {
        session.record(&SearchRecord {
            duration: Duration::from_millis(ms),
            success: i != 5,
            tokens_generated: 4_000,
            tokens_delivered: 800,
            tokens_saved: 3_200,
            language: Some(if i % 3 == 0 { "python" } else { "rust" }),
            semantic_categories: if i % 2 == 0 {
                &["function"]
            } else {
                &["function", "test"]
            },
        });
    }
    let summary = session
        .summary_with_duration(Duration::from_secs(15 * 60))
        .unwrap();
    insta::assert_json_snapshot!(payload(&summary));
}

#[test]
fn session_summary_rejects_each_invalid_field_by_name() {
    let cases: Vec<Case<SessionSummaryInput>> = vec![
        (
            |i| i.success_rate = 1.01,
            "`success_rate` must be within 0..=1, got 1.01",
        ),
        (
            |i| i.success_rate = -0.1,
            "`success_rate` must be within 0..=1, got -0.1",
        ),
        (
            |i| i.success_rate = f64::NAN,
            "`success_rate` must be a finite number, got NaN",
        ),
        (
            |i| i.duration_minutes = -3.0,
            "`duration_minutes` must be at least 0, got -3",
        ),
        (
            |i| i.duration_minutes = f64::INFINITY,
            "`duration_minutes` must be a finite number, got inf",
        ),
        (
            |i| i.timing.p95_response_ms = f64::NAN,
            "`timing.p95_response_ms` must be a finite number, got NaN",
        ),
        (
            |i| i.timing.p95_response_ms = 10.0,
            "`timing.p95_response_ms` is 10, below the median of 61",
        ),
        (
            |i| i.context_reduction_percent = 100.5,
            "`context_reduction_percent` must be at most 100, got 100.5",
        ),
        (
            |i| i.estimated_cost_savings_usd = f64::NEG_INFINITY,
            "`estimated_cost_savings_usd` must be a finite number, got -inf",
        ),
        (
            |i| i.semantic_categories = labels(&[("function", 0.5), ("test", 0.4)]),
            "`semantic_categories` must sum to 1 (within 1e-6), got 0.9",
        ),
        (
            |i| i.failed_searches = 7,
            "`total_searches` is 120, fewer than the 114 successful and 7 failed searches",
        ),
    ];
    for (spoil, message) in cases {
        let mut input = session_input();
        spoil(&mut input);
        assert_eq!(SessionSummary::new(input).unwrap_err().to_string(), message);
    }
    let mut negative_reduction = session_input();
    negative_reduction.context_reduction_percent = -35.0;
    negative_reduction.estimated_cost_savings_usd = -0.4;
    assert!(
        SessionSummary::new(negative_reduction).is_ok(),
        "doing worse than the baseline is valid"
    );
}

fn benchmark_input() -> BenchmarkInput {
    BenchmarkInput {
        comparison_type: "search_vs_grep".into(),
        baseline_approach: BaselineApproach::GrepFullFiles,
        baseline: BenchmarkCounts {
            files: 48,
            lines: 15_200,
            tokens: 152_000,
            cost_usd: 0.8208,
        },
        actual: BenchmarkCounts {
            files: 6,
            lines: 310,
            tokens: 3_100,
            cost_usd: 0.01674,
        },
        improvement: Improvement {
            files_reduction_percent: 87.5,
            lines_reduction_percent: 97.960_526_315_789_47,
            tokens_reduction_percent: 97.960_526_315_789_47,
            cost_savings_percent: 97.960_526_315_789_47,
        },
    }
}

#[test]
fn performance_benchmark_realistic() {
    insta::assert_json_snapshot!(payload(
        &PerformanceBenchmark::new(benchmark_input()).unwrap()
    ));
}

#[test]
fn performance_benchmark_with_a_zero_baseline() {
    let event = PerformanceBenchmark::new(BenchmarkInput {
        comparison_type: "search_vs_filenames".into(),
        baseline_approach: BaselineApproach::FileNameWithDirectory,
        baseline: BenchmarkCounts::default(),
        actual: BenchmarkCounts {
            files: 2,
            lines: 40,
            tokens: 400,
            cost_usd: 0.00216,
        },
        improvement: Improvement::default(),
    })
    .unwrap();
    insta::assert_json_snapshot!(payload(&event));
}

#[test]
fn performance_benchmark_rejects_each_invalid_field_by_name() {
    let cases: Vec<Case<BenchmarkInput>> = vec![
        (
            |i| i.improvement.tokens_reduction_percent = 101.0,
            "`improvement.tokens_reduction_percent` must be at most 100, got 101",
        ),
        (
            |i| i.improvement.cost_savings_percent = f64::NAN,
            "`improvement.cost_savings_percent` must be a finite number, got NaN",
        ),
        (
            |i| i.baseline.cost_usd = -1.0,
            "`baseline.cost_usd` must be at least 0, got -1",
        ),
        (
            |i| i.actual.cost_usd = f64::INFINITY,
            "`actual.cost_usd` must be a finite number, got inf",
        ),
        (
            |i| i.comparison_type = "/home/ana/repo".into(),
            "`comparison_type` contains '/'; use ASCII letters, digits, `_`, `-` or `.`",
        ),
        (
            |i| i.comparison_type = String::new(),
            "`comparison_type` is empty",
        ),
    ];
    for (spoil, message) in cases {
        let mut input = benchmark_input();
        spoil(&mut input);
        assert_eq!(
            PerformanceBenchmark::new(input).unwrap_err().to_string(),
            message
        );
    }
    let mut worse = benchmark_input();
    worse.improvement.files_reduction_percent = -300.0;
    assert!(
        PerformanceBenchmark::new(worse).is_ok(),
        "a tool returning more than the baseline is valid"
    );
}

fn semantic_input() -> SemanticValidationInput {
    SemanticValidationInput {
        period: Period::Weekly,
        chunks_analyzed: 18_422,
        category_usage: labels(&[("function", 412), ("type", 130), ("test", 58)]),
        category_frequency: labels(&[
            ("function", 412.0 / 600.0),
            ("type", 130.0 / 600.0),
            ("test", 58.0 / 600.0),
        ]),
        usage_importance_correlation: 0.62,
        note: "ranking v2".into(),
    }
}

#[test]
fn semantic_validation_realistic() {
    insta::assert_json_snapshot!(payload(&SemanticValidation::new(semantic_input()).unwrap()));
}

#[test]
fn semantic_validation_with_no_usage_and_a_negative_correlation() {
    let event = SemanticValidation::new(SemanticValidationInput {
        period: Period::Daily,
        chunks_analyzed: 0,
        category_usage: BTreeMap::new(),
        category_frequency: BTreeMap::new(),
        usage_importance_correlation: -1.0,
        note: String::new(),
    })
    .unwrap();
    insta::assert_json_snapshot!(payload(&event));
}

#[test]
fn semantic_validation_rejects_each_invalid_field_by_name() {
    let cases: Vec<Case<SemanticValidationInput>> = vec![
        (
            |i| i.usage_importance_correlation = -1.2,
            "`usage_importance_correlation` must be within -1..=1, got -1.2",
        ),
        (
            |i| i.usage_importance_correlation = f64::NAN,
            "`usage_importance_correlation` must be a finite number, got NaN",
        ),
        (
            |i| i.category_frequency = labels(&[("function", 0.7), ("type", 0.7)]),
            "`category_frequency` must sum to 1 (within 1e-6), got 1.4",
        ),
        (
            |i| i.category_frequency = labels(&[("function", 1.5), ("type", -0.5)]),
            "`category_frequency` must be within 0..=1, got 1.5",
        ),
        (
            |i| i.note = "x".repeat(281),
            "`note` is 281 characters long; at most 280 are allowed",
        ),
    ];
    for (spoil, message) in cases {
        let mut input = semantic_input();
        spoil(&mut input);
        assert_eq!(
            SemanticValidation::new(input).unwrap_err().to_string(),
            message
        );
    }
}

fn model_input() -> ModelRegistrationInput {
    ModelRegistrationInput {
        model_name: "sentence-transformers/all-mpnet-base-v2".into(),
        model_source: ModelSource::SentenceTransformers,
        model_version: "2.2.2".into(),
        embedding_dimension: 768,
        modalities: vec![Modality::Text],
        distance_metric: DistanceMetric::Cosine,
        normalization: Normalization::L2,
        load_success: true,
        inference_success: true,
        device_type: DeviceType::Cpu,
        local_path: None,
        timestamp: Timestamp::parse("2026-01-23T12:34:56Z").unwrap(),
    }
}

#[test]
fn model_registration_from_the_hub() {
    insta::assert_json_snapshot!(payload(&ModelRegistration::new(model_input()).unwrap()));
}

#[test]
fn model_registration_from_a_local_path_that_failed_to_load() {
    let event = ModelRegistration::new(ModelRegistrationInput {
        model_name: "my-finetune".into(),
        model_source: ModelSource::LocalPath,
        model_version: "local".into(),
        embedding_dimension: 384,
        modalities: vec![Modality::Text, Modality::Image],
        distance_metric: DistanceMetric::DotProduct,
        normalization: Normalization::None,
        load_success: false,
        inference_success: false,
        device_type: DeviceType::Gpu,
        local_path: Some(PathBuf::from("/home/ana/models/my-finetune")),
        // Another offset: sent in UTC.
        timestamp: Timestamp::parse("2026-01-23T14:34:56+02:00").unwrap(),
    })
    .unwrap();
    let value = payload(&event);
    assert!(!value.to_string().contains("/home/ana"), "{value}");
    insta::assert_json_snapshot!(value);
}

#[test]
fn model_registration_rejects_each_invalid_field_by_name() {
    let cases: Vec<Case<ModelRegistrationInput>> = vec![
        (|i| i.model_name = "  ".into(), "`model_name` is empty"),
        (
            |i| i.embedding_dimension = 0,
            "`embedding_dimension` must be at least 1, got 0",
        ),
        (
            |i| i.load_success = false,
            "`inference_success` is true, but the model did not load (`load_success` is false)",
        ),
        (
            |i| i.local_path = Some(PathBuf::from("/models/x")),
            "`local_path_hash` is set, but the model does not come from a local path",
        ),
        (
            |i| i.model_source = ModelSource::LocalPath,
            "`local_path_hash` is missing: a model from a local path needs its path (sent hashed)",
        ),
        (
            |i| i.model_version = "v 1".into(),
            "`model_version` contains ' '; use ASCII letters, digits, `_`, `-` or `.`",
        ),
        (
            |i| i.modalities = Vec::new(),
            "`modalities` is empty; name at least one",
        ),
        (
            |i| i.modalities = vec![Modality::Image, Modality::Text, Modality::Image],
            "`modalities` names `image` more than once",
        ),
    ];
    for (spoil, message) in cases {
        let mut input = model_input();
        spoil(&mut input);
        assert_eq!(
            ModelRegistration::new(input).unwrap_err().to_string(),
            message
        );
    }
}

#[test]
fn the_consent_prompt_lists_exactly_the_fields_a_registration_sends() {
    let event = ModelRegistration::new(ModelRegistrationInput {
        local_path: Some(PathBuf::from("/models/x")),
        model_source: ModelSource::LocalPath,
        ..model_input()
    })
    .unwrap();
    let sent = payload(&event);
    let mut expected: Vec<String> = sent["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // The identifiers the registry's wire adds from the envelope.
    expected.extend(["event_type", "client_id", "uuid"].map(String::from));
    expected.sort();

    let prompt = ModelRegistration::consent_prompt();
    let mut listed: Vec<String> = prompt.fields().iter().map(|f| f.key.clone()).collect();
    listed.sort();
    assert_eq!(listed, expected);

    let text = prompt.to_string();
    for key in &expected {
        assert!(
            text.contains(&format!("\n  {key}: ")),
            "{key} missing:\n{text}"
        );
    }
    for field in prompt.fields() {
        assert!(!field.description.is_empty(), "{} undescribed", field.key);
    }
    assert!(
        text.contains("  modalities: What the model embeds, each kind once: `[\"text\"]`, `[\"image\"]`, or `[\"text\", \"image\"]` for a multimodal model. Values: text, image.\n"),
        "{text}"
    );
    assert!(
        text.contains("  local_path_hash: Keyed hash of a local model's path; `null` for hub models. Only a keyed hash is sent, never the value itself.\n"),
        "{text}"
    );
    assert!(text.contains("`model_registration`"), "{text}");
}

#[test]
fn invalid_event_errors_are_matchable() {
    let mut input = session_input();
    input.success_rate = 2.0;
    assert!(matches!(
        SessionSummary::new(input),
        Err(InvalidEvent::OutOfRange {
            field: "success_rate",
            ..
        })
    ));
}

/// The JSON of every reviewed catalogue snapshot: real payloads must pass
/// the run-time guard, through both of its entry points.
#[test]
fn every_snapshot_passes_the_guard() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "snap") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // An insta snapshot: a `---` header, then the JSON.
        let json = text.splitn(3, "---\n").nth(2).unwrap();
        assert_eq!(scan_json(json.as_bytes()), Ok(()), "{}", path.display());
        let value: Value = serde_json::from_str(json).unwrap();
        assert_eq!(scan_value(&value), [], "{}", path.display());
        scanned += 1;
    }
    assert!(scanned >= 5);
}
