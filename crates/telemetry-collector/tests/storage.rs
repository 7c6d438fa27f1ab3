//! The storage conformance suite: every test runs against SQLite and, when
//! a test PostgreSQL is provided, against PostgreSQL, through the one
//! `Storage` trait.

mod common;

use std::sync::Arc;

use telemetry_collector::storage::traces::{
    ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, EventRow, NewTrace,
};
use telemetry_collector::storage::{Batch, Event, EventSource, Registration, Storage, Stored};
use telemetry_collector::{Postgres, Sqlite};

fn registration(
    dedup: &str,
    model: &str,
    client: &str,
    hasher: &telemetry_collector::keyed::KeyedHasher,
    received_at: i64,
) -> Registration {
    Registration {
        dedup_key: dedup.to_owned(),
        registration_hash: hasher.registration(model, client),
        model_name: model.to_owned(),
        model_source: "sentence-transformers".to_owned(),
        model_version: Some("2.1.0".to_owned()),
        embedding_dimension: 768,
        modalities: r#"["text"]"#.to_owned(),
        distance_metric: Some("cosine".to_owned()),
        normalization: None,
        load_success: true,
        inference_success: client != "failing-client",
        device_type: "cpu".to_owned(),
        local_path_hash: None,
        event_time: "2026-01-23T12:34:56Z".to_owned(),
        received_at,
    }
}

fn event(
    dedup: &str,
    client: &str,
    hasher: &telemetry_collector::keyed::KeyedHasher,
    received_at: i64,
) -> Event {
    Event {
        dedup_key: dedup.to_owned(),
        source: EventSource::PostHog,
        event_type: "search_performed".to_owned(),
        client_hash: Some(hasher.client(client)),
        event_time: "2026-01-23T12:34:56Z".to_owned(),
        received_at,
        body: r#"{"event":"search_performed"}"#.to_owned(),
    }
}

async fn a_retried_batch_is_stored_once<S: Storage>(storage: &S) {
    let hasher = storage.hasher().clone();
    let batch = Batch {
        registrations: vec![
            registration("r1", "m/a", "c1", &hasher, 100),
            registration("r2", "m/a", "c2", &hasher, 100),
        ],
        events: vec![event("e1", "c1", &hasher, 100)],
    };
    assert_eq!(
        storage.store(batch.clone()).await.unwrap(),
        Stored {
            inserted: 3,
            duplicates: 0
        }
    );
    assert_eq!(
        storage.store(batch).await.unwrap(),
        Stored {
            inserted: 0,
            duplicates: 3
        }
    );
    // A duplicate inside one batch is one row too.
    let twice = Batch {
        registrations: vec![
            registration("r3", "m/a", "c1", &hasher, 100),
            registration("r3", "m/a", "c1", &hasher, 100),
        ],
        events: Vec::new(),
    };
    assert_eq!(
        storage.store(twice).await.unwrap(),
        Stored {
            inserted: 1,
            duplicates: 1
        }
    );
    assert_eq!(storage.count().await.unwrap(), (3, 1));
}

async fn concurrent_batches_all_commit<S: Storage>(storage: Arc<S>) {
    let hasher = storage.hasher().clone();
    let mut tasks = Vec::new();
    for request in 0..32 {
        let storage = Arc::clone(&storage);
        let hasher = hasher.clone();
        tasks.push(tokio::spawn(async move {
            let registrations = (0..50)
                .map(|n| {
                    registration(
                        &format!("{request}-{n}"),
                        "m/b",
                        &format!("c{n}"),
                        &hasher,
                        100,
                    )
                })
                .collect();
            storage
                .store(Batch {
                    registrations,
                    events: Vec::new(),
                })
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().inserted, 50);
    }
    assert_eq!(storage.count().await.unwrap().0, 32 * 50);
}

async fn models_are_aggregated_per_name<S: Storage>(storage: &S) {
    let hasher = storage.hasher().clone();
    let mut gpu = registration("g1", "m/a", "c1", &hasher, 100);
    "gpu".clone_into(&mut gpu.device_type);
    r#"["text","image"]"#.clone_into(&mut gpu.modalities);
    let batch = Batch {
        registrations: vec![
            registration("a1", "m/a", "c1", &hasher, 100),
            registration("a2", "m/a", "failing-client", &hasher, 100),
            gpu,
            registration("b1", "m/b", "c1", &hasher, 100),
        ],
        events: Vec::new(),
    };
    storage.store(batch).await.unwrap();
    let (groups, registrants) = storage.model_groups().await.unwrap();
    let report = telemetry_collector::storage::models(groups, &registrants);
    assert_eq!(report.registrations, 4);
    assert_eq!(report.models[0].model_name, "m/a");
    let a = &report.models[0];
    assert_eq!(a.registrations, 3);
    // c1 registered m/a twice (cpu and gpu): two registrations, one client.
    assert_eq!(a.clients, 2);
    assert_eq!(a.device_type.get("cpu"), Some(&2));
    assert_eq!(a.device_type.get("gpu"), Some(&1));
    assert_eq!(a.modalities.get("text"), Some(&3));
    assert_eq!(a.modalities.get("image"), Some(&1));
    assert_eq!(a.embedding_dimension.get("768"), Some(&3));
    assert_eq!(a.load_success_rate, 1.0);
    assert!((a.inference_success_rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(report.models[1].model_name, "m/b");
}

async fn a_deletion_request_removes_every_record_of_the_client<S: Storage>(storage: &S) {
    let hasher = storage.hasher().clone();
    let batch = Batch {
        registrations: vec![
            registration("a1", "m/a", "leaving", &hasher, 100),
            registration("b1", "m/b", "leaving", &hasher, 100),
            registration("a2", "m/a", "staying", &hasher, 100),
        ],
        events: vec![
            event("e1", "leaving", &hasher, 100),
            event("e2", "staying", &hasher, 100),
        ],
    };
    storage.store(batch).await.unwrap();
    assert_eq!(
        storage.delete_client("leaving".to_owned()).await.unwrap(),
        3
    );
    assert_eq!(storage.count().await.unwrap(), (1, 1));
    assert_eq!(
        storage.delete_client("leaving".to_owned()).await.unwrap(),
        0
    );
}

async fn retention_deletes_what_was_received_before_the_cutoff<S: Storage>(storage: &S) {
    let hasher = storage.hasher().clone();
    let batch = Batch {
        registrations: vec![
            registration("old", "m/a", "c", &hasher, 1_000),
            registration("new", "m/a", "c", &hasher, 2_000),
        ],
        events: vec![
            event("old-e", "c", &hasher, 999),
            event("new-e", "c", &hasher, 2_000),
        ],
    };
    storage.store(batch).await.unwrap();
    assert_eq!(storage.delete_received_before(2_000).await.unwrap(), 2);
    assert_eq!(storage.count().await.unwrap(), (1, 1));
}

fn chunk_write(
    trace_id: &str,
    key: &str,
    chunk_seq: u64,
    seqs: std::ops::Range<u64>,
) -> ChunkWrite {
    ChunkWrite {
        trace_id: trace_id.to_owned(),
        idempotency_key: key.to_owned(),
        request_sha256: format!("{chunk_seq}:{seqs:?}"),
        chunk_seq,
        events: seqs
            .map(|seq| EventRow {
                seq,
                hash: format!("hash-{seq}"),
                body: format!(r#"{{"seq":{seq}}}"#),
            })
            .collect(),
        received_at: 100,
        answer: Box::new(|counts| format!("{}+{}", counts.accepted, counts.duplicates)),
    }
}

fn completion(trace_id: &str, num_events: u64, head: &str) -> Completion {
    Completion {
        trace_id: trace_id.to_owned(),
        document: "{}".to_owned(),
        event_hash_chain: head.to_owned(),
        num_events,
        leaf_hash: "ab".repeat(32),
        completed_at: 200,
    }
}

async fn a_trace_completes_only_on_the_events_it_was_checked_on<S: Storage>(storage: &S) {
    storage
        .trace_create(NewTrace {
            trace_id: "trace-a".to_owned(),
            participant_id: "p-1".to_owned(),
            header: "{}".to_owned(),
            created_at: 100,
        })
        .await
        .unwrap();
    let stored = storage
        .trace_ingest(chunk_write("trace-a", "k0", 0, 0..3))
        .await
        .unwrap();
    assert_eq!(stored, ChunkOutcome::Stored("3+0".to_owned()));
    // Same key, same payload: the answer given; same key, other payload.
    assert_eq!(
        storage
            .trace_ingest(chunk_write("trace-a", "k0", 0, 0..3))
            .await
            .unwrap(),
        ChunkOutcome::Replayed("3+0".to_owned())
    );
    assert_eq!(
        storage
            .trace_ingest(chunk_write("trace-a", "k0", 1, 3..5))
            .await
            .unwrap(),
        ChunkOutcome::KeyReused
    );
    assert_eq!(
        storage
            .trace_ingest(chunk_write("trace-a", "k1", 0, 3..5))
            .await
            .unwrap(),
        ChunkOutcome::ChunkConflict
    );
    // Checked on three events, while a fourth arrived: nothing changes.
    assert_eq!(
        storage
            .trace_ingest(chunk_write("trace-a", "k2", 1, 3..4))
            .await
            .unwrap(),
        ChunkOutcome::Stored("1+0".to_owned())
    );
    assert_eq!(
        storage
            .trace_complete(completion("trace-a", 3, "hash-2"))
            .await
            .unwrap(),
        CompleteOutcome::EventsChanged
    );
    assert_eq!(storage.log_leaves(0).await.unwrap().len(), 0);
    assert_eq!(
        storage
            .trace_complete(completion("trace-a", 4, "hash-3"))
            .await
            .unwrap(),
        CompleteOutcome::Complete {
            leaf_index: 0,
            already: false
        }
    );
    assert_eq!(
        storage
            .trace_complete(completion("trace-a", 4, "hash-3"))
            .await
            .unwrap(),
        CompleteOutcome::Complete {
            leaf_index: 0,
            already: true
        }
    );
    assert_eq!(
        storage
            .trace_ingest(chunk_write("trace-a", "k3", 2, 4..5))
            .await
            .unwrap(),
        ChunkOutcome::NotOpen("complete".to_owned())
    );
    assert_eq!(storage.log_leaves(0).await.unwrap(), vec!["ab".repeat(32)]);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let storage = Arc::new(Sqlite::open(dir.path()).unwrap());
                    run!($name, storage);
                    storage.close().await;
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = common::postgres_url(concat!("postgres::", stringify!($name))) else { return };
                    let url = common::fresh_database(&url).await;
                    let storage = Arc::new(Postgres::connect(&url, 4).await.unwrap());
                    run!($name, storage);
                    storage.close().await;
                }
            )*
        }
    };
}

macro_rules! run {
    (concurrent_batches_all_commit, $storage:expr) => {
        super::concurrent_batches_all_commit(Arc::clone(&$storage)).await
    };
    ($name:ident, $storage:expr) => {
        super::$name(&*$storage).await
    };
}

conformance!(
    a_retried_batch_is_stored_once,
    concurrent_batches_all_commit,
    models_are_aggregated_per_name,
    a_deletion_request_removes_every_record_of_the_client,
    retention_deletes_what_was_received_before_the_cutoff,
    a_trace_completes_only_on_the_events_it_was_checked_on,
);

#[tokio::test]
async fn sqlite_keeps_its_key_and_schema_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let first = Sqlite::open(dir.path()).unwrap();
    let hash = first.hasher().client("c");
    first.close().await;
    let second = Sqlite::open(dir.path()).unwrap();
    assert_eq!(second.hasher().client("c"), hash);
    second.close().await;
    // A clean close checkpoints the WAL and removes it.
    assert!(!dir.path().join("collector.db-wal").exists());
}

#[tokio::test]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    Sqlite::open(dir.path()).unwrap().close().await;
    let connection = rusqlite::Connection::open(dir.path().join("collector.db")).unwrap();
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    let error = Sqlite::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("99 is newer"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_starting_together_migrate_once_and_share_the_key() {
    let Some(url) =
        common::postgres_url("postgres_instances_starting_together_migrate_once_and_share_the_key")
    else {
        return;
    };
    let url = common::fresh_database(&url).await;
    let (one, two) = tokio::join!(Postgres::connect(&url, 2), Postgres::connect(&url, 2));
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.hasher().client("c"), two.hasher().client("c"));
}
