//! What the storage keeps of developer traces, in the backends' own terms
//! (strings of JSON, hex hashes): the server checks and shapes traces with
//! `telemetry-trace`; the storage keeps rows and enforces, inside one
//! transaction, the rules that must hold across requests and instances:
//!
//! - an `Idempotency-Key` is stored with the hash of its request and the
//!   answer given, in the same transaction as the chunk, so a retry with the
//!   same key and payload gets that answer byte for byte, and the same key
//!   with another payload is told so;
//! - a `chunk_seq`, and an event `seq`, is stored once per trace: the same
//!   content again is a duplicate, other content a conflict;
//! - a completed trace's leaf is appended to `trace_log` at the next index,
//!   under a lock (SQLite's writer, PostgreSQL's advisory lock), so the log
//!   has no gap and no index twice, whichever instance completes it.

/// A trace as created, before any chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrace {
    /// `trace-<uuid v7>`.
    pub trace_id: String,
    /// The pseudonymous participant.
    pub participant_id: String,
    /// The `CreateTrace` body as kept, JSON.
    pub header: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// One event of a chunk, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Its place in the trace.
    pub seq: u64,
    /// Its chain hash, as the client sent it: two events with one `seq`
    /// are the same event when their hashes are equal.
    pub hash: String,
    /// The event as kept (redacted on arrival, with `ts_server_s`), JSON.
    pub body: String,
}

/// How many of a chunk's events were new, for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkCounts {
    /// Events stored by this request.
    pub accepted: u32,
    /// Events already stored, with the same hash.
    pub duplicates: u32,
}

/// The answer to a chunk, made from its counts inside the transaction that
/// stores both.
pub type AnswerFn = Box<dyn FnOnce(ChunkCounts) -> String + Send>;

/// A chunk to store, with its idempotency key.
pub struct ChunkWrite {
    /// The trace.
    pub trace_id: String,
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// SHA-256, hex, of the chunk's `chunk_id` and `chunk_seq` (canonical
    /// JSON) followed by its events' hashes: the payload the key stands
    /// for, and the chunk's content under its `chunk_seq`.
    pub request_sha256: String,
    /// The chunk's place.
    pub chunk_seq: u64,
    /// Its events, in seq order (so that two chunks that share events lock
    /// them in one order).
    pub events: Vec<EventRow>,
    /// Unix seconds.
    pub received_at: i64,
    /// Makes the answer that is stored and sent.
    pub answer: AnswerFn,
}

impl std::fmt::Debug for ChunkWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkWrite")
            .field("trace_id", &self.trace_id)
            .field("chunk_seq", &self.chunk_seq)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

/// What storing a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored now; the answer.
    Stored(String),
    /// The key was used before with this payload: the answer given then.
    Replayed(String),
    /// The key was used before with another payload.
    KeyReused,
    /// This `chunk_seq` is stored with other content.
    ChunkConflict,
    /// An event `seq` is stored with another hash.
    EventConflict(u64),
    /// The trace is not open (`complete` or `deleted`).
    NotOpen(String),
    /// No such trace.
    Unknown,
}

/// A trace as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRow {
    /// The trace.
    pub trace_id: String,
    /// `open`, `complete` or `deleted`.
    pub state: String,
    /// The participant (`None` once deleted).
    pub participant_id: Option<String>,
    /// The `CreateTrace` body as kept (`None` once deleted).
    pub header: Option<String>,
    /// The complete trace (`None` until complete, and once deleted).
    pub document: Option<String>,
    /// The chain's head, once complete.
    pub event_hash_chain: Option<String>,
    /// Events, once complete.
    pub num_events: Option<u64>,
    /// Its leaf in the log, once complete.
    pub leaf_index: Option<u64>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Where a trace's upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadProgress {
    /// `chunk_seq`s stored, ascending.
    pub chunk_seqs: Vec<u64>,
    /// Event `seq`s stored, ascending.
    pub event_seqs: Vec<u64>,
}

/// A trace to mark complete, with its leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The trace.
    pub trace_id: String,
    /// The complete trace, JSON, without `integrity.log`.
    pub document: String,
    /// The chain's head.
    pub event_hash_chain: String,
    /// Events in it: the stored events must still be exactly these (this
    /// many, the last one's hash `event_hash_chain`), else nothing is
    /// changed and the answer is [`CompleteOutcome::EventsChanged`].
    pub num_events: u64,
    /// Its RFC 9162 leaf hash, hex.
    pub leaf_hash: String,
    /// Unix seconds.
    pub completed_at: i64,
    /// The QA job to enqueue in the same transaction, when the trace is
    /// completed now (a trace complete already keeps its job).
    pub job: Option<super::jobs::NewJob>,
}

/// What marking a trace complete did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Completed now, or before: its leaf index.
    Complete {
        /// The trace's leaf.
        leaf_index: u64,
        /// Whether it was complete already (the stored document was kept).
        already: bool,
    },
    /// The trace is deleted.
    Deleted,
    /// The stored events are no longer the ones checked (a chunk arrived
    /// meanwhile): nothing was changed; check them again.
    EventsChanged,
    /// No such trace.
    Unknown,
}

/// What a deletion removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TracesDeleted {
    /// Traces whose content was removed.
    pub traces: u64,
    /// Artifacts no trace references any more: their blobs may go.
    pub orphaned_artifacts: Vec<String>,
}

/// A count or seq as the databases store it (`INTEGER`, `BIGINT`): seqs are
/// at most 2⁵³ − 1 (validation), so nothing saturates.
pub(super) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored count or seq; never negative.
pub(super) fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
