//! The QA jobs on PostgreSQL: a claim takes the next due row with
//! `FOR UPDATE SKIP LOCKED`, so any number of workers, in any number of
//! processes, claim different jobs without waiting on each other.

use deadpool_postgres::Object;
use tokio_postgres::Row;

use crate::storage::StorageError;
use crate::storage::jobs::{
    Claim, ClaimedJob, JobEnd, JobRow, LEASE_EXPIRED, NewJob, TraceFilter, TraceSummary, state,
};
use crate::storage::traces::to_u64;

/// Attempts as stored (`INTEGER`).
fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A stored attempt count; never negative.
fn to_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Enqueues a completed trace's job, inside the completing transaction.
pub(super) async fn enqueue(
    transaction: &tokio_postgres::Transaction<'_>,
    trace_id: &str,
    job: &NewJob,
) -> Result<(), tokio_postgres::Error> {
    transaction
        .execute(
            "INSERT INTO qa_jobs (trace_id, state, attempts, max_attempts, run_after, request, enqueued_at, updated_at) \
             VALUES ($1, 'queued', 0, $2, $3, $4, $3, $3) ON CONFLICT DO NOTHING",
            &[&trace_id, &to_i32(job.max_attempts), &job.now_ms, &job.request],
        )
        .await?;
    Ok(())
}

pub(super) async fn claim(
    client: &mut Object,
    claim: &Claim,
) -> Result<Option<ClaimedJob>, StorageError> {
    let transaction = client.transaction().await?;
    transaction
        .execute(
            "UPDATE qa_jobs SET state = 'failed', reason = $2, lease_until = NULL, worker = NULL, updated_at = $1 \
             WHERE trace_id IN (SELECT trace_id FROM qa_jobs \
                 WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts \
                 FOR UPDATE SKIP LOCKED)",
            &[&claim.now_ms, &LEASE_EXPIRED],
        )
        .await?;
    let claimed = transaction
        .query_opt(
            "WITH next AS (SELECT trace_id, state FROM qa_jobs \
                 WHERE (state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_until < $1) \
                 ORDER BY run_after, trace_id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             UPDATE qa_jobs j SET state = 'running', attempts = j.attempts + 1, lease_until = $1 + $2, worker = $3, \
                 reason = CASE WHEN next.state = 'running' THEN $4 ELSE j.reason END, updated_at = $1 \
             FROM next WHERE j.trace_id = next.trace_id \
             RETURNING j.trace_id, j.attempts, j.max_attempts, j.request",
            &[&claim.now_ms, &claim.lease_ms, &claim.worker, &LEASE_EXPIRED],
        )
        .await?
        .map(|row| ClaimedJob {
            trace_id: row.get(0),
            attempt: to_u32(row.get(1)),
            max_attempts: to_u32(row.get(2)),
            request: row.get(3),
        });
    transaction.commit().await?;
    Ok(claimed)
}

pub(super) async fn renew(
    client: &Object,
    trace_id: &str,
    worker: &str,
    lease_until_ms: i64,
) -> Result<bool, StorageError> {
    let changed = client
        .execute(
            "UPDATE qa_jobs SET lease_until = $3 WHERE trace_id = $1 AND worker = $2 AND state = 'running'",
            &[&trace_id, &worker, &lease_until_ms],
        )
        .await?;
    Ok(changed == 1)
}

pub(super) async fn end(
    client: &mut Object,
    trace_id: &str,
    worker: &str,
    end: &JobEnd,
    now_ms: i64,
) -> Result<bool, StorageError> {
    const HELD: &str = "WHERE trace_id = $1 AND worker = $2 AND state = 'running'";
    let transaction = client.transaction().await?;
    let changed = match end {
        JobEnd::Done {
            result,
            verified,
            overall,
            artifacts,
        } => {
            let changed = transaction
                .execute(
                    &format!(
                        "UPDATE qa_jobs SET state = 'done', result = $3, verified = $4, overall = $5, reason = NULL, \
                         lease_until = NULL, worker = NULL, updated_at = $6 {HELD}"
                    ),
                    &[&trace_id, &worker, result, verified, overall, &now_ms],
                )
                .await?;
            if changed == 1 {
                for (sha256, size) in artifacts {
                    let size = i64::try_from(*size).unwrap_or(i64::MAX);
                    transaction
                        .execute(
                            "INSERT INTO trace_artifacts (trace_id, sha256, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                            &[&trace_id, sha256, &size],
                        )
                        .await?;
                }
            }
            changed
        }
        JobEnd::Retry {
            reason,
            run_after_ms,
        } => {
            transaction
                .execute(
                    &format!(
                        "UPDATE qa_jobs SET state = 'queued', reason = $3, run_after = $4, lease_until = NULL, \
                         worker = NULL, updated_at = $5 {HELD}"
                    ),
                    &[&trace_id, &worker, reason, run_after_ms, &now_ms],
                )
                .await?
        }
        JobEnd::Failed { reason } => {
            transaction
                .execute(
                    &format!(
                        "UPDATE qa_jobs SET state = 'failed', reason = $3, lease_until = NULL, worker = NULL, \
                         updated_at = $4 {HELD}"
                    ),
                    &[&trace_id, &worker, reason, &now_ms],
                )
                .await?
        }
    };
    transaction.commit().await?;
    Ok(changed == 1)
}

fn job_row(row: &Row) -> Result<JobRow, StorageError> {
    Ok(JobRow {
        trace_id: row.get(0),
        state: state(row.get(1))?,
        attempts: to_u32(row.get(2)),
        max_attempts: to_u32(row.get(3)),
        reason: row.get(4),
        result: row.get(5),
        enqueued_at_ms: row.get(6),
        updated_at_ms: row.get(7),
    })
}

pub(super) async fn get(client: &Object, trace_id: &str) -> Result<Option<JobRow>, StorageError> {
    client
        .query_opt(
            "SELECT trace_id, state, attempts, max_attempts, reason, result, enqueued_at, updated_at \
             FROM qa_jobs WHERE trace_id = $1",
            &[&trace_id],
        )
        .await?
        .as_ref()
        .map(job_row)
        .transpose()
}

pub(super) async fn list(
    client: &Object,
    filter: &TraceFilter,
) -> Result<Vec<TraceSummary>, StorageError> {
    let rows = client
        .query(
            "SELECT t.trace_id, t.state, t.header, t.created_at, t.num_events, j.state, j.verified, j.overall \
             FROM traces t LEFT JOIN qa_jobs j ON j.trace_id = t.trace_id \
             WHERE t.state <> 'deleted' \
               AND ($1::boolean IS NULL OR j.verified = $1) \
               AND ($2::double precision IS NULL OR j.overall >= $2) \
               AND ($3::double precision IS NULL OR j.overall <= $3) \
               AND ($4::bigint IS NULL OR t.created_at >= $4) \
               AND ($5::bigint IS NULL OR t.created_at < $5) \
             ORDER BY t.created_at DESC, t.trace_id DESC LIMIT $6",
            &[
                &filter.verified,
                &filter.min_score,
                &filter.max_score,
                &filter.created_from,
                &filter.created_to,
                &i64::from(filter.limit),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(TraceSummary {
                trace_id: row.get(0),
                state: row.get(1),
                header: row.get(2),
                created_at: row.get(3),
                num_events: row.get::<_, Option<i64>>(4).map(to_u64),
                job_state: row.get::<_, Option<&str>>(5).map(state).transpose()?,
                verified: row.get(6),
                overall: row.get(7),
            })
        })
        .collect()
}
