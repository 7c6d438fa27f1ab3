//! Reference 004's flow end to end, on real parts: the consent prompt, the
//! queue, `preview`, the registry sink of `telemetry-collector-client`,
//! the collector's answer, `GET /api/v1/models`, and a deletion request.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Launch, Server};
use telemetry_collector_client::{ApiKey, CollectorConfig, send_deletion_request};
use telemetry_runtime::catalogue::{
    DeviceType, DistanceMetric, Modality, ModelRegistration, ModelRegistrationInput, ModelSource,
    Normalization,
};
use telemetry_runtime::{Telemetry, TelemetrySafe, Timestamp};

const INGEST: &str = "registry-ingest-key-0123";
const READ: &str = "registry-read-key-0123456";

/// An event the collector has not been told about.
#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    hits: u32,
}

fn registration(name: &str, local_path: Option<&str>) -> ModelRegistration {
    ModelRegistration::new(ModelRegistrationInput {
        model_name: name.to_owned(),
        model_source: if local_path.is_some() {
            ModelSource::LocalPath
        } else {
            ModelSource::SentenceTransformers
        },
        model_version: "2.1.0".to_owned(),
        embedding_dimension: 768,
        modalities: vec![Modality::Text],
        distance_metric: DistanceMetric::Cosine,
        normalization: Normalization::L2,
        load_success: true,
        inference_success: true,
        device_type: DeviceType::Cpu,
        local_path: local_path.map(PathBuf::from),
        timestamp: Timestamp::parse("2026-01-23T12:34:56Z").unwrap(),
    })
    .unwrap()
}

fn builder(dir: &Path, url: &str) -> telemetry_runtime::TelemetryBuilder {
    let env: HashMap<String, String> = [
        ("MYAPP_TELEMETRY_ENABLED", "1"),
        ("MYAPP_TELEMETRY_COLLECTOR_URL", url),
        ("MYAPP_TELEMETRY_COLLECTOR_API_KEY", INGEST),
        ("MYAPP_TELEMETRY_BATCH_INTERVAL_SECONDS", "3600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let builder = Telemetry::builder("myapp")
        .data_dir(dir)
        .env(move |name| env.get(name).cloned());
    telemetry_collector_client::configure(builder, None).unwrap()
}

fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}

#[test]
fn a_model_registration_goes_from_consent_to_the_registry_and_can_be_deleted() {
    // What the user reads before opting in names every field sent.
    let prompt = ModelRegistration::consent_prompt().to_string();
    for field in [
        "model_name",
        "model_source",
        "embedding_dimension",
        "local_path_hash",
        "client_id",
    ] {
        assert!(
            prompt.contains(field),
            "{field} is not in the prompt:\n{prompt}"
        );
    }

    let server_dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        server_dir.path(),
        &Launch::default()
            .env("TELEMETRY_COLLECTOR_INGEST_KEYS", INGEST)
            .env("TELEMETRY_COLLECTOR_READ_KEYS", READ),
    );
    let app_dir = tempfile::tempdir().unwrap();
    let telemetry = builder(app_dir.path(), &server.url).build().unwrap();
    telemetry.capture(&registration(
        "sentence-transformers/all-mpnet-base-v2",
        None,
    ));
    telemetry.capture(&registration(
        "my-finetune",
        Some("/home/ana/models/my-finetune"),
    ));
    telemetry.capture(&Search { hits: 3 });

    // `telemetry preview`: the three events, queued, before anything is sent.
    let control = builder(app_dir.path(), &server.url).control().unwrap();
    let started = Instant::now();
    while control.preview().unwrap().len() < 3 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(control.preview().unwrap().len(), 3);

    // Send now.
    telemetry.flush(Duration::from_secs(20)).unwrap();
    assert!(
        control.preview().unwrap().is_empty(),
        "everything was settled"
    );
    drop(telemetry);

    // The collector refused the event it does not know: settled into the
    // dead-letter file with its reason, not retried.
    let dead = std::fs::read_to_string(
        find(app_dir.path(), "dead-letter.jsonl").expect("a dead-letter file"),
    )
    .unwrap();
    assert_eq!(dead.lines().count(), 1, "{dead}");
    assert!(
        dead.contains("is not registered with this collector"),
        "{dead}"
    );

    let read = format!("Bearer {READ}");
    let models = server
        .get("/api/v1/models", &[("authorization", &read)])
        .body;
    assert_eq!(models["registrations"], 2, "{models}");
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["my-finetune", "sentence-transformers/all-mpnet-base-v2"]
    );
    let local = &models["models"][0];
    assert_eq!(local["model_source"]["local_path"], 1);
    // The path itself never left the machine.
    let stored = std::fs::read(server_dir.path().join("collector.db-wal")).unwrap_or_default();
    assert!(!stored.windows(9).any(|w| w == b"/home/ana"));

    // The user's deletion request removes both registrations.
    let client_id = control.client_id().expect("a client id").to_string();
    let config = CollectorConfig::for_url(&server.url).with_api_key(ApiKey::new(INGEST));
    assert_eq!(send_deletion_request(&config, &client_id).unwrap(), 2);
    let models = server
        .get("/api/v1/models", &[("authorization", &read)])
        .body;
    assert_eq!(models["registrations"], 0, "{models}");
}
