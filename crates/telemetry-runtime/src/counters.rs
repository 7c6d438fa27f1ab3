//! What happened to captured events, counted: the handle's counters, owned
//! by the front end (`capture` bumps them, the writer adds its failures),
//! and their snapshot as the public [`CaptureCounters`].
//!
//! The writer thread takes an `Arc` of [`AtomicCounters`] and never the
//! handle, so that the worker does not depend on the front end.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of events that did not reach the queue, and of those that did.
/// Shown by `telemetry status`; persisted with the queue so that another
/// process can read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureCounters {
    /// Events handed to the writer thread.
    pub captured: u64,
    /// Events the guard refused because a value looked personal.
    pub dropped_by_guard: u64,
    /// Events dropped because the channel to the writer was full.
    pub dropped_channel_full: u64,
    /// Events the sampler dropped.
    pub dropped_by_sampler: u64,
    /// Events that failed to serialize (a `hash(scope = "app")` field without
    /// an app key).
    pub dropped_unserializable: u64,
    /// Events the writer could not append to the queue (the write failed,
    /// and nothing of their batch is on disk).
    pub dropped_write_failed: u64,
    /// Events the writer appended to the queue and synced to disk.
    pub written: u64,
    /// Events the writer did not append because their line was longer than
    /// the queue takes ([`MAX_LINE_BYTES`](crate::policy::MAX_LINE_BYTES)).
    pub dropped_oversized: u64,
}

impl CaptureCounters {
    /// What happened between `earlier` and `self`, two snapshots of one
    /// handle's counters.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            captured: self.captured.saturating_sub(earlier.captured),
            dropped_by_guard: self
                .dropped_by_guard
                .saturating_sub(earlier.dropped_by_guard),
            dropped_channel_full: self
                .dropped_channel_full
                .saturating_sub(earlier.dropped_channel_full),
            dropped_by_sampler: self
                .dropped_by_sampler
                .saturating_sub(earlier.dropped_by_sampler),
            dropped_unserializable: self
                .dropped_unserializable
                .saturating_sub(earlier.dropped_unserializable),
            dropped_write_failed: self
                .dropped_write_failed
                .saturating_sub(earlier.dropped_write_failed),
            written: self.written.saturating_sub(earlier.written),
            dropped_oversized: self
                .dropped_oversized
                .saturating_sub(earlier.dropped_oversized),
        }
    }

    /// Events handed to the writer that are not on disk: their write failed,
    /// or their line was too long to queue.
    #[must_use]
    pub fn not_durable(&self) -> u64 {
        self.dropped_write_failed + self.dropped_oversized
    }
}

/// Names under which drop counters are persisted in the queue directory.
pub(crate) const PERSISTED_COUNTERS: [&str; 5] = [
    "dropped_by_guard",
    "dropped_channel_full",
    "dropped_by_sampler",
    "dropped_unserializable",
    "dropped_write_failed",
];

/// Counters shared by `capture` and the writer.
#[derive(Default)]
pub(crate) struct AtomicCounters {
    pub(crate) captured: AtomicU64,
    pub(crate) dropped_by_guard: AtomicU64,
    pub(crate) dropped_channel_full: AtomicU64,
    pub(crate) dropped_by_sampler: AtomicU64,
    pub(crate) dropped_unserializable: AtomicU64,
    pub(crate) dropped_write_failed: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
}

impl AtomicCounters {
    pub(crate) fn snapshot(&self) -> CaptureCounters {
        CaptureCounters {
            captured: self.captured.load(Ordering::Relaxed),
            dropped_by_guard: self.dropped_by_guard.load(Ordering::Relaxed),
            dropped_channel_full: self.dropped_channel_full.load(Ordering::Relaxed),
            dropped_by_sampler: self.dropped_by_sampler.load(Ordering::Relaxed),
            dropped_unserializable: self.dropped_unserializable.load(Ordering::Relaxed),
            dropped_write_failed: self.dropped_write_failed.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            dropped_oversized: self.dropped_oversized.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
