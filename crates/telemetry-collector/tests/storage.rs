//! The storage conformance suite: every test runs against SQLite and, when
//! a test PostgreSQL is provided, against PostgreSQL, through the one
//! `Storage` trait.

mod common;

use std::sync::Arc;

use telemetry_collector::storage::jobs::{Claim, JobEnd, NewJob, TraceFilter};
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
        job: None,
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

/// Creates `trace_id` with one event and completes it with a QA job.
async fn completed_with_job<S: Storage>(
    storage: &S,
    trace_id: &str,
    created_at: i64,
    max_attempts: u32,
) {
    storage
        .trace_create(NewTrace {
            trace_id: trace_id.to_owned(),
            participant_id: "p-1".to_owned(),
            header: r#"{"task_id":"BUG-1"}"#.to_owned(),
            created_at,
        })
        .await
        .unwrap();
    storage
        .trace_ingest(chunk_write(trace_id, "k0", 0, 0..1))
        .await
        .unwrap();
    let mut completion = completion(trace_id, 1, "hash-0");
    completion.leaf_hash = format!("{created_at:064x}");
    completion.job = Some(NewJob {
        request: "{}".to_owned(),
        max_attempts,
        now_ms: 1_000,
    });
    let outcome = storage.trace_complete(completion).await.unwrap();
    assert!(
        matches!(outcome, CompleteOutcome::Complete { already: false, .. }),
        "{outcome:?}"
    );
}

fn claim(worker: &str, now_ms: i64) -> Claim {
    Claim {
        worker: worker.to_owned(),
        now_ms,
        lease_ms: 1_000,
    }
}

async fn a_qa_job_is_leased_retried_reclaimed_and_ended_by_its_holder<S: Storage>(storage: &S) {
    use telemetry_trace::JobState;
    completed_with_job(storage, "trace-q", 100, 3).await;
    let job = storage.qa_job("trace-q".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts, job.max_attempts),
        (JobState::Queued, 0, 3)
    );
    // Not due before it was enqueued.
    assert_eq!(storage.qa_claim(claim("w0", 999)).await.unwrap(), None);
    let first = storage.qa_claim(claim("w1", 1_000)).await.unwrap().unwrap();
    assert_eq!((first.trace_id.as_str(), first.attempt), ("trace-q", 1));
    // Held: nobody else gets it, and only its holder may renew or end it.
    assert_eq!(storage.qa_claim(claim("w2", 1_500)).await.unwrap(), None);
    assert!(
        !storage
            .qa_renew("trace-q".into(), "w2".into(), 9_000)
            .await
            .unwrap()
    );
    assert!(
        storage
            .qa_renew("trace-q".into(), "w1".into(), 2_500)
            .await
            .unwrap()
    );
    assert_eq!(storage.qa_claim(claim("w2", 2_400)).await.unwrap(), None);
    let retry = JobEnd::Retry {
        reason: "the runner failed".into(),
        run_after_ms: 5_000,
    };
    assert!(
        !storage
            .qa_end("trace-q".into(), "w2".into(), retry.clone(), 2_000)
            .await
            .unwrap()
    );
    assert!(
        storage
            .qa_end("trace-q".into(), "w1".into(), retry, 2_000)
            .await
            .unwrap()
    );
    let job = storage.qa_job("trace-q".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.reason.as_deref()),
        (JobState::Queued, Some("the runner failed"))
    );
    // The backoff holds it back.
    assert_eq!(storage.qa_claim(claim("w2", 4_999)).await.unwrap(), None);
    let second = storage.qa_claim(claim("w2", 5_000)).await.unwrap().unwrap();
    assert_eq!(second.attempt, 2);
    // w2 dies: its lease expires and w3 claims the job again.
    assert_eq!(storage.qa_claim(claim("w3", 6_000)).await.unwrap(), None);
    let third = storage.qa_claim(claim("w3", 6_001)).await.unwrap().unwrap();
    assert_eq!(third.attempt, 3);
    let job = storage.qa_job("trace-q".to_owned()).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Running);
    assert!(job.reason.unwrap().contains("lease expired"));
    // w2 comes back too late: its end changes nothing.
    let done = |overall: f64| JobEnd::Done {
        result: format!(r#"{{"overall":{overall}}}"#),
        verified: Some(true),
        overall: Some(overall),
        artifacts: Vec::new(),
    };
    assert!(
        !storage
            .qa_end("trace-q".into(), "w2".into(), done(1.0), 6_100)
            .await
            .unwrap()
    );
    assert!(
        storage
            .qa_end("trace-q".into(), "w3".into(), done(3.5), 6_200)
            .await
            .unwrap()
    );
    let job = storage.qa_job("trace-q".to_owned()).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.reason, job.result.as_deref()),
        (JobState::Done, None, Some(r#"{"overall":3.5}"#))
    );
    assert_eq!(job.updated_at_ms, 6_200);
    assert_eq!(storage.qa_claim(claim("w4", 99_000)).await.unwrap(), None);
}

async fn a_job_whose_last_attempt_was_lost_fails_with_that_reason<S: Storage>(storage: &S) {
    use telemetry_trace::JobState;
    completed_with_job(storage, "trace-l", 100, 1).await;
    assert_eq!(
        storage
            .qa_claim(claim("w1", 1_000))
            .await
            .unwrap()
            .unwrap()
            .attempt,
        1
    );
    assert_eq!(storage.qa_claim(claim("w2", 2_001)).await.unwrap(), None);
    let job = storage.qa_job("trace-l".to_owned()).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.reason.unwrap().contains("lease expired"));
    // A failure that is not retried.
    completed_with_job(storage, "trace-m", 101, 3).await;
    storage.qa_claim(claim("w1", 3_000)).await.unwrap().unwrap();
    let failed = JobEnd::Failed {
        reason: "the workspace snapshot is not a tar archive".into(),
    };
    assert!(
        storage
            .qa_end("trace-m".into(), "w1".into(), failed, 3_100)
            .await
            .unwrap()
    );
    let job = storage.qa_job("trace-m".to_owned()).await.unwrap().unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Failed, 1));
}

async fn concurrent_workers_claim_each_job_once<S: Storage>(storage: Arc<S>) {
    for index in 0..6 {
        completed_with_job(&*storage, &format!("trace-c{index}"), 100 + index, 3).await;
    }
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(job) = storage
                .qa_claim(claim(&format!("w{worker}"), 10_000))
                .await
                .unwrap()
            {
                claimed.push(job.trace_id);
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    let expected: Vec<String> = (0..6).map(|index| format!("trace-c{index}")).collect();
    assert_eq!(all, expected);
}

#[expect(clippy::too_many_lines, reason = "one scenario, each filter in turn")]
async fn traces_are_listed_newest_first_with_their_qa<S: Storage>(storage: &S) {
    completed_with_job(storage, "trace-old", 100, 3).await;
    completed_with_job(storage, "trace-new", 200, 3).await;
    storage
        .trace_create(NewTrace {
            trace_id: "trace-open".to_owned(),
            participant_id: "p-2".to_owned(),
            header: "{}".to_owned(),
            created_at: 300,
        })
        .await
        .unwrap();
    let job = storage.qa_claim(claim("w1", 1_000)).await.unwrap().unwrap();
    let done = JobEnd::Done {
        result: "{}".into(),
        verified: Some(false),
        overall: Some(3.2),
        artifacts: vec![("ab".repeat(32), 12)],
    };
    assert!(
        !storage
            .qa_end(job.trace_id.clone(), "w2".into(), done.clone(), 1_050)
            .await
            .unwrap(),
        "only the holder ends a job"
    );
    assert!(
        !storage
            .trace_artifacts(job.trace_id.clone())
            .await
            .unwrap()
            .contains(&"ab".repeat(32))
    );
    assert!(
        storage
            .qa_end(job.trace_id.clone(), "w1".into(), done, 1_100)
            .await
            .unwrap()
    );
    // The log is the trace's artifact now: deleting the trace removes it.
    assert!(
        storage
            .trace_artifacts(job.trace_id.clone())
            .await
            .unwrap()
            .contains(&"ab".repeat(32))
    );
    let list = |filter: TraceFilter| async move {
        storage
            .trace_list(TraceFilter {
                limit: if filter.limit == 0 { 10 } else { filter.limit },
                ..filter
            })
            .await
            .unwrap()
            .into_iter()
            .map(|summary| summary.trace_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(TraceFilter::default()).await,
        ["trace-open", "trace-new", "trace-old"]
    );
    let judged = job.trace_id.as_str();
    assert_eq!(
        list(TraceFilter {
            verified: Some(false),
            ..TraceFilter::default()
        })
        .await,
        [judged]
    );
    assert!(
        list(TraceFilter {
            verified: Some(true),
            ..TraceFilter::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        list(TraceFilter {
            min_score: Some(3.0),
            max_score: Some(3.5),
            ..TraceFilter::default()
        })
        .await,
        [judged]
    );
    assert!(
        list(TraceFilter {
            min_score: Some(3.3),
            ..TraceFilter::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        list(TraceFilter {
            created_from: Some(150),
            created_to: Some(300),
            ..TraceFilter::default()
        })
        .await,
        ["trace-new"]
    );
    assert_eq!(
        list(TraceFilter {
            limit: 1,
            ..TraceFilter::default()
        })
        .await,
        ["trace-open"]
    );
    let summary = storage
        .trace_list(TraceFilter {
            verified: Some(false),
            limit: 10,
            ..TraceFilter::default()
        })
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (summary.state.as_str(), summary.num_events, summary.overall),
        ("complete", Some(1), Some(3.2))
    );
    assert_eq!(summary.job_state, Some(telemetry_trace::JobState::Done));
    // A deleted trace's job and results go with its content.
    let deleted = storage.delete_participant("p-1".to_owned()).await.unwrap();
    assert_eq!(deleted.traces, 2);
    assert_eq!(storage.qa_job(judged.to_owned()).await.unwrap(), None);
    assert_eq!(list(TraceFilter::default()).await, ["trace-open"]);
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
    (concurrent_workers_claim_each_job_once, $storage:expr) => {
        super::concurrent_workers_claim_each_job_once(Arc::clone(&$storage)).await
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
    a_qa_job_is_leased_retried_reclaimed_and_ended_by_its_holder,
    a_job_whose_last_attempt_was_lost_fails_with_that_reason,
    concurrent_workers_claim_each_job_once,
    traces_are_listed_newest_first_with_their_qa,
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
