//! The QA pipeline's jobs, as the storage keeps them: one per completed
//! trace, enqueued in the transaction that completes it (so a trace the
//! collector acknowledged as complete always has its job), claimed by one
//! worker at a time under a lease, and retried with backoff.
//!
//! - **Claim.** PostgreSQL takes the next due job with `FOR UPDATE SKIP
//!   LOCKED`, so workers in any number of processes never wait on one
//!   another's rows; SQLite has one writer at a time (`BEGIN IMMEDIATE`), so
//!   a claim is a single-writer transaction across processes.
//! - **Lease.** A claimed job carries `lease_until`; its worker renews it
//!   while it works. A job whose lease expired (its worker died) is claimed
//!   again, and counts the lost attempt; one whose last attempt was lost is
//!   failed with that reason.
//! - **Ends.** Only the worker holding the lease may end a job: done with its
//!   results, queued again after a backoff, or failed with a reason. An end
//!   from a worker that lost its lease changes nothing.

use telemetry_trace::JobState;

/// A job to enqueue with a completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The `CompleteTrace` body, JSON.
    pub request: String,
    /// Attempts it may take in all.
    pub max_attempts: u32,
    /// Unix milliseconds.
    pub now_ms: i64,
}

/// A worker asking for the next due job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The worker, unique among those running.
    pub worker: String,
    /// Unix milliseconds.
    pub now_ms: i64,
    /// How long the lease lasts unless renewed, milliseconds.
    pub lease_ms: i64,
}

/// A job a worker now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The trace.
    pub trace_id: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Attempts it may take in all.
    pub max_attempts: u32,
    /// The `CompleteTrace` body, JSON.
    pub request: String,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// The trace.
    pub trace_id: String,
    /// Its state; `running` with an expired lease is shown as it is stored.
    pub state: JobState,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts it may take in all.
    pub max_attempts: u32,
    /// Why the last attempt failed.
    pub reason: Option<String>,
    /// The `Qa` (validation, judge), JSON, once done.
    pub result: Option<String>,
    /// Unix milliseconds.
    pub enqueued_at_ms: i64,
    /// Unix milliseconds.
    pub updated_at_ms: i64,
}

/// How a worker ends the attempt it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// Validated and judged.
    Done {
        /// The `Qa`, JSON.
        result: String,
        /// The validation's `tests_passed`, when the tests ran.
        verified: Option<bool>,
        /// The rubric's overall score, when judged.
        overall: Option<f64>,
        /// Blobs the results refer to (the test log), by SHA-256 and size:
        /// recorded as the trace's artifacts with the end, so that deleting
        /// the trace removes them.
        artifacts: Vec<(String, u64)>,
    },
    /// Queued again, not to be claimed before `run_after_ms`.
    Retry {
        /// Why this attempt failed.
        reason: String,
        /// Unix milliseconds.
        run_after_ms: i64,
    },
    /// Given up on.
    Failed {
        /// Why.
        reason: String,
    },
}

/// Which traces a list shows: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilter {
    /// Whether its fix was verified (traces not validated match neither).
    pub verified: Option<bool>,
    /// Overall score at least this.
    pub min_score: Option<f64>,
    /// Overall score at most this.
    pub max_score: Option<f64>,
    /// Created at or after, Unix seconds.
    pub created_from: Option<i64>,
    /// Created before, Unix seconds.
    pub created_to: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// A trace in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    /// The trace.
    pub trace_id: String,
    /// `open` or `complete`.
    pub state: String,
    /// The `CreateTrace` body as kept, JSON (task, repository).
    pub header: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Events, once complete.
    pub num_events: Option<u64>,
    /// Its QA job's state, once complete.
    pub job_state: Option<JobState>,
    /// Whether its fix was verified, once validated.
    pub verified: Option<bool>,
    /// Its overall score, once judged.
    pub overall: Option<f64>,
}

/// What a failed attempt's reason says when its worker stopped holding it.
pub(super) const LEASE_EXPIRED: &str =
    "the worker running the last attempt stopped before it ended (its lease expired)";

/// A stored state name as a [`JobState`].
pub(super) fn state(name: &str) -> Result<JobState, super::StorageError> {
    JobState::parse(name)
        .ok_or_else(|| super::StorageError::Corrupt(format!("qa_jobs.state is `{name}`")))
}
