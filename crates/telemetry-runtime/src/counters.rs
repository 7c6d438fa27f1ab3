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
    /// Events the writer could not append to the queue.
    pub dropped_write_failed: u64,
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
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
