//! Where queued events go when telemetry is on.
//!
//! The default is no sink: events stay in the local queue, where the user can
//! see and purge them, until a network sink (PostHog, in `telemetry-posthog`)
//! is configured or the user sends them. A sink takes batches from the queue;
//! an envelope leaves the queue only after the sink accepted the batch that
//! carried it.

use crate::queue::Envelope;

/// Takes batches of queued envelopes.
pub trait Sink: Send {
    /// A short name for status and logs (`posthog https://eu.i.posthog.com`).
    fn name(&self) -> String;

    /// Delivers `batch`. `Ok` means every envelope in it may leave the queue;
    /// an error leaves all of them queued for a later try.
    fn send(&mut self, batch: &[Envelope]) -> Result<(), SinkError>;
}

/// A batch was not delivered; it stays queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sink}: {reason}")]
pub struct SinkError {
    /// The sink's name.
    pub sink: String,
    /// What went wrong, in words.
    pub reason: String,
}
