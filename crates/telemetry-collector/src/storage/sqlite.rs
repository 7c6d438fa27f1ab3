//! The embedded backend: one SQLite file in WAL mode with
//! `synchronous=FULL`, written by one thread that commits the batches of
//! concurrent requests together.
//!
//! **Group commit.** Each request hands its batch to the writer and waits.
//! The writer takes every batch that is waiting (up to
//! [`MAX_GROUP_COMMIT_ROWS`] rows), writes each inside its own savepoint, and
//! commits them in one transaction: one WAL sync for all of them. A batch
//! whose insert fails is rolled back to its savepoint and answered with the
//! error; the others commit. Every request is answered only after the commit
//! that holds its batch is durable.
//!
//! **Checkpoints off the writer's path.** The writer never checkpoints
//! (`wal_autocheckpoint = 0`): a thread of its own, on its own connection,
//! copies the WAL into the database (`PRAGMA wal_checkpoint(PASSIVE)`, which
//! runs beside the writer) at most every [`CHECKPOINT_EVERY`] after a
//! commit, so the database file's sync is never waited for by a request.
//! Should the WAL still pass [`MAX_WAL_BYTES`] (readers pinning it), the
//! writer checkpoints it itself once.
//!
//! Reads (`/api/v1/models`, `/healthz`) use their own connection, which WAL
//! lets run beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

mod jobs;
mod traces;

use super::jobs::{Claim, ClaimedJob, JobEnd, JobRow, TraceFilter, TraceSummary};
use super::traces::{
    ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, NewTrace, TraceRow, TracesDeleted,
    UploadProgress,
};
use super::{Batch, ModelGroup, Registrants, Storage, StorageError, Stored};
use crate::keyed::{KEY_BYTES, KeyedHasher};
use crate::policy::{
    CHECKPOINT_EVERY, MAX_GROUP_COMMIT_ROWS, MAX_WAL_BYTES, WRITER_QUEUE_REQUESTS,
};

/// Each migration, numbered from 1; `PRAGMA user_version` records the last
/// applied.
const MIGRATIONS: [&str; 3] = [
    include_str!("../../migrations/sqlite/0001_init.sql"),
    include_str!("../../migrations/sqlite/0002_traces.sql"),
    include_str!("../../migrations/sqlite/0003_qa_jobs.sql"),
];

/// The database file's name under the data directory.
pub const FILE_NAME: &str = "collector.db";

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

/// Work for the writer that is not a batch: runs on the writer's
/// connection and answers its own caller.
type Run = Box<dyn FnOnce(&mut Connection) + Send>;

enum Job {
    Store(Batch, Reply<Stored>),
    Run(Run),
    DeleteClient(String, Reply<u64>),
    DeleteBefore(i64, Reply<u64>),
}

/// The SQLite backend.
pub struct Sqlite {
    path: PathBuf,
    /// Taken by [`Storage::close`]: the writer ends when the last clone of
    /// it is gone.
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Reads; taken by [`Storage::close`].
    reader: Arc<Mutex<Option<Connection>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    hasher: KeyedHasher,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    Ok(connection)
}

/// Applies the migrations not yet applied, each in one transaction taken
/// with the write lock first (`BEGIN IMMEDIATE`), so that two processes
/// opening one file apply each once.
fn migrate(connection: &mut Connection) -> Result<(), StorageError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    loop {
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 =
            transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > known {
            return Err(StorageError::Newer {
                found: version,
                known,
            });
        }
        if version == known {
            return Ok(());
        }
        let index = usize::try_from(version).unwrap_or(0);
        transaction.execute_batch(MIGRATIONS[index])?;
        transaction.pragma_update(None, "user_version", version + 1)?;
        transaction.commit()?;
        tracing::info!(version = version + 1, "sqlite: migration applied");
    }
}

/// The database's hashing key, made by the first collector to open it.
fn load_key(connection: &Connection) -> Result<[u8; KEY_BYTES], StorageError> {
    let mut fresh = [0u8; KEY_BYTES];
    getrandom::fill(&mut fresh).map_err(|error| StorageError::Corrupt(error.to_string()))?;
    connection.execute(
        "INSERT INTO collector_settings (name, value) VALUES ('hash_key', ?1) ON CONFLICT (name) DO NOTHING",
        params![hex::encode(fresh)],
    )?;
    let stored: String = connection.query_row(
        "SELECT value FROM collector_settings WHERE name = 'hash_key'",
        [],
        |row| row.get(0),
    )?;
    decode_key(&stored)
}

pub(super) fn decode_key(stored: &str) -> Result<[u8; KEY_BYTES], StorageError> {
    let bytes = hex::decode(stored)
        .map_err(|_| StorageError::Corrupt("collector_settings.hash_key is not hex".to_owned()))?;
    bytes.try_into().map_err(|_| {
        StorageError::Corrupt("collector_settings.hash_key is not 32 bytes".to_owned())
    })
}

impl Sqlite {
    /// Opens (creating it if needed) `DIR/collector.db` and applies the
    /// migrations. `DIR` is made private to its owner (0700): it holds the
    /// database's key and every trace, and the QA sandbox's tests run as
    /// other users on this host.
    pub fn open(data_dir: &Path) -> Result<Self, StorageError> {
        use std::os::unix::fs::PermissionsExt as _;
        let io = |source| StorageError::Io {
            path: data_dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        Self::open_file(&data_dir.join(FILE_NAME))
    }

    /// Opens the database file `path`.
    pub fn open_file(path: &Path) -> Result<Self, StorageError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        let key = load_key(&writer)?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = open_connection(path)?;
        let reader = open_connection(path)?;
        let (sender, receiver) = mpsc::channel(WRITER_QUEUE_REQUESTS);
        let thread = std::thread::Builder::new()
            .name("collector-sqlite".to_owned())
            .spawn(move || write_loop(writer, checkpointer, receiver))
            .map_err(|source| StorageError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            jobs: Mutex::new(Some(sender)),
            reader: Arc::new(Mutex::new(Some(reader))),
            writer: Mutex::new(Some(thread)),
            hasher: KeyedHasher::new(&key),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StorageError> {
        let (reply, answer) = oneshot::channel();
        let sender = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(StorageError::Closed)?;
        match sender.try_send(job(reply)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                return Err(StorageError::Busy(WRITER_QUEUE_REQUESTS));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(StorageError::Closed),
        }
        answer.await.unwrap_or(Err(StorageError::Closed))
    }

    /// Runs `op` on the writer's connection, in turn with the batches.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        self.submit(|reply| {
            Job::Run(Box::new(move |connection| {
                let _ = reply.send(op(connection));
            }))
        })
        .await
    }

    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let connection = reader
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            query(connection.as_ref().ok_or(StorageError::Closed)?)
        })
        .await
        .map_err(|_| StorageError::Closed)?
    }
}

fn write_loop(mut connection: Connection, checkpointer: Connection, mut jobs: mpsc::Receiver<Job>) {
    let wal = connection
        .path()
        .map(|path| PathBuf::from(format!("{path}-wal")));
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    std::thread::scope(|scope| {
        scope.spawn(move || checkpoint_loop(&checkpointer, &woken));
        let mut pending: Option<Job> = None;
        let mut commits: u64 = 0;
        loop {
            let Some(first) = pending.take().or_else(|| jobs.blocking_recv()) else {
                break;
            };
            match first {
                Job::Store(batch, reply) => {
                    let mut group = vec![(batch, reply)];
                    let mut rows = group[0].0.len();
                    while rows < MAX_GROUP_COMMIT_ROWS {
                        match jobs.try_recv() {
                            Ok(Job::Store(batch, reply)) => {
                                rows += batch.len();
                                group.push((batch, reply));
                            }
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    commit_group(&mut connection, group);
                }
                Job::DeleteClient(client_id, reply) => {
                    let _ = reply.send(delete_client(&mut connection, &client_id));
                }
                Job::DeleteBefore(cutoff, reply) => {
                    let _ = reply.send(delete_before(&mut connection, cutoff));
                }
                Job::Run(run) => run(&mut connection),
            }
            let _ = wake.try_send(());
            commits += 1;
            if commits.is_multiple_of(64)
                && let Some(wal) = &wal
                && std::fs::metadata(wal).is_ok_and(|meta| meta.len() > MAX_WAL_BYTES)
                && let Err(error) = connection.pragma_update(None, "wal_checkpoint", "RESTART")
            {
                tracing::warn!(%error, "sqlite: checkpoint of a large WAL failed");
            }
        }
        // Ends the checkpointer.
        drop(wake);
    });
    // Every sender is gone: checkpoint the WAL into the database and close,
    // which removes the `-wal` and `-shm` files.
    if let Err(error) = connection.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
        tracing::warn!(%error, "sqlite: final checkpoint failed");
    }
    if let Err((_, error)) = connection.close() {
        tracing::warn!(%error, "sqlite: close failed");
    }
}

/// Copies the WAL into the database when the writer has committed, at most
/// every [`CHECKPOINT_EVERY`], until the writer is gone.
fn checkpoint_loop(connection: &Connection, woken: &std::sync::mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "sqlite: checkpoint failed; tried again after the next commit");
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

fn commit_group(connection: &mut Connection, group: Vec<(Batch, Reply<Stored>)>) {
    let mut results: Vec<Result<Stored, StorageError>> = Vec::with_capacity(group.len());
    let outcome = (|| -> Result<(), rusqlite::Error> {
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (batch, _) in &group {
            transaction.execute_batch("SAVEPOINT request")?;
            match insert(&transaction, batch) {
                Ok(stored) => {
                    transaction.execute_batch("RELEASE request")?;
                    results.push(Ok(stored));
                }
                Err(error) => {
                    transaction.execute_batch("ROLLBACK TO request; RELEASE request")?;
                    results.push(Err(error.into()));
                }
            }
        }
        transaction.commit()
    })();
    match outcome {
        Ok(()) => {
            for ((_, reply), result) in group.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            tracing::error!(%error, requests = group.len(), "sqlite: group commit failed");
            let reason = error.to_string();
            for (_, reply) in group {
                let _ = reply.send(Err(StorageError::Commit(reason.clone())));
            }
        }
    }
}

fn insert(connection: &Connection, batch: &Batch) -> Result<Stored, rusqlite::Error> {
    let mut stored = Stored::default();
    if !batch.registrations.is_empty() {
        let mut statement = connection.prepare_cached(
            "INSERT INTO model_registrations (dedup_key, registration_hash, model_name, model_source, \
             model_version, embedding_dimension, modalities, distance_metric, normalization, \
             load_success, inference_success, device_type, local_path_hash, event_time, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (dedup_key) DO NOTHING",
        )?;
        for row in &batch.registrations {
            let changed = statement.execute(params![
                row.dedup_key,
                row.registration_hash,
                row.model_name,
                row.model_source,
                row.model_version,
                row.embedding_dimension,
                row.modalities,
                row.distance_metric,
                row.normalization,
                row.load_success,
                row.inference_success,
                row.device_type,
                row.local_path_hash,
                row.event_time,
                row.received_at,
            ])?;
            count(&mut stored, changed);
        }
    }
    if !batch.events.is_empty() {
        let mut statement = connection.prepare_cached(
            "INSERT INTO events (dedup_key, source, event_type, client_hash, event_time, received_at, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (dedup_key) DO NOTHING",
        )?;
        for row in &batch.events {
            let changed = statement.execute(params![
                row.dedup_key,
                row.source.as_str(),
                row.event_type,
                row.client_hash,
                row.event_time,
                row.received_at,
                row.body,
            ])?;
            count(&mut stored, changed);
        }
    }
    Ok(stored)
}

fn count(stored: &mut Stored, changed: usize) {
    if changed == 0 {
        stored.duplicates += 1;
    } else {
        stored.inserted += 1;
    }
}

fn delete_client(connection: &mut Connection, client_id: &str) -> Result<u64, StorageError> {
    let key: String = connection.query_row(
        "SELECT value FROM collector_settings WHERE name = 'hash_key'",
        [],
        |row| row.get(0),
    )?;
    let hasher = KeyedHasher::new(&decode_key(&key)?);
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut deleted = 0u64;
    {
        let names: Vec<String> = transaction
            .prepare("SELECT DISTINCT model_name FROM model_registrations")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        let mut statement =
            transaction.prepare("DELETE FROM model_registrations WHERE registration_hash = ?1")?;
        for name in names {
            deleted += statement.execute(params![hasher.registration(&name, client_id)])? as u64;
        }
        deleted += transaction.execute(
            "DELETE FROM events WHERE client_hash = ?1",
            params![hasher.client(client_id)],
        )? as u64;
    }
    transaction.commit()?;
    Ok(deleted)
}

fn delete_before(connection: &mut Connection, cutoff: i64) -> Result<u64, StorageError> {
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut deleted = transaction.execute(
        "DELETE FROM model_registrations WHERE received_at < ?1",
        params![cutoff],
    )? as u64;
    deleted +=
        transaction.execute("DELETE FROM events WHERE received_at < ?1", params![cutoff])? as u64;
    transaction.commit()?;
    Ok(deleted)
}

impl Storage for Sqlite {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn hasher(&self) -> &KeyedHasher {
        &self.hasher
    }

    async fn store(&self, batch: Batch) -> Result<Stored, StorageError> {
        if batch.is_empty() {
            return Ok(Stored::default());
        }
        self.submit(|reply| Job::Store(batch, reply)).await
    }

    async fn model_groups(&self) -> Result<(Vec<ModelGroup>, Registrants), StorageError> {
        self.read(|connection| {
            let groups = connection
                .prepare(
                    "SELECT model_name, model_source, model_version, embedding_dimension, modalities, \
                     device_type, count(*), sum(load_success), sum(inference_success) \
                     FROM model_registrations GROUP BY 1, 2, 3, 4, 5, 6",
                )?
                .query_map([], |row| {
                    Ok(ModelGroup {
                        model_name: row.get(0)?,
                        model_source: row.get(1)?,
                        model_version: row.get(2)?,
                        embedding_dimension: row.get(3)?,
                        modalities: row.get(4)?,
                        device_type: row.get(5)?,
                        registrations: row.get(6)?,
                        loaded: row.get(7)?,
                        inferred: row.get(8)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let registrants = connection
                .prepare(
                    "SELECT model_name, count(DISTINCT registration_hash) FROM model_registrations GROUP BY 1",
                )?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect::<Result<Registrants, _>>()?;
            Ok((groups, registrants))
        })
        .await
    }

    async fn delete_client(&self, client_id: String) -> Result<u64, StorageError> {
        self.submit(|reply| Job::DeleteClient(client_id, reply))
            .await
    }

    async fn delete_received_before(&self, unix_seconds: i64) -> Result<u64, StorageError> {
        self.submit(|reply| Job::DeleteBefore(unix_seconds, reply))
            .await
    }

    async fn trace_create(&self, trace: NewTrace) -> Result<(), StorageError> {
        self.write(move |connection| traces::create(connection, &trace))
            .await
    }

    async fn trace_ingest(&self, chunk: ChunkWrite) -> Result<ChunkOutcome, StorageError> {
        self.write(move |connection| traces::ingest(connection, chunk))
            .await
    }

    async fn trace_get(&self, trace_id: String) -> Result<Option<TraceRow>, StorageError> {
        self.read(move |connection| traces::get(connection, &trace_id))
            .await
    }

    async fn trace_progress(&self, trace_id: String) -> Result<UploadProgress, StorageError> {
        self.read(move |connection| traces::progress(connection, &trace_id))
            .await
    }

    async fn trace_events(&self, trace_id: String) -> Result<Vec<String>, StorageError> {
        self.read(move |connection| traces::events(connection, &trace_id))
            .await
    }

    async fn trace_complete(
        &self,
        completion: Completion,
    ) -> Result<CompleteOutcome, StorageError> {
        self.write(move |connection| traces::complete(connection, &completion))
            .await
    }

    async fn trace_add_artifact(
        &self,
        trace_id: String,
        sha256: String,
        size: u64,
    ) -> Result<Option<String>, StorageError> {
        self.write(move |connection| traces::add_artifact(connection, &trace_id, &sha256, size))
            .await
    }

    async fn trace_artifacts(&self, trace_id: String) -> Result<Vec<String>, StorageError> {
        self.read(move |connection| traces::artifacts(connection, &trace_id))
            .await
    }

    async fn log_leaves(&self, from: u64) -> Result<Vec<String>, StorageError> {
        self.read(move |connection| traces::leaves(connection, from))
            .await
    }

    async fn qa_claim(&self, claim: Claim) -> Result<Option<ClaimedJob>, StorageError> {
        self.write(move |connection| jobs::claim(connection, &claim))
            .await
    }

    async fn qa_renew(
        &self,
        trace_id: String,
        worker: String,
        lease_until_ms: i64,
    ) -> Result<bool, StorageError> {
        self.write(move |connection| jobs::renew(connection, &trace_id, &worker, lease_until_ms))
            .await
    }

    async fn qa_end(
        &self,
        trace_id: String,
        worker: String,
        end: JobEnd,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        self.write(move |connection| jobs::end(connection, &trace_id, &worker, &end, now_ms))
            .await
    }

    async fn qa_job(&self, trace_id: String) -> Result<Option<JobRow>, StorageError> {
        self.read(move |connection| jobs::get(connection, &trace_id))
            .await
    }

    async fn trace_list(&self, filter: TraceFilter) -> Result<Vec<TraceSummary>, StorageError> {
        self.read(move |connection| jobs::list(connection, &filter))
            .await
    }

    async fn delete_participant(
        &self,
        participant_id: String,
    ) -> Result<TracesDeleted, StorageError> {
        self.write(move |connection| traces::delete_participant(connection, &participant_id))
            .await
    }

    async fn delete_traces_before(
        &self,
        unix_seconds: i64,
        idempotency_before: i64,
    ) -> Result<TracesDeleted, StorageError> {
        self.write(move |connection| {
            traces::delete_created_before(connection, unix_seconds, idempotency_before)
        })
        .await
    }

    async fn count(&self) -> Result<(u64, u64), StorageError> {
        self.read(|connection| {
            let registrations =
                connection.query_row("SELECT count(*) FROM model_registrations", [], |row| {
                    row.get(0)
                })?;
            let events =
                connection.query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
            Ok((registrations, events))
        })
        .await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|connection| {
            connection
                .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                .optional()?;
            Ok(())
        })
        .await
    }

    async fn close(&self) {
        // Dropping the last sender ends the writer once it has committed
        // what it holds.
        let sender = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(sender);
        let thread = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        // The reader closes last: the last connection to close removes the
        // WAL.
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(reader);
    }
}
