//! The QA jobs on SQLite: every change is an `IMMEDIATE` transaction, so a
//! claim holds the database's one writer lock, in this process and in any
//! other on the same file (`telemetry-collector worker`).

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::storage::StorageError;
use crate::storage::jobs::{
    Claim, ClaimedJob, JobEnd, JobRow, LEASE_EXPIRED, NewJob, TraceFilter, TraceSummary, state,
};
use crate::storage::traces::to_u64;

/// Enqueues a completed trace's job, inside the completing transaction.
pub(super) fn enqueue(
    connection: &Connection,
    trace_id: &str,
    job: &NewJob,
) -> Result<(), rusqlite::Error> {
    connection.execute(
        "INSERT INTO qa_jobs (trace_id, state, attempts, max_attempts, run_after, request, enqueued_at, updated_at) \
         VALUES (?1, 'queued', 0, ?2, ?3, ?4, ?3, ?3) ON CONFLICT DO NOTHING",
        params![trace_id, job.max_attempts, job.now_ms, job.request],
    )?;
    Ok(())
}

pub(super) fn claim(
    connection: &mut Connection,
    claim: &Claim,
) -> Result<Option<ClaimedJob>, StorageError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute(
        "UPDATE qa_jobs SET state = 'failed', reason = ?2, lease_until = NULL, worker = NULL, updated_at = ?1 \
         WHERE state = 'running' AND lease_until < ?1 AND attempts >= max_attempts",
        params![claim.now_ms, LEASE_EXPIRED],
    )?;
    let claimed = transaction
        .query_row(
            "UPDATE qa_jobs SET state = 'running', attempts = attempts + 1, lease_until = ?1 + ?2, worker = ?3, \
             reason = CASE WHEN state = 'running' THEN ?4 ELSE reason END, updated_at = ?1 \
             WHERE trace_id = (SELECT trace_id FROM qa_jobs \
                 WHERE (state = 'queued' AND run_after <= ?1) OR (state = 'running' AND lease_until < ?1) \
                 ORDER BY run_after, trace_id LIMIT 1) \
             RETURNING trace_id, attempts, max_attempts, request",
            params![claim.now_ms, claim.lease_ms, claim.worker, LEASE_EXPIRED],
            |row| {
                Ok(ClaimedJob {
                    trace_id: row.get(0)?,
                    attempt: row.get(1)?,
                    max_attempts: row.get(2)?,
                    request: row.get(3)?,
                })
            },
        )
        .optional()?;
    transaction.commit()?;
    Ok(claimed)
}

pub(super) fn renew(
    connection: &mut Connection,
    trace_id: &str,
    worker: &str,
    lease_until_ms: i64,
) -> Result<bool, StorageError> {
    let changed = connection.execute(
        "UPDATE qa_jobs SET lease_until = ?3 WHERE trace_id = ?1 AND worker = ?2 AND state = 'running'",
        params![trace_id, worker, lease_until_ms],
    )?;
    Ok(changed == 1)
}

pub(super) fn end(
    connection: &mut Connection,
    trace_id: &str,
    worker: &str,
    end: &JobEnd,
    now_ms: i64,
) -> Result<bool, StorageError> {
    const HELD: &str = "WHERE trace_id = ?1 AND worker = ?2 AND state = 'running'";
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = match end {
        JobEnd::Done {
            result,
            verified,
            overall,
            artifacts,
        } => {
            let changed = transaction.execute(
                &format!(
                    "UPDATE qa_jobs SET state = 'done', result = ?3, verified = ?4, overall = ?5, reason = NULL, \
                     lease_until = NULL, worker = NULL, updated_at = ?6 {HELD}"
                ),
                params![trace_id, worker, result, verified, overall, now_ms],
            )?;
            if changed == 1 {
                for (sha256, size) in artifacts {
                    transaction.execute(
                        "INSERT INTO trace_artifacts (trace_id, sha256, size) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                        params![trace_id, sha256, i64::try_from(*size).unwrap_or(i64::MAX)],
                    )?;
                }
            }
            changed
        }
        JobEnd::Retry {
            reason,
            run_after_ms,
        } => transaction.execute(
            &format!(
                "UPDATE qa_jobs SET state = 'queued', reason = ?3, run_after = ?4, lease_until = NULL, \
                 worker = NULL, updated_at = ?5 {HELD}"
            ),
            params![trace_id, worker, reason, run_after_ms, now_ms],
        )?,
        JobEnd::Failed { reason } => transaction.execute(
            &format!(
                "UPDATE qa_jobs SET state = 'failed', reason = ?3, lease_until = NULL, worker = NULL, \
                 updated_at = ?4 {HELD}"
            ),
            params![trace_id, worker, reason, now_ms],
        )?,
    };
    transaction.commit()?;
    Ok(changed == 1)
}

fn job_row(row: &Row<'_>) -> Result<(JobRow, String), rusqlite::Error> {
    Ok((
        JobRow {
            trace_id: row.get(0)?,
            state: telemetry_trace::JobState::Queued,
            attempts: row.get(2)?,
            max_attempts: row.get(3)?,
            reason: row.get(4)?,
            result: row.get(5)?,
            enqueued_at_ms: row.get(6)?,
            updated_at_ms: row.get(7)?,
        },
        row.get(1)?,
    ))
}

pub(super) fn get(connection: &Connection, trace_id: &str) -> Result<Option<JobRow>, StorageError> {
    let found = connection
        .prepare_cached(
            "SELECT trace_id, state, attempts, max_attempts, reason, result, enqueued_at, updated_at \
             FROM qa_jobs WHERE trace_id = ?1",
        )?
        .query_row(params![trace_id], job_row)
        .optional()?;
    found
        .map(|(mut job, name)| {
            job.state = state(&name)?;
            Ok(job)
        })
        .transpose()
}

pub(super) fn list(
    connection: &Connection,
    filter: &TraceFilter,
) -> Result<Vec<TraceSummary>, StorageError> {
    let rows = connection
        .prepare_cached(
            "SELECT t.trace_id, t.state, t.header, t.created_at, t.num_events, j.state, j.verified, j.overall \
             FROM traces t LEFT JOIN qa_jobs j ON j.trace_id = t.trace_id \
             WHERE t.state != 'deleted' \
               AND (?1 IS NULL OR j.verified = ?1) \
               AND (?2 IS NULL OR j.overall >= ?2) \
               AND (?3 IS NULL OR j.overall <= ?3) \
               AND (?4 IS NULL OR t.created_at >= ?4) \
               AND (?5 IS NULL OR t.created_at < ?5) \
             ORDER BY t.created_at DESC, t.trace_id DESC LIMIT ?6",
        )?
        .query_map(
            params![
                filter.verified,
                filter.min_score,
                filter.max_score,
                filter.created_from,
                filter.created_to,
                filter.limit
            ],
            |row| {
                Ok((
                    TraceSummary {
                        trace_id: row.get(0)?,
                        state: row.get(1)?,
                        header: row.get(2)?,
                        created_at: row.get(3)?,
                        num_events: row.get::<_, Option<i64>>(4)?.map(to_u64),
                        job_state: None,
                        verified: row.get(6)?,
                        overall: row.get(7)?,
                    },
                    row.get::<_, Option<String>>(5)?,
                ))
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(mut summary, job)| {
            summary.job_state = job.as_deref().map(state).transpose()?;
            Ok(summary)
        })
        .collect()
}
