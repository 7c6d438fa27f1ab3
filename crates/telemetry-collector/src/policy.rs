//! Every limit the collector applies, in one place: the router, the body
//! reader and the storage writer read them from here.

use std::time::Duration;

/// The largest request body accepted as sent (compressed or not): the size
/// PostHog's own clients aim for (`posthog-python`'s `BATCH_SIZE_LIMIT`),
/// and the size `telemetry-posthog` and the registry sink keep to.
pub const MAX_BODY_BYTES: usize = 5 << 20;

/// The largest body accepted after gzip is undone. A body that inflates
/// past it is refused after reading at most this many bytes of it, so a
/// gzip bomb costs the server this much memory and no more.
pub const MAX_DECOMPRESSED_BYTES: usize = 20 << 20;

/// The largest single event, as JSON.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The most events one request may carry.
pub const MAX_EVENTS_PER_REQUEST: usize = 10_000;

/// What a 429 or 503 answers in `Retry-After` when nothing better is known.
pub const RETRY_AFTER_OVERLOADED: Duration = Duration::from_secs(1);

/// A request body must arrive within this long, else 408: a client that
/// trickles its body does not hold one of `max_in_flight` slots for longer.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// After SIGTERM, requests in flight get this long to finish; then the
/// server stops waiting for them and closes the storage, which commits
/// what was handed to it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The largest `retention_days` taken (about 27 years).
pub const MAX_RETENTION_DAYS: u32 = 10_000;

/// The SQLite writer takes at most this many rows into one group commit.
pub const MAX_GROUP_COMMIT_ROWS: usize = 50_000;

/// How often, at most, the SQLite checkpointer copies the WAL into the
/// database (after a commit).
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// A SQLite WAL this large is checkpointed by the writer itself.
pub const MAX_WAL_BYTES: u64 = 256 << 20;

/// Requests waiting for the SQLite writer, at most; past it a request is
/// answered 503 rather than queued without bound.
pub const WRITER_QUEUE_REQUESTS: usize = 4096;

/// The time idle rate-limit state is kept and how often it is swept.
pub const RATE_LIMIT_SWEEP: Duration = Duration::from_secs(10);

/// The longest text kept from a store or parse error in an answer.
pub const MAX_REASON_CHARS: usize = 300;

/// The longest `Idempotency-Key` taken.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// How long an `Idempotency-Key` is remembered with its answer (the
/// reference design's 24 hours); a chunk sent again later is still stored
/// once, under its `chunk_seq`, and answered as duplicates.
pub const IDEMPOTENCY_KEEP: Duration = Duration::from_secs(24 * 3600);

/// The most missing event seqs an answer lists.
pub const MAX_MISSING_SEQS_SHOWN: usize = 1000;

/// Where the limits are stated in a 413 answer.
#[must_use]
pub fn limits_sentence() -> String {
    format!(
        "a request may be at most {MAX_BODY_BYTES} bytes as sent and {MAX_DECOMPRESSED_BYTES} bytes decompressed, and each event at most {MAX_EVENT_BYTES} bytes"
    )
}
