//! The trace tables on PostgreSQL. Several collectors may serve one trace
//! at once: every rule is a unique constraint or a row lock, never a read
//! followed by a write that another transaction could slip between.
//!
//! - A chunk takes its trace's row `FOR SHARE` (so `complete`, which takes
//!   it `FOR UPDATE`, waits for chunks in flight and they for it), then
//!   inserts its idempotency key, its `chunk_seq` and its events with
//!   `ON CONFLICT DO NOTHING`; a conflict waits for the transaction that
//!   holds the row, then reads what it committed.
//! - The log's next index is taken under an advisory transaction lock.

use deadpool_postgres::Object;

use crate::storage::StorageError;
use crate::storage::traces::{
    ChunkCounts, ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, EventRow, NewTrace,
    TraceRow, TracesDeleted, UploadProgress, to_i64, to_u64,
};

/// The advisory lock the log's appends are taken under.
const LOG_LOCK: i64 = 0x7472_6163_656c_6f67;

pub(super) async fn create(client: &Object, trace: &NewTrace) -> Result<(), StorageError> {
    client
        .execute(
            "INSERT INTO traces (trace_id, participant_id, state, header, created_at) VALUES ($1, $2, 'open', $3, $4)",
            &[&trace.trace_id, &trace.participant_id, &trace.header, &trace.created_at],
        )
        .await?;
    Ok(())
}

pub(super) async fn ingest(
    client: &mut Object,
    chunk: ChunkWrite,
) -> Result<ChunkOutcome, StorageError> {
    let transaction = client.transaction().await?;
    let state: Option<String> = transaction
        .query_opt(
            "SELECT state FROM traces WHERE trace_id = $1 FOR SHARE",
            &[&chunk.trace_id],
        )
        .await?
        .map(|row| row.get(0));
    let Some(state) = state else {
        return Ok(ChunkOutcome::Unknown);
    };
    // The key first: a retry is answered as before, even once the trace is
    // complete.
    let claimed = transaction
        .execute(
            "INSERT INTO trace_idempotency (trace_id, key, request_sha256, answer, created_at) \
             VALUES ($1, $2, $3, '', $4) ON CONFLICT DO NOTHING",
            &[
                &chunk.trace_id,
                &chunk.idempotency_key,
                &chunk.request_sha256,
                &chunk.received_at,
            ],
        )
        .await?;
    if claimed == 0 {
        let row = transaction
            .query_one(
                "SELECT request_sha256, answer FROM trace_idempotency WHERE trace_id = $1 AND key = $2",
                &[&chunk.trace_id, &chunk.idempotency_key],
            )
            .await?;
        let request: String = row.get(0);
        return Ok(if request == chunk.request_sha256 {
            ChunkOutcome::Replayed(row.get(1))
        } else {
            ChunkOutcome::KeyReused
        });
    }
    if state != "open" {
        return Ok(ChunkOutcome::NotOpen(state));
    }
    let chunk_seq = to_i64(chunk.chunk_seq);
    let inserted = transaction
        .execute(
            "INSERT INTO trace_chunks (trace_id, chunk_seq, chunk_sha256, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
            &[&chunk.trace_id, &chunk_seq, &chunk.request_sha256, &chunk.received_at],
        )
        .await?;
    if inserted == 0 {
        let stored: String = transaction
            .query_one(
                "SELECT chunk_sha256 FROM trace_chunks WHERE trace_id = $1 AND chunk_seq = $2",
                &[&chunk.trace_id, &chunk_seq],
            )
            .await?
            .get(0);
        if stored != chunk.request_sha256 {
            return Ok(ChunkOutcome::ChunkConflict);
        }
    }
    let counts = match insert_events(&transaction, &chunk.trace_id, &chunk.events).await? {
        Ok(counts) => counts,
        Err(seq) => return Ok(ChunkOutcome::EventConflict(seq)),
    };
    let answer = (chunk.answer)(counts);
    transaction
        .execute(
            "UPDATE trace_idempotency SET answer = $3 WHERE trace_id = $1 AND key = $2",
            &[&chunk.trace_id, &chunk.idempotency_key, &answer],
        )
        .await?;
    transaction.commit().await?;
    Ok(ChunkOutcome::Stored(answer))
}

/// Inserts a chunk's events; the counts, or the first seq stored with
/// another hash.
async fn insert_events(
    transaction: &deadpool_postgres::Transaction<'_>,
    trace_id: &str,
    events: &[EventRow],
) -> Result<Result<ChunkCounts, u64>, StorageError> {
    let seqs: Vec<i64> = events.iter().map(|event| to_i64(event.seq)).collect();
    let hashes: Vec<&str> = events.iter().map(|event| event.hash.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|event| event.body.as_str()).collect();
    let new: std::collections::HashSet<i64> = transaction
        .query(
            "INSERT INTO trace_events (trace_id, seq, hash, body) \
             SELECT $1, * FROM UNNEST($2::int8[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING RETURNING seq",
            &[&trace_id, &seqs, &hashes, &bodies],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    let mut counts = ChunkCounts {
        accepted: u32::try_from(new.len()).unwrap_or(u32::MAX),
        duplicates: 0,
    };
    if new.len() < seqs.len() {
        let old: Vec<i64> = seqs
            .iter()
            .copied()
            .filter(|seq| !new.contains(seq))
            .collect();
        let stored: std::collections::HashMap<i64, String> = transaction
            .query(
                "SELECT seq, hash FROM trace_events WHERE trace_id = $1 AND seq = ANY($2)",
                &[&trace_id, &old],
            )
            .await?
            .into_iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for event in events {
            let seq = to_i64(event.seq);
            if new.contains(&seq) {
                continue;
            }
            if stored.get(&seq).is_some_and(|hash| *hash == event.hash) {
                counts.duplicates += 1;
            } else {
                return Ok(Err(event.seq));
            }
        }
    }
    Ok(Ok(counts))
}

pub(super) async fn get(client: &Object, trace_id: &str) -> Result<Option<TraceRow>, StorageError> {
    Ok(client
        .query_opt(
            "SELECT trace_id, state, participant_id, header, document, event_hash_chain, num_events, leaf_index, created_at \
             FROM traces WHERE trace_id = $1",
            &[&trace_id],
        )
        .await?
        .map(|row| TraceRow {
            trace_id: row.get(0),
            state: row.get(1),
            participant_id: row.get(2),
            header: row.get(3),
            document: row.get(4),
            event_hash_chain: row.get(5),
            num_events: row.get::<_, Option<i64>>(6).map(to_u64),
            leaf_index: row.get::<_, Option<i64>>(7).map(to_u64),
            created_at: row.get(8),
        }))
}

pub(super) async fn progress(
    client: &Object,
    trace_id: &str,
) -> Result<UploadProgress, StorageError> {
    let seqs = |rows: Vec<tokio_postgres::Row>| -> Vec<u64> {
        rows.into_iter().map(|row| to_u64(row.get(0))).collect()
    };
    Ok(UploadProgress {
        chunk_seqs: seqs(
            client
                .query(
                    "SELECT chunk_seq FROM trace_chunks WHERE trace_id = $1 ORDER BY chunk_seq",
                    &[&trace_id],
                )
                .await?,
        ),
        event_seqs: seqs(
            client
                .query(
                    "SELECT seq FROM trace_events WHERE trace_id = $1 ORDER BY seq",
                    &[&trace_id],
                )
                .await?,
        ),
    })
}

pub(super) async fn events(client: &Object, trace_id: &str) -> Result<Vec<String>, StorageError> {
    Ok(client
        .query(
            "SELECT body FROM trace_events WHERE trace_id = $1 ORDER BY seq",
            &[&trace_id],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect())
}

/// Whether the trace's stored events are the ones `completion` was made
/// from: as many, and the last with its head. Asked once the trace's row
/// is locked `FOR UPDATE`, when no chunk can be in flight.
async fn unchanged(
    transaction: &deadpool_postgres::Transaction<'_>,
    completion: &Completion,
) -> Result<bool, StorageError> {
    let row = transaction
        .query_one(
            "SELECT count(*), (SELECT hash FROM trace_events WHERE trace_id = $1 ORDER BY seq DESC LIMIT 1) \
             FROM trace_events WHERE trace_id = $1",
            &[&completion.trace_id],
        )
        .await?;
    let (count, last): (i64, Option<String>) = (row.get(0), row.get(1));
    Ok(to_u64(count) == completion.num_events
        && (completion.num_events == 0
            || last.as_deref() == Some(completion.event_hash_chain.as_str())))
}

pub(super) async fn complete(
    client: &mut Object,
    completion: &Completion,
) -> Result<CompleteOutcome, StorageError> {
    let transaction = client.transaction().await?;
    let found = transaction
        .query_opt(
            "SELECT state, leaf_index FROM traces WHERE trace_id = $1 FOR UPDATE",
            &[&completion.trace_id],
        )
        .await?
        .map(|row| (row.get::<_, String>(0), row.get::<_, Option<i64>>(1)));
    let outcome = match found {
        None => CompleteOutcome::Unknown,
        Some((state, _)) if state == "deleted" => CompleteOutcome::Deleted,
        Some((state, Some(leaf_index))) if state == "complete" => CompleteOutcome::Complete {
            leaf_index: to_u64(leaf_index),
            already: true,
        },
        Some(_) if !unchanged(&transaction, completion).await? => CompleteOutcome::EventsChanged,
        Some(_) => {
            transaction
                .execute("SELECT pg_advisory_xact_lock($1)", &[&LOG_LOCK])
                .await?;
            let leaf_index: i64 = transaction
                .query_one(
                    "SELECT coalesce(max(leaf_index) + 1, 0) FROM trace_log",
                    &[],
                )
                .await?
                .get(0);
            transaction
                .execute(
                    "INSERT INTO trace_log (leaf_index, leaf_hash, trace_id) VALUES ($1, $2, $3)",
                    &[&leaf_index, &completion.leaf_hash, &completion.trace_id],
                )
                .await?;
            transaction
                .execute(
                    "UPDATE traces SET state = 'complete', document = $2, event_hash_chain = $3, num_events = $4, \
                     leaf_index = $5, completed_at = $6 WHERE trace_id = $1",
                    &[
                        &completion.trace_id,
                        &completion.document,
                        &completion.event_hash_chain,
                        &to_i64(completion.num_events),
                        &leaf_index,
                        &completion.completed_at,
                    ],
                )
                .await?;
            transaction
                .execute(
                    "DELETE FROM trace_events WHERE trace_id = $1",
                    &[&completion.trace_id],
                )
                .await?;
            if let Some(job) = &completion.job {
                super::jobs::enqueue(&transaction, &completion.trace_id, job).await?;
            }
            CompleteOutcome::Complete {
                leaf_index: to_u64(leaf_index),
                already: false,
            }
        }
    };
    transaction.commit().await?;
    Ok(outcome)
}

pub(super) async fn add_artifact(
    client: &mut Object,
    trace_id: &str,
    sha256: &str,
    size: u64,
) -> Result<Option<String>, StorageError> {
    let transaction = client.transaction().await?;
    let state: Option<String> = transaction
        .query_opt(
            "SELECT state FROM traces WHERE trace_id = $1 FOR SHARE",
            &[&trace_id],
        )
        .await?
        .map(|row| row.get(0));
    if state.as_deref() == Some("open") {
        transaction
            .execute(
                "INSERT INTO trace_artifacts (trace_id, sha256, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&trace_id, &sha256, &to_i64(size)],
            )
            .await?;
    }
    transaction.commit().await?;
    Ok(state)
}

pub(super) async fn artifacts(
    client: &Object,
    trace_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(client
        .query(
            "SELECT sha256 FROM trace_artifacts WHERE trace_id = $1 ORDER BY sha256",
            &[&trace_id],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect())
}

pub(super) async fn leaves(client: &Object, from: u64) -> Result<Vec<String>, StorageError> {
    Ok(client
        .query(
            "SELECT leaf_hash FROM trace_log WHERE leaf_index >= $1 ORDER BY leaf_index",
            &[&to_i64(from)],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect())
}

/// Removes the content of the traces whose ids `select` returns (one
/// parameter), keeping each as a `deleted` row and its leaf.
async fn delete_where(
    client: &mut Object,
    select: &str,
    parameter: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<TracesDeleted, StorageError> {
    let transaction = client.transaction().await?;
    let ids: Vec<String> = transaction
        .query(select, &[parameter])
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    if ids.is_empty() {
        return Ok(TracesDeleted::default());
    }
    for table in [
        "trace_events",
        "trace_chunks",
        "trace_idempotency",
        "qa_jobs",
    ] {
        transaction
            .execute(
                &format!("DELETE FROM {table} WHERE trace_id = ANY($1)"),
                &[&ids],
            )
            .await?;
    }
    let mut candidates: Vec<String> = transaction
        .query(
            "DELETE FROM trace_artifacts WHERE trace_id = ANY($1) RETURNING sha256",
            &[&ids],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    candidates.sort();
    candidates.dedup();
    transaction
        .execute(
            "UPDATE traces SET state = 'deleted', participant_id = NULL, header = NULL, document = NULL \
             WHERE trace_id = ANY($1)",
            &[&ids],
        )
        .await?;
    let still_used: std::collections::HashSet<String> = transaction
        .query(
            "SELECT DISTINCT sha256 FROM trace_artifacts WHERE sha256 = ANY($1)",
            &[&candidates],
        )
        .await?
        .into_iter()
        .map(|row| row.get(0))
        .collect();
    transaction.commit().await?;
    Ok(TracesDeleted {
        traces: ids.len() as u64,
        orphaned_artifacts: candidates
            .into_iter()
            .filter(|sha| !still_used.contains(sha))
            .collect(),
    })
}

pub(super) async fn delete_participant(
    client: &mut Object,
    participant_id: &str,
) -> Result<TracesDeleted, StorageError> {
    delete_where(
        client,
        "SELECT trace_id FROM traces WHERE state <> 'deleted' AND participant_id = $1 FOR UPDATE",
        &participant_id,
    )
    .await
}

pub(super) async fn delete_created_before(
    client: &mut Object,
    cutoff: i64,
    idempotency_cutoff: i64,
) -> Result<TracesDeleted, StorageError> {
    client
        .execute(
            "DELETE FROM trace_idempotency WHERE created_at < $1",
            &[&idempotency_cutoff],
        )
        .await?;
    delete_where(
        client,
        "SELECT trace_id FROM traces WHERE state <> 'deleted' AND created_at < $1 FOR UPDATE",
        &cutoff,
    )
    .await
}
