//! The queue's plain types: its configuration and what its operations
//! report.

use std::path::PathBuf;
use std::time::Duration;

use super::state::Position;
use super::{Counters, Envelope, QueueError, QueueProblem};
use crate::Timestamp;
use crate::policy;

/// Where the queue lives and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// The queue directory, created (owner-only on Unix) if missing.
    pub dir: PathBuf,
    /// The most bytes of segments to keep; the oldest segments are dropped
    /// beyond it. Default [`Self::DEFAULT_MAX_BYTES`].
    pub max_bytes: u64,
    /// The oldest envelope worth keeping; segments whose newest envelope is
    /// older are dropped. Default [`Self::DEFAULT_MAX_AGE`].
    pub max_age: Duration,
    /// The size at which appends move on to a new segment: a batch goes to a
    /// new segment when it would take the current one past this size. Default
    /// [`Self::DEFAULT_SEGMENT_BYTES`].
    pub segment_bytes: u64,
}

impl QueueConfig {
    /// 8 MiB ([`policy::QUEUE_MAX_BYTES`]).
    pub const DEFAULT_MAX_BYTES: u64 = policy::QUEUE_MAX_BYTES;
    /// 30 days ([`policy::QUEUE_MAX_AGE`]).
    pub const DEFAULT_MAX_AGE: Duration = policy::QUEUE_MAX_AGE;
    /// 1 MiB ([`policy::SEGMENT_BYTES`]).
    pub const DEFAULT_SEGMENT_BYTES: u64 = policy::SEGMENT_BYTES;

    /// A queue in `dir` with the default bounds. Change them with struct
    /// update syntax: `QueueConfig { max_bytes: 1 << 20, ..QueueConfig::new(dir) }`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_age: Self::DEFAULT_MAX_AGE,
            segment_bytes: Self::DEFAULT_SEGMENT_BYTES,
        }
    }

    pub(super) fn validate(&self) -> Result<(), QueueError> {
        let reason = if self.segment_bytes == 0 {
            "segment_bytes must be at least 1"
        } else if self.max_bytes < self.segment_bytes {
            "max_bytes must be at least segment_bytes"
        } else if self.max_age.is_zero() {
            "max_age must not be zero"
        } else {
            return Ok(());
        };
        Err(QueueError::InvalidConfig {
            dir: self.dir.clone(),
            reason,
        })
    }
}

/// What [`Queue::append`](super::Queue::append) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppendReport {
    /// Envelopes written.
    pub appended: usize,
    /// Bytes written, newlines included.
    pub bytes_written: u64,
    /// Envelopes not written because their line would be longer than 1 MiB;
    /// counted in [`Counters::DROPPED_OVERSIZED`].
    pub dropped_oversized: usize,
    /// Whether a torn last line (left by a crash) was cut off before writing.
    pub torn_tail_removed: bool,
    /// Unacknowledged envelopes the bounds dropped after writing.
    pub dropped_by_bounds: u64,
    /// Segments the bounds dropped after writing.
    pub segments_dropped: usize,
    /// The segment file the batch went to, when anything was written.
    pub segment: Option<PathBuf>,
    /// Bytes of segment files once the bounds were enforced (what
    /// [`QueueConfig::max_bytes`] bounds).
    pub queue_bytes: u64,
    /// Problems found and worked around.
    pub problems: Vec<QueueProblem>,
}

/// What [`Queue::read_all`](super::Queue::read_all) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadReport {
    /// The unacknowledged envelopes, oldest first.
    pub envelopes: Vec<Envelope>,
    /// Torn or corrupt lines skipped.
    pub skipped_lines: usize,
    /// Problems found (a corrupt cursor reads as the start of the queue).
    pub problems: Vec<QueueProblem>,
}

/// The oldest unacknowledged envelopes, from [`Queue::peek`](super::Queue::peek), to deliver and
/// then [`ack`](super::Queue::ack).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The envelopes, oldest first.
    pub envelopes: Vec<Envelope>,
    /// Torn or corrupt lines among them, skipped; acknowledging the batch
    /// moves past them too.
    pub skipped_lines: usize,
    pub(super) start: Position,
    pub(super) end: Position,
}

impl Batch {
    /// The number of envelopes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    /// Whether acknowledging the batch would change nothing: no envelopes and
    /// no skipped lines. A batch with skipped lines only is worth
    /// acknowledging, to move past them.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// The state of the queue, from [`Queue::stats`](super::Queue::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// Unacknowledged envelopes.
    pub events: usize,
    /// Bytes of segment files on disk (what [`QueueConfig::max_bytes`]
    /// bounds), including acknowledged lines of a partly acknowledged segment.
    pub bytes: u64,
    /// Segment files.
    pub segments: usize,
    /// The earliest timestamp among the unacknowledged envelopes.
    pub oldest: Option<Timestamp>,
    /// The latest timestamp among the unacknowledged envelopes.
    pub newest: Option<Timestamp>,
    /// Torn or corrupt unacknowledged lines.
    pub skipped_lines: usize,
    /// The persisted counters.
    pub counters: Counters,
    /// Problems found (corrupt cursor or counters file).
    pub problems: Vec<QueueProblem>,
}
