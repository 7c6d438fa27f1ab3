//! Every limit of the queue and of delivery, in one place (as glean's
//! `upload/policy.rs` keeps them): what the queue holds, how big a line may
//! be, how fast the writer takes events, how batches are sized and retried.
//! Sinks add the limits of their own wire format (PostHog's request and
//! event sizes live with its wire format, in `telemetry-posthog`).
//!
//! The backoff is written here rather than taken from a crate: it is one
//! formula (`initial × 2^retry × (1 + jitter)`, capped), and the courier
//! needs it to honour `Retry-After` and a deadline, which the backoff crates
//! would wrap rather than replace.

use std::time::Duration;

/// The queue's default byte bound: 8 MiB.
pub const QUEUE_MAX_BYTES: u64 = 8 << 20;
/// The queue's default age bound: 30 days.
pub const QUEUE_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The default size at which the queue starts a new segment: 1 MiB.
pub const SEGMENT_BYTES: u64 = 1 << 20;
/// The longest queue line read back, in bytes: 1 MiB. A longer line is
/// skipped and counted as corrupt.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The smallest queue bound a configuration may set: 64 KiB.
pub const MIN_QUEUE_BYTES: u64 = 64 << 10;
/// The dead-letter file stops growing at this size; later rejected envelopes
/// are only counted.
pub const DEAD_LETTER_MAX_BYTES: u64 = 8 << 20;

/// How many captured events may wait for the writer thread before new ones
/// are dropped and counted: 16,384, which at a quarter of a million events
/// a second is 65 ms, longer than a commit waits on a busy disk (the durable
/// write of an eviction's count, while the kernel writes back what the
/// writer wrote). The channel's slots are allocated when telemetry starts
/// recording, well under a mebibyte; the lines in them are only what waits.
pub const CHANNEL_CAPACITY: usize = 16_384;
/// The most events the writer appends in one group commit.
pub const WRITER_MAX_BATCH: usize = 4096;
/// A commit of the writer takes the events that arrive within this long of
/// its first (see `WRITER_MAX_BATCH`): 5 ms, which under load makes
/// commits of thousands of events and costs a quiet application nothing.
pub const WRITER_GATHER: Duration = Duration::from_millis(5);
/// While it gathers, the writer looks at the channel this often (1 ms)
/// instead of waking for every event: at a million events a second, a
/// step fills a quarter of the default channel.
pub const WRITER_GATHER_STEP: Duration = Duration::from_millis(1);
/// While the courier is delivering, the writer holds a batch that would
/// take the queue past its byte bound until an acknowledgement makes room;
/// it stops holding when the courier reports nothing for this long: 1 s.
pub const WRITER_MAX_HOLD: Duration = Duration::from_secs(1);
/// What the writer appends is synced to disk within this long (and at every
/// flush): 1 s, the most that a power cut can take of what was written and
/// not flushed. A crash of the process takes none of it.
pub const WRITER_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// `build` waits at most this long for another process's lock on the
/// settings or the queue; past it, telemetry is off for this run and
/// `problems()` says why.
pub const BUILD_LOCK_WAIT: Duration = Duration::from_millis(50);

/// Dropping the last handle without `shutdown` writes what was captured,
/// and sends what it can, for at most this long.
pub const DROP_DEADLINE: Duration = Duration::from_secs(1);

/// Envelopes per delivered batch.
pub const BATCH_SIZE: usize = 10;
/// Whatever is queued is sent at least this often.
pub const BATCH_INTERVAL: Duration = Duration::from_secs(60);
/// Retries of one batch after its first attempt.
pub const MAX_RETRIES: u32 = 3;
/// The first wait before a retry lies between this and twice this.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// No wait between retries is longer, except one the server asked for.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest `Retry-After` a sink honours; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What a sink keeps of a server's answer, in characters, for logs, errors
/// and the dead-letter file (see [`sink::http::shown_answer`](crate::sink::http::shown_answer)).
pub const MAX_ANSWER_CHARS: usize = 300;
/// What a sink reads of a server's answer, in bytes: 64 KiB.
pub const MAX_ANSWER_BYTES: u64 = 64 << 10;

/// How a sink wants to be fed; see [`Sink::delivery`](crate::sink::Sink::delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryConfig {
    /// Envelopes per batch; a batch goes out as soon as this many are queued
    /// (default [`BATCH_SIZE`]).
    pub batch_size: usize,
    /// Whatever is queued goes out at least this often (default [`BATCH_INTERVAL`], 60 s).
    pub interval: Duration,
    /// Retries of one batch.
    pub retry: RetryPolicy,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            batch_size: BATCH_SIZE,
            interval: BATCH_INTERVAL,
            retry: RetryPolicy::default(),
        }
    }
}

impl DeliveryConfig {
    /// Sets the batch size (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets the interval.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// Retries of one batch after transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3: at most 4 attempts).
    pub max_retries: u32,
    /// The first wait lies between this and twice this (default 0.5 s).
    pub initial_backoff: Duration,
    /// No wait is longer, except one the server asked for with
    /// `Retry-After` (default 5 minutes).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: MAX_RETRIES,
            initial_backoff: INITIAL_BACKOFF,
            max_backoff: MAX_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// A policy of `max_retries` retries, waiting from `initial_backoff` up to
    /// `max_backoff`.
    #[must_use]
    pub fn new(max_retries: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_retries,
            initial_backoff,
            max_backoff: max_backoff.max(initial_backoff),
        }
    }

    /// The wait before retry number `retry` (0 for the first), for a
    /// `jitter` in `[0, 1)`: `initial_backoff × 2^retry × (1 + jitter)`,
    /// capped at `max_backoff`.
    #[must_use]
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1_u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        base.mul_f64(1.0 + jitter.clamp(0.0, 1.0))
            .min(self.max_backoff)
    }
}

/// A uniform number in `[0, 1)` for backoff jitter; 0.5 if the system has no
/// randomness to give.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0_u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    // 53 random bits, scaled into [0, 1): every value is exact in an f64.
    #[allow(clippy::cast_precision_loss, reason = "53 bits fit an f64 exactly")]
    let value = (u64::from_le_bytes(bytes) >> 11) as f64;
    value * f64::EPSILON / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_wait_is_between_half_a_second_and_a_second_and_doubles() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(0, 0.0), Duration::from_millis(500));
        let longest = policy.backoff(0, 0.999_999);
        assert!(longest > Duration::from_millis(999) && longest < Duration::from_secs(1));
        assert_eq!(policy.backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 0.0), Duration::from_secs(4));
    }

    #[test]
    fn waits_are_capped_at_five_minutes_even_after_many_retries() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(9, 0.0), Duration::from_secs(256));
        assert_eq!(policy.backoff(10, 0.0), Duration::from_secs(300));
        assert_eq!(policy.backoff(u32::MAX, 0.9), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let value = jitter();
            assert!((0.0..1.0).contains(&value), "{value}");
        }
    }
}
