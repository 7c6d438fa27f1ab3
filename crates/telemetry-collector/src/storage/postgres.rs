//! The backend for several collectors on one database: PostgreSQL through
//! a `deadpool-postgres` pool of `tokio-postgres` connections.
//!
//! Each request is one transaction; a batch is written with one
//! `INSERT … SELECT FROM UNNEST(…) ON CONFLICT (dedup_key) DO NOTHING` per
//! table, so that PostgreSQL itself decides, under its unique index, which
//! of two collectors receiving the same event stores it.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

mod jobs;
mod traces;

use super::jobs::{Claim, ClaimedJob, JobEnd, JobRow, TraceFilter, TraceSummary};
use super::traces::{
    ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, NewTrace, TraceRow, TracesDeleted,
    UploadProgress,
};
use super::{Batch, ModelGroup, Registrants, Storage, StorageError, Stored};
use crate::keyed::{KEY_BYTES, KeyedHasher};

/// Each migration, numbered from 1, recorded in `collector_migrations`.
const MIGRATIONS: [&str; 3] = [
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_traces.sql"),
    include_str!("../../migrations/postgres/0003_qa_jobs.sql"),
];

/// The advisory lock migrations are applied under (any constant the
/// database's other users do not take).
const MIGRATION_LOCK: i64 = 0x7465_6c65_6d65_7472;

/// The PostgreSQL backend.
pub struct Postgres {
    pool: Pool,
    hasher: KeyedHasher,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

fn pool_error(error: impl std::fmt::Display) -> StorageError {
    StorageError::Pool(error.to_string())
}

impl Postgres {
    /// Connects to `url` (`postgres://user@host:port/db`) with a pool of
    /// `max_connections`, and applies the migrations.
    pub async fn connect(url: &str, max_connections: usize) -> Result<Self, StorageError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .build()
            .map_err(pool_error)?;
        let mut client = pool.get().await.map_err(pool_error)?;
        migrate(&mut client).await?;
        let key = load_key(&client).await?;
        drop(client);
        Ok(Self {
            pool,
            hasher: KeyedHasher::new(&key),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StorageError> {
        self.pool.get().await.map_err(pool_error)
    }
}

async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StorageError> {
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let transaction = client.transaction().await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS collector_migrations (
                version BIGINT PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let version: i64 = transaction
        .query_one(
            "SELECT coalesce(max(version), 0) FROM collector_migrations",
            &[],
        )
        .await?
        .get(0);
    if version > known {
        return Err(StorageError::Newer {
            found: version,
            known,
        });
    }
    for next in version + 1..=known {
        let index = usize::try_from(next - 1).unwrap_or(0);
        transaction.batch_execute(MIGRATIONS[index]).await?;
        transaction
            .execute(
                "INSERT INTO collector_migrations (version) VALUES ($1)",
                &[&next],
            )
            .await?;
        tracing::info!(version = next, "postgres: migration applied");
    }
    transaction.commit().await?;
    Ok(())
}

async fn load_key(client: &deadpool_postgres::Object) -> Result<[u8; KEY_BYTES], StorageError> {
    let mut fresh = [0u8; KEY_BYTES];
    getrandom::fill(&mut fresh).map_err(|error| StorageError::Corrupt(error.to_string()))?;
    client
        .execute(
            "INSERT INTO collector_settings (name, value) VALUES ('hash_key', $1) ON CONFLICT (name) DO NOTHING",
            &[&hex::encode(fresh)],
        )
        .await?;
    let stored: String = client
        .query_one(
            "SELECT value FROM collector_settings WHERE name = 'hash_key'",
            &[],
        )
        .await?
        .get(0);
    super::sqlite::decode_key(&stored)
}

impl Storage for Postgres {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn hasher(&self) -> &KeyedHasher {
        &self.hasher
    }

    async fn store(&self, batch: Batch) -> Result<Stored, StorageError> {
        if batch.is_empty() {
            return Ok(Stored::default());
        }
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let mut inserted = 0;
        if !batch.registrations.is_empty() {
            let rows = &batch.registrations;
            let column =
                |f: fn(&super::Registration) -> &str| rows.iter().map(f).collect::<Vec<_>>();
            let optional = |f: fn(&super::Registration) -> Option<&str>| {
                rows.iter().map(f).collect::<Vec<_>>()
            };
            let dimensions: Vec<i32> = rows
                .iter()
                .map(|row| i32::try_from(row.embedding_dimension).unwrap_or(i32::MAX))
                .collect();
            let loaded: Vec<bool> = rows.iter().map(|row| row.load_success).collect();
            let inferred: Vec<bool> = rows.iter().map(|row| row.inference_success).collect();
            let received: Vec<i64> = rows.iter().map(|row| row.received_at).collect();
            inserted += transaction
                .execute(
                    "INSERT INTO model_registrations (dedup_key, registration_hash, model_name, model_source, \
                     model_version, embedding_dimension, modalities, distance_metric, normalization, \
                     load_success, inference_success, device_type, local_path_hash, event_time, received_at) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::int4[], $7::text[], $8::text[], $9::text[], $10::bool[], $11::bool[], $12::text[], \
                     $13::text[], $14::text[], $15::int8[]) ON CONFLICT (dedup_key) DO NOTHING",
                    &[
                        &column(|row| &row.dedup_key),
                        &column(|row| &row.registration_hash),
                        &column(|row| &row.model_name),
                        &column(|row| &row.model_source),
                        &optional(|row| row.model_version.as_deref()),
                        &dimensions,
                        &column(|row| &row.modalities),
                        &optional(|row| row.distance_metric.as_deref()),
                        &optional(|row| row.normalization.as_deref()),
                        &loaded,
                        &inferred,
                        &column(|row| &row.device_type),
                        &optional(|row| row.local_path_hash.as_deref()),
                        &column(|row| &row.event_time),
                        &received,
                    ],
                )
                .await?;
        }
        if !batch.events.is_empty() {
            let rows = &batch.events;
            let column = |f: fn(&super::Event) -> &str| rows.iter().map(f).collect::<Vec<_>>();
            let hashes: Vec<Option<&str>> =
                rows.iter().map(|row| row.client_hash.as_deref()).collect();
            let received: Vec<i64> = rows.iter().map(|row| row.received_at).collect();
            inserted += transaction
                .execute(
                    "INSERT INTO events (dedup_key, source, event_type, client_hash, event_time, received_at, body) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::int8[], $7::text[]) ON CONFLICT (dedup_key) DO NOTHING",
                    &[
                        &column(|row| &row.dedup_key),
                        &column(|row| row.source.as_str()),
                        &column(|row| &row.event_type),
                        &hashes,
                        &column(|row| &row.event_time),
                        &received,
                        &column(|row| &row.body),
                    ],
                )
                .await?;
        }
        transaction.commit().await?;
        let rows = batch.len() as u64;
        Ok(Stored {
            inserted,
            duplicates: rows.saturating_sub(inserted),
        })
    }

    async fn model_groups(&self) -> Result<(Vec<ModelGroup>, Registrants), StorageError> {
        let client = self.client().await?;
        let groups = client
            .query(
                "SELECT model_name, model_source, model_version, embedding_dimension, modalities, \
                 device_type, count(*), count(*) FILTER (WHERE load_success), \
                 count(*) FILTER (WHERE inference_success) \
                 FROM model_registrations GROUP BY 1, 2, 3, 4, 5, 6",
                &[],
            )
            .await?
            .into_iter()
            .map(|row| {
                let count = |at: usize| u64::try_from(row.get::<_, i64>(at)).unwrap_or(0);
                ModelGroup {
                    model_name: row.get(0),
                    model_source: row.get(1),
                    model_version: row.get(2),
                    embedding_dimension: u32::try_from(row.get::<_, i32>(3)).unwrap_or(0),
                    modalities: row.get(4),
                    device_type: row.get(5),
                    registrations: count(6),
                    loaded: count(7),
                    inferred: count(8),
                }
            })
            .collect();
        let registrants = client
            .query(
                "SELECT model_name, count(DISTINCT registration_hash) FROM model_registrations GROUP BY 1",
                &[],
            )
            .await?
            .into_iter()
            .map(|row| (row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)))
            .collect();
        Ok((groups, registrants))
    }

    async fn delete_client(&self, client_id: String) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let names: Vec<String> = transaction
            .query("SELECT DISTINCT model_name FROM model_registrations", &[])
            .await?
            .into_iter()
            .map(|row| row.get(0))
            .collect();
        let hashes: Vec<String> = names
            .iter()
            .map(|name| self.hasher.registration(name, &client_id))
            .collect();
        let mut deleted = transaction
            .execute(
                "DELETE FROM model_registrations WHERE registration_hash = ANY($1)",
                &[&hashes],
            )
            .await?;
        deleted += transaction
            .execute(
                "DELETE FROM events WHERE client_hash = $1",
                &[&self.hasher.client(&client_id)],
            )
            .await?;
        transaction.commit().await?;
        Ok(deleted)
    }

    async fn delete_received_before(&self, unix_seconds: i64) -> Result<u64, StorageError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let mut deleted = transaction
            .execute(
                "DELETE FROM model_registrations WHERE received_at < $1",
                &[&unix_seconds],
            )
            .await?;
        deleted += transaction
            .execute(
                "DELETE FROM events WHERE received_at < $1",
                &[&unix_seconds],
            )
            .await?;
        transaction.commit().await?;
        Ok(deleted)
    }

    async fn trace_create(&self, trace: NewTrace) -> Result<(), StorageError> {
        traces::create(&self.client().await?, &trace).await
    }

    async fn trace_ingest(&self, chunk: ChunkWrite) -> Result<ChunkOutcome, StorageError> {
        traces::ingest(&mut self.client().await?, chunk).await
    }

    async fn trace_get(&self, trace_id: String) -> Result<Option<TraceRow>, StorageError> {
        traces::get(&self.client().await?, &trace_id).await
    }

    async fn trace_progress(&self, trace_id: String) -> Result<UploadProgress, StorageError> {
        traces::progress(&self.client().await?, &trace_id).await
    }

    async fn trace_events(&self, trace_id: String) -> Result<Vec<String>, StorageError> {
        traces::events(&self.client().await?, &trace_id).await
    }

    async fn trace_complete(
        &self,
        completion: Completion,
    ) -> Result<CompleteOutcome, StorageError> {
        traces::complete(&mut self.client().await?, &completion).await
    }

    async fn trace_add_artifact(
        &self,
        trace_id: String,
        sha256: String,
        size: u64,
    ) -> Result<Option<String>, StorageError> {
        traces::add_artifact(&mut self.client().await?, &trace_id, &sha256, size).await
    }

    async fn trace_artifacts(&self, trace_id: String) -> Result<Vec<String>, StorageError> {
        traces::artifacts(&self.client().await?, &trace_id).await
    }

    async fn log_leaves(&self, from: u64) -> Result<Vec<String>, StorageError> {
        traces::leaves(&self.client().await?, from).await
    }

    async fn qa_claim(&self, claim: Claim) -> Result<Option<ClaimedJob>, StorageError> {
        jobs::claim(&mut self.client().await?, &claim).await
    }

    async fn qa_renew(
        &self,
        trace_id: String,
        worker: String,
        lease_until_ms: i64,
    ) -> Result<bool, StorageError> {
        jobs::renew(&self.client().await?, &trace_id, &worker, lease_until_ms).await
    }

    async fn qa_end(
        &self,
        trace_id: String,
        worker: String,
        end: JobEnd,
        now_ms: i64,
    ) -> Result<bool, StorageError> {
        jobs::end(&mut self.client().await?, &trace_id, &worker, &end, now_ms).await
    }

    async fn qa_job(&self, trace_id: String) -> Result<Option<JobRow>, StorageError> {
        jobs::get(&self.client().await?, &trace_id).await
    }

    async fn trace_list(&self, filter: TraceFilter) -> Result<Vec<TraceSummary>, StorageError> {
        jobs::list(&self.client().await?, &filter).await
    }

    async fn delete_participant(
        &self,
        participant_id: String,
    ) -> Result<TracesDeleted, StorageError> {
        traces::delete_participant(&mut self.client().await?, &participant_id).await
    }

    async fn delete_traces_before(
        &self,
        unix_seconds: i64,
        idempotency_before: i64,
    ) -> Result<TracesDeleted, StorageError> {
        traces::delete_created_before(&mut self.client().await?, unix_seconds, idempotency_before)
            .await
    }

    async fn count(&self) -> Result<(u64, u64), StorageError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM model_registrations), (SELECT count(*) FROM events)",
                &[],
            )
            .await?;
        let count = |at: usize| u64::try_from(row.get::<_, i64>(at)).unwrap_or(0);
        Ok((count(0), count(1)))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.client().await?.execute("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close();
    }
}
