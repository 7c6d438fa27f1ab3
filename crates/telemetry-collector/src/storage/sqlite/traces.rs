//! The trace tables on SQLite. Writes run on the writer thread, each in its
//! own `BEGIN IMMEDIATE` transaction; reads on the reader's connection.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::storage::StorageError;
use crate::storage::traces::{
    ChunkCounts, ChunkOutcome, ChunkWrite, CompleteOutcome, Completion, NewTrace, TraceRow,
    TracesDeleted, UploadProgress, to_i64, to_u64,
};

pub(super) fn create(connection: &mut Connection, trace: &NewTrace) -> Result<(), StorageError> {
    connection.execute(
        "INSERT INTO traces (trace_id, participant_id, state, header, created_at) VALUES (?1, ?2, 'open', ?3, ?4)",
        params![trace.trace_id, trace.participant_id, trace.header, trace.created_at],
    )?;
    Ok(())
}

fn state(connection: &Connection, trace_id: &str) -> Result<Option<String>, rusqlite::Error> {
    connection
        .query_row(
            "SELECT state FROM traces WHERE trace_id = ?1",
            params![trace_id],
            |row| row.get(0),
        )
        .optional()
}

pub(super) fn ingest(
    connection: &mut Connection,
    chunk: ChunkWrite,
) -> Result<ChunkOutcome, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcome = (|| -> Result<ChunkOutcome, rusqlite::Error> {
        let known: Option<(String, String)> = transaction
            .query_row(
                "SELECT request_sha256, answer FROM trace_idempotency WHERE trace_id = ?1 AND key = ?2",
                params![chunk.trace_id, chunk.idempotency_key],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((request, answer)) = known {
            return Ok(if request == chunk.request_sha256 {
                ChunkOutcome::Replayed(answer)
            } else {
                ChunkOutcome::KeyReused
            });
        }
        match state(&transaction, &chunk.trace_id)?.as_deref() {
            None => return Ok(ChunkOutcome::Unknown),
            Some("open") => {}
            Some(other) => return Ok(ChunkOutcome::NotOpen(other.to_owned())),
        }
        let stored_chunk: Option<String> = transaction
            .query_row(
                "SELECT chunk_sha256 FROM trace_chunks WHERE trace_id = ?1 AND chunk_seq = ?2",
                params![chunk.trace_id, to_i64(chunk.chunk_seq)],
                |row| row.get(0),
            )
            .optional()?;
        match stored_chunk {
            Some(stored) if stored != chunk.request_sha256 => {
                return Ok(ChunkOutcome::ChunkConflict);
            }
            Some(_) => {}
            None => {
                transaction.execute(
                    "INSERT INTO trace_chunks (trace_id, chunk_seq, chunk_sha256, received_at) VALUES (?1, ?2, ?3, ?4)",
                    params![chunk.trace_id, to_i64(chunk.chunk_seq), chunk.request_sha256, chunk.received_at],
                )?;
            }
        }
        let mut counts = ChunkCounts {
            accepted: 0,
            duplicates: 0,
        };
        {
            let mut find = transaction
                .prepare_cached("SELECT hash FROM trace_events WHERE trace_id = ?1 AND seq = ?2")?;
            let mut insert = transaction.prepare_cached(
                "INSERT INTO trace_events (trace_id, seq, hash, body) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for event in &chunk.events {
                let seq = to_i64(event.seq);
                let stored: Option<String> = find
                    .query_row(params![chunk.trace_id, seq], |row| row.get(0))
                    .optional()?;
                match stored {
                    Some(hash) if hash == event.hash => counts.duplicates += 1,
                    Some(_) => return Ok(ChunkOutcome::EventConflict(event.seq)),
                    None => {
                        insert.execute(params![chunk.trace_id, seq, event.hash, event.body])?;
                        counts.accepted += 1;
                    }
                }
            }
        }
        let answer = (chunk.answer)(counts);
        transaction.execute(
            "INSERT INTO trace_idempotency (trace_id, key, request_sha256, answer, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![chunk.trace_id, chunk.idempotency_key, chunk.request_sha256, answer, chunk.received_at],
        )?;
        Ok(ChunkOutcome::Stored(answer))
    })()?;
    // A refusal stores nothing: only a stored chunk commits.
    if matches!(outcome, ChunkOutcome::Stored(_)) {
        transaction.commit()?;
    }
    Ok(outcome)
}

pub(super) fn get(
    connection: &Connection,
    trace_id: &str,
) -> Result<Option<TraceRow>, StorageError> {
    Ok(connection
        .query_row(
            "SELECT trace_id, state, participant_id, header, document, event_hash_chain, num_events, leaf_index, created_at \
             FROM traces WHERE trace_id = ?1",
            params![trace_id],
            |row| {
                Ok(TraceRow {
                    trace_id: row.get(0)?,
                    state: row.get(1)?,
                    participant_id: row.get(2)?,
                    header: row.get(3)?,
                    document: row.get(4)?,
                    event_hash_chain: row.get(5)?,
                    num_events: row.get::<_, Option<i64>>(6)?.map(to_u64),
                    leaf_index: row.get::<_, Option<i64>>(7)?.map(to_u64),
                    created_at: row.get(8)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn progress(
    connection: &Connection,
    trace_id: &str,
) -> Result<UploadProgress, StorageError> {
    let seqs = |sql: &str| -> Result<Vec<u64>, rusqlite::Error> {
        connection
            .prepare_cached(sql)?
            .query_map(params![trace_id], |row| row.get::<_, i64>(0).map(to_u64))?
            .collect()
    };
    Ok(UploadProgress {
        chunk_seqs: seqs(
            "SELECT chunk_seq FROM trace_chunks WHERE trace_id = ?1 ORDER BY chunk_seq",
        )?,
        event_seqs: seqs("SELECT seq FROM trace_events WHERE trace_id = ?1 ORDER BY seq")?,
    })
}

pub(super) fn events(connection: &Connection, trace_id: &str) -> Result<Vec<String>, StorageError> {
    Ok(connection
        .prepare_cached("SELECT body FROM trace_events WHERE trace_id = ?1 ORDER BY seq")?
        .query_map(params![trace_id], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Whether the trace's stored events are the ones `completion` was made
/// from: as many, and the last with its head.
fn unchanged(connection: &Connection, completion: &Completion) -> Result<bool, rusqlite::Error> {
    let (count, last): (i64, Option<String>) = connection.query_row(
        "SELECT count(*), (SELECT hash FROM trace_events WHERE trace_id = ?1 ORDER BY seq DESC LIMIT 1) \
         FROM trace_events WHERE trace_id = ?1",
        params![completion.trace_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(to_u64(count) == completion.num_events
        && (completion.num_events == 0
            || last.as_deref() == Some(completion.event_hash_chain.as_str())))
}

pub(super) fn complete(
    connection: &mut Connection,
    completion: &Completion,
) -> Result<CompleteOutcome, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: Option<(String, Option<i64>)> = transaction
        .query_row(
            "SELECT state, leaf_index FROM traces WHERE trace_id = ?1",
            params![completion.trace_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let outcome = match found {
        None => CompleteOutcome::Unknown,
        Some((state, _)) if state == "deleted" => CompleteOutcome::Deleted,
        Some((state, Some(leaf_index))) if state == "complete" => CompleteOutcome::Complete {
            leaf_index: to_u64(leaf_index),
            already: true,
        },
        Some(_) if !unchanged(&transaction, completion)? => CompleteOutcome::EventsChanged,
        Some(_) => {
            let leaf_index: i64 = transaction.query_row(
                "SELECT coalesce(max(leaf_index) + 1, 0) FROM trace_log",
                [],
                |row| row.get(0),
            )?;
            transaction.execute(
                "INSERT INTO trace_log (leaf_index, leaf_hash, trace_id) VALUES (?1, ?2, ?3)",
                params![leaf_index, completion.leaf_hash, completion.trace_id],
            )?;
            transaction.execute(
                "UPDATE traces SET state = 'complete', document = ?2, event_hash_chain = ?3, num_events = ?4, \
                 leaf_index = ?5, completed_at = ?6 WHERE trace_id = ?1",
                params![
                    completion.trace_id,
                    completion.document,
                    completion.event_hash_chain,
                    to_i64(completion.num_events),
                    leaf_index,
                    completion.completed_at
                ],
            )?;
            transaction.execute(
                "DELETE FROM trace_events WHERE trace_id = ?1",
                params![completion.trace_id],
            )?;
            if let Some(job) = &completion.job {
                super::jobs::enqueue(&transaction, &completion.trace_id, job)?;
            }
            CompleteOutcome::Complete {
                leaf_index: to_u64(leaf_index),
                already: false,
            }
        }
    };
    transaction.commit()?;
    Ok(outcome)
}

pub(super) fn add_artifact(
    connection: &mut Connection,
    trace_id: &str,
    sha256: &str,
    size: u64,
) -> Result<Option<String>, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = state(&transaction, trace_id)?;
    if found.as_deref() == Some("open") {
        transaction.execute(
            "INSERT INTO trace_artifacts (trace_id, sha256, size) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![trace_id, sha256, to_i64(size)],
        )?;
    }
    transaction.commit()?;
    Ok(found)
}

pub(super) fn artifacts(
    connection: &Connection,
    trace_id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(connection
        .prepare_cached("SELECT sha256 FROM trace_artifacts WHERE trace_id = ?1 ORDER BY sha256")?
        .query_map(params![trace_id], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

pub(super) fn leaves(connection: &Connection, from: u64) -> Result<Vec<String>, StorageError> {
    Ok(connection
        .prepare_cached(
            "SELECT leaf_hash FROM trace_log WHERE leaf_index >= ?1 ORDER BY leaf_index",
        )?
        .query_map(params![to_i64(from)], |row| row.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Removes the content of the traces `which` selects (`WHERE` clause on
/// `traces`, one parameter), keeping each as a `deleted` row and its leaf.
fn delete_where(
    connection: &mut Connection,
    which: &str,
    parameter: &dyn rusqlite::ToSql,
) -> Result<TracesDeleted, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids: Vec<String> = transaction
        .prepare(&format!(
            "SELECT trace_id FROM traces WHERE state != 'deleted' AND {which}"
        ))?
        .query_map([parameter], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut candidates = Vec::new();
    for id in &ids {
        for table in [
            "trace_events",
            "trace_chunks",
            "trace_idempotency",
            "qa_jobs",
        ] {
            transaction.execute(
                &format!("DELETE FROM {table} WHERE trace_id = ?1"),
                params![id],
            )?;
        }
        let shas: Vec<String> = transaction
            .prepare_cached("DELETE FROM trace_artifacts WHERE trace_id = ?1 RETURNING sha256")?
            .query_map(params![id], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        candidates.extend(shas);
        transaction.execute(
            "UPDATE traces SET state = 'deleted', participant_id = NULL, header = NULL, document = NULL WHERE trace_id = ?1",
            params![id],
        )?;
    }
    candidates.sort();
    candidates.dedup();
    let mut orphaned = Vec::new();
    for sha in candidates {
        let used: bool = transaction.query_row(
            "SELECT EXISTS (SELECT 1 FROM trace_artifacts WHERE sha256 = ?1)",
            params![sha],
            |row| row.get(0),
        )?;
        if !used {
            orphaned.push(sha);
        }
    }
    transaction.commit()?;
    Ok(TracesDeleted {
        traces: ids.len() as u64,
        orphaned_artifacts: orphaned,
    })
}

pub(super) fn delete_participant(
    connection: &mut Connection,
    participant_id: &str,
) -> Result<TracesDeleted, StorageError> {
    delete_where(connection, "participant_id = ?1", &participant_id)
}

pub(super) fn delete_created_before(
    connection: &mut Connection,
    cutoff: i64,
    idempotency_cutoff: i64,
) -> Result<TracesDeleted, StorageError> {
    connection.execute(
        "DELETE FROM trace_idempotency WHERE created_at < ?1",
        params![idempotency_cutoff],
    )?;
    delete_where(connection, "created_at < ?1", &cutoff)
}
