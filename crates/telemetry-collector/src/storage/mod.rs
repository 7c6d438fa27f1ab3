//! Storage: one trait, [`Storage`], with two backends, [`Sqlite`] (the
//! embedded default) and [`Postgres`] (several collectors on one database).
//! Both pass one conformance suite (`tests/storage.rs`).
//!
//! - **Idempotency is a unique constraint.** Every row has a `dedup_key`
//!   (an event's uuid; for PostHog batches, uuid and timestamp, as PostHog
//!   deduplicates) that is unique in its table (PostgreSQL: the primary
//!   key; SQLite: a unique column of a rowid table), and rows are inserted
//!   with `ON CONFLICT DO NOTHING`. A retried batch, or the same batch sent
//!   to two collectors on one PostgreSQL at once, is stored once.
//! - **A stored batch is committed.** [`Storage::store`] returns only after
//!   the transaction that holds the batch is durable (SQLite: WAL with
//!   `synchronous=FULL`; PostgreSQL: a committed transaction), so a 200
//!   answered after it survives `kill -9` of the server.
//! - **No client id is kept**, only [`KeyedHasher`] hashes under a key the
//!   database holds (`collector_settings.hash_key`), which every instance on
//!   the database shares.
//! - **Appends stay sequential.** The only indexes are the primary key
//!   (UUID v7 keys, as the clients send, arrive in order) and
//!   `received_at` (in order by construction). Keyed hashes are random, so
//!   an index on them would make every insert touch a random page; the
//!   rare queries by hash (a deletion request, distinct registrants per
//!   model) scan instead.
//! - **Migrations** are numbered files under `migrations/`, applied at
//!   start, one transaction each, under a lock (SQLite's write lock;
//!   PostgreSQL's advisory lock), so instances starting together apply each
//!   once.

pub mod jobs;
mod postgres;
mod sqlite;
pub mod traces;

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

use self::jobs::{Claim, ClaimedJob, JobEnd, JobRow, TraceFilter, TraceSummary};
pub use self::postgres::Postgres;
pub use self::sqlite::{FILE_NAME as SQLITE_FILE, Sqlite};
use self::traces::{
    ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, NewTrace, TraceRow, TracesDeleted,
    UploadProgress,
};
use crate::keyed::KeyedHasher;

/// One model registration, checked, with its client id already hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The event's uuid, or a digest of the event when it had none.
    pub dedup_key: String,
    /// [`KeyedHasher::registration`] of the model name and client id.
    pub registration_hash: String,
    /// The model's public name.
    pub model_name: String,
    /// `sentence-transformers`, `openai`, `local_path`, …
    pub model_source: String,
    /// The model's version, when known.
    pub model_version: Option<String>,
    /// Length of one embedding.
    pub embedding_dimension: u32,
    /// `["text"]`, `["image"]` or `["text","image"]`, as JSON.
    pub modalities: String,
    /// `cosine`, `dot`, …, when known.
    pub distance_metric: Option<String>,
    /// `l2` or `none`, when known.
    pub normalization: Option<String>,
    /// Whether the model loaded.
    pub load_success: bool,
    /// Whether an embedding was computed.
    pub inference_success: bool,
    /// `cpu`, `gpu`, or a device name.
    pub device_type: String,
    /// A hash of a local model's path.
    pub local_path_hash: Option<String>,
    /// The event's own time, RFC 3339 UTC.
    pub event_time: String,
    /// When the collector received it, in Unix seconds.
    pub received_at: i64,
}

/// Any other event: an operator's registered type, or a PostHog event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's uuid (PostHog batches: uuid and timestamp).
    pub dedup_key: String,
    /// Which endpoint it came through.
    pub source: EventSource,
    /// The event's type or name.
    pub event_type: String,
    /// [`KeyedHasher::client`] of its client id, when it had one.
    pub client_hash: Option<String>,
    /// The event's own time, RFC 3339 UTC.
    pub event_time: String,
    /// When the collector received it, in Unix seconds.
    pub received_at: i64,
    /// The event as kept, JSON, without its client id.
    pub body: String,
}

/// The endpoint an [`Event`] came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSource {
    /// `POST /api/v1/telemetry`.
    Registry,
    /// `POST /batch/`.
    PostHog,
}

impl EventSource {
    /// The name stored in `events.source`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registry => "registry",
            Self::PostHog => "posthog",
        }
    }
}

/// What one request asks to store, all in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Model registrations.
    pub registrations: Vec<Registration>,
    /// Other events.
    pub events: Vec<Event>,
}

impl Batch {
    /// Rows in the batch.
    #[must_use]
    pub fn len(&self) -> usize {
        self.registrations.len() + self.events.len()
    }

    /// Whether the batch holds no row.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What storing a [`Batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    /// Rows written.
    pub inserted: u64,
    /// Rows already there (same `dedup_key`), left as they were.
    pub duplicates: u64,
}

/// Registrations that agree on everything [`models`] reports, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelGroup {
    /// The model's name.
    pub model_name: String,
    /// Its source.
    pub model_source: String,
    /// Its version (`None` when not sent).
    pub model_version: Option<String>,
    /// Embedding length.
    pub embedding_dimension: u32,
    /// Modalities, as JSON.
    pub modalities: String,
    /// Device type.
    pub device_type: String,
    /// Registrations in the group.
    pub registrations: u64,
    /// Of which the model loaded.
    pub loaded: u64,
    /// Of which an embedding was computed.
    pub inferred: u64,
}

/// Distinct registrants (registration hashes) per model name.
pub type Registrants = BTreeMap<String, u64>;

/// A storage failure: the request it served is answered 503 and may be
/// retried; nothing of it was committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// SQLite refused.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused, or could not be reached.
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had.
    #[error("postgres pool: {0}")]
    Pool(String),
    /// The transaction that held the request, with others, failed to
    /// commit.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The storage is closed or its writer stopped.
    #[error("storage is closed")]
    Closed,
    /// The writer's queue is full: too many requests wait to be committed.
    #[error("storage is busy: {0} requests wait to be committed")]
    Busy(usize),
    /// A database written by a newer collector.
    #[error(
        "the database's schema version {found} is newer than this collector's ({known}); upgrade the collector"
    )]
    Newer {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The database holds a value this build cannot read.
    #[error("corrupt value: {0}")]
    Corrupt(String),
}

/// Where the collector keeps what it accepted.
///
/// Every method is one transaction. Implementations are shared by all of a
/// server's requests (`Arc<S>`).
pub trait Storage: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and `/healthz`.
    fn backend(&self) -> &'static str;

    /// The hasher under the database's key.
    fn hasher(&self) -> &KeyedHasher;

    /// Stores `batch` in one transaction; returns once it is committed.
    fn store(&self, batch: Batch) -> impl Future<Output = Result<Stored, StorageError>> + Send;

    /// Registrations, grouped for [`models`].
    fn model_groups(
        &self,
    ) -> impl Future<Output = Result<(Vec<ModelGroup>, Registrants), StorageError>> + Send;

    /// Deletes every record of `client_id`; returns how many.
    fn delete_client(
        &self,
        client_id: String,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Deletes every record received before `unix_seconds`; returns how many.
    fn delete_received_before(
        &self,
        unix_seconds: i64,
    ) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Creates an open trace.
    fn trace_create(
        &self,
        trace: NewTrace,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Stores a chunk of an open trace with its idempotency key, in one
    /// transaction (see [`traces`] for the rules).
    fn trace_ingest(
        &self,
        chunk: ChunkWrite,
    ) -> impl Future<Output = Result<ChunkOutcome, StorageError>> + Send;

    /// A trace, in whatever state.
    fn trace_get(
        &self,
        trace_id: String,
    ) -> impl Future<Output = Result<Option<TraceRow>, StorageError>> + Send;

    /// The chunks and events stored for an open trace.
    fn trace_progress(
        &self,
        trace_id: String,
    ) -> impl Future<Output = Result<UploadProgress, StorageError>> + Send;

    /// The stored events of an open trace, JSON, in seq order.
    fn trace_events(
        &self,
        trace_id: String,
    ) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// Marks a trace complete and appends its leaf to the log, in one
    /// transaction; a trace complete already keeps what it has.
    fn trace_complete(
        &self,
        completion: Completion,
    ) -> impl Future<Output = Result<CompleteOutcome, StorageError>> + Send;

    /// Records that an open trace holds the artifact `sha256` (whose blob
    /// is stored); returns the trace's state (`None`: no such trace), and
    /// records nothing unless it is `open`.
    fn trace_add_artifact(
        &self,
        trace_id: String,
        sha256: String,
        size: u64,
    ) -> impl Future<Output = Result<Option<String>, StorageError>> + Send;

    /// The artifacts recorded for a trace, by SHA-256.
    fn trace_artifacts(
        &self,
        trace_id: String,
    ) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// The log's leaf hashes from index `from` on, in order, hex.
    fn log_leaves(
        &self,
        from: u64,
    ) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// Removes the content of every trace of `participant_id` (their leaves
    /// stay in the log).
    fn delete_participant(
        &self,
        participant_id: String,
    ) -> impl Future<Output = Result<TracesDeleted, StorageError>> + Send;

    /// Removes the content of every trace created before `unix_seconds`,
    /// and idempotency keys stored before `idempotency_before`.
    fn delete_traces_before(
        &self,
        unix_seconds: i64,
        idempotency_before: i64,
    ) -> impl Future<Output = Result<TracesDeleted, StorageError>> + Send;

    /// Claims the next due QA job for `claim.worker` under a lease: a
    /// queued job whose backoff has passed, or a running one whose lease
    /// expired (see [`jobs`]).
    fn qa_claim(
        &self,
        claim: Claim,
    ) -> impl Future<Output = Result<Option<ClaimedJob>, StorageError>> + Send;

    /// Extends the lease `worker` holds on a trace's job to
    /// `lease_until_ms`; `false` when it no longer holds it.
    fn qa_renew(
        &self,
        trace_id: String,
        worker: String,
        lease_until_ms: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Ends the attempt `worker` holds; `false` (and nothing changed) when it
    /// no longer holds it.
    fn qa_end(
        &self,
        trace_id: String,
        worker: String,
        end: JobEnd,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// A trace's QA job.
    fn qa_job(
        &self,
        trace_id: String,
    ) -> impl Future<Output = Result<Option<JobRow>, StorageError>> + Send;

    /// Traces, newest first, with their QA state, as `filter` selects.
    fn trace_list(
        &self,
        filter: TraceFilter,
    ) -> impl Future<Output = Result<Vec<TraceSummary>, StorageError>> + Send;

    /// Rows kept, registrations and events: for tests and the benchmark.
    fn count(&self) -> impl Future<Output = Result<(u64, u64), StorageError>> + Send;

    /// Whether the database answers.
    fn ping(&self) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Finishes what was accepted and closes the database.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// `GET /api/v1/models`: registrations per model name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelsReport {
    /// Registrations in all.
    pub registrations: u64,
    /// One entry per model name, most registered first.
    pub models: Vec<ModelSummary>,
}

/// One model's registrations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// The model's public name.
    pub model_name: String,
    /// Registrations.
    pub registrations: u64,
    /// Distinct registrants (by keyed hash of model name and client id).
    pub clients: u64,
    /// Registrations per source.
    pub model_source: BTreeMap<String, u64>,
    /// Registrations per version (`unknown` when not sent).
    pub model_version: BTreeMap<String, u64>,
    /// Registrations per embedding dimension.
    pub embedding_dimension: BTreeMap<String, u64>,
    /// Registrations per modality (`text`, `image`).
    pub modalities: BTreeMap<String, u64>,
    /// Registrations per device type.
    pub device_type: BTreeMap<String, u64>,
    /// Share of registrations whose model loaded.
    pub load_success_rate: f64,
    /// Share of registrations that computed an embedding.
    pub inference_success_rate: f64,
}

/// Folds grouped rows into the report.
#[must_use]
pub fn models(groups: Vec<ModelGroup>, registrants: &Registrants) -> ModelsReport {
    let mut by_name: BTreeMap<String, (ModelSummary, u64, u64)> = BTreeMap::new();
    let mut total = 0;
    for group in groups {
        total += group.registrations;
        let (summary, loaded, inferred) =
            by_name.entry(group.model_name.clone()).or_insert_with(|| {
                (
                    ModelSummary {
                        clients: registrants.get(&group.model_name).copied().unwrap_or(0),
                        model_name: group.model_name.clone(),
                        registrations: 0,
                        model_source: BTreeMap::new(),
                        model_version: BTreeMap::new(),
                        embedding_dimension: BTreeMap::new(),
                        modalities: BTreeMap::new(),
                        device_type: BTreeMap::new(),
                        load_success_rate: 0.0,
                        inference_success_rate: 0.0,
                    },
                    0,
                    0,
                )
            });
        let n = group.registrations;
        summary.registrations += n;
        *loaded += group.loaded;
        *inferred += group.inferred;
        *summary.model_source.entry(group.model_source).or_default() += n;
        *summary
            .model_version
            .entry(group.model_version.unwrap_or_else(|| "unknown".to_owned()))
            .or_default() += n;
        *summary
            .embedding_dimension
            .entry(group.embedding_dimension.to_string())
            .or_default() += n;
        let modalities: Vec<String> = serde_json::from_str(&group.modalities).unwrap_or_default();
        for modality in modalities {
            *summary.modalities.entry(modality).or_default() += n;
        }
        *summary.device_type.entry(group.device_type).or_default() += n;
    }
    let mut models: Vec<ModelSummary> = by_name
        .into_values()
        .map(|(mut summary, loaded, inferred)| {
            #[allow(clippy::cast_precision_loss, reason = "a rate, not a count")]
            if summary.registrations > 0 {
                summary.load_success_rate = loaded as f64 / summary.registrations as f64;
                summary.inference_success_rate = inferred as f64 / summary.registrations as f64;
            }
            summary
        })
        .collect();
    models.sort_by(|a, b| {
        b.registrations
            .cmp(&a.registrations)
            .then_with(|| a.model_name.cmp(&b.model_name))
    });
    ModelsReport {
        registrations: total,
        models,
    }
}
