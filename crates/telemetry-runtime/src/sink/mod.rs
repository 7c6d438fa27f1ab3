//! Where queued events go when telemetry is on.
//!
//! The default is no sink: events stay in the local queue, where the user can
//! see and purge them, until a network sink (PostHog, in `telemetry-posthog`)
//! is configured or the user sends them.
//!
//! A sink makes **one attempt** per [`Sink::send`] and says, through
//! [`SinkErrorKind`], what kind of failure it met. The [`delivery`] module
//! decides the rest, the same way for every sink: retries with backoff,
//! splitting a batch that was too large, the dead-letter file, pausing on
//! refused credentials. An envelope leaves the queue only after the batch
//! that carried it is settled.
//!
//! A destination that answers per event (a collector's `{accepted,
//! rejected}`) reports the events it refused in [`Sent::rejected`], each
//! with the server's reason: they are settled, not retried, and go to the
//! dead-letter file.
//!
//! [`http`] holds the rules every HTTP sink shares: what a status means,
//! `Retry-After`, and what of an answer may be shown.
//!
//! [`delivery`]: crate::delivery

pub mod http;

use std::time::Duration;

use crate::policy::DeliveryConfig;
use crate::queue::Envelope;

/// Takes batches of queued envelopes.
pub trait Sink: Send {
    /// A short name for status and logs (`posthog https://eu.i.posthog.com`).
    /// Never contains a secret.
    fn name(&self) -> String;

    /// One attempt to deliver `batch`. `Ok` means every envelope in it may
    /// leave the queue (those in [`Sent::refused`] were refused for good and
    /// are counted as dropped; those in [`Sent::rejected`] go to the
    /// dead-letter file); an error leaves the decision to the
    /// [`delivery`](crate::delivery) rules for its [`SinkErrorKind`].
    fn send(&mut self, batch: &[Envelope]) -> Result<Sent, SinkError>;

    /// Batch size, interval and retry policy the sink wants.
    fn delivery(&self) -> DeliveryConfig {
        DeliveryConfig::default()
    }

    /// A second sink to the same destination, for a second request in
    /// flight: while one batch is settled through `self`, the courier sends
    /// the next one through this lane, so that encoding, compressing and
    /// the server's work on one batch overlap with the other. `None` (the
    /// default) keeps one request in flight.
    ///
    /// Batches are still acknowledged in queue order: a batch the lane
    /// delivered while the one before it failed is sent again later, with
    /// the same `uuid`s, which the destination must deduplicate (PostHog
    /// does).
    fn second_lane(&self) -> Option<Box<dyn Sink>> {
        None
    }

    /// Asks the destination to delete every record it holds for
    /// `client_id`, for a user who turned telemetry off, and returns how
    /// many it deleted. One attempt. `None` (the default): the destination
    /// takes no such request.
    fn request_deletion(&mut self, client_id: &str) -> Option<Result<u64, SinkError>> {
        let _ = client_id;
        None
    }
}

/// What one accepted [`Sink::send`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Sent {
    /// Requests it took (a sink may split a batch to keep requests small).
    pub requests: usize,
    /// Events the sink refused for good without sending them (one event too
    /// large for the destination): they leave the queue and are counted.
    pub refused: usize,
    /// Events the destination received and refused, each with its reason
    /// (a collector's per-event errors): they leave the queue, go to the
    /// dead-letter file with the reason, and are counted as dead-lettered.
    pub rejected: Vec<Rejection>,
}

impl Sent {
    /// `requests` requests, nothing refused.
    #[must_use]
    pub fn requests(requests: usize) -> Self {
        Self {
            requests,
            refused: 0,
            rejected: Vec::new(),
        }
    }

    /// Sets how many events were refused for good.
    #[must_use]
    pub fn with_refused(mut self, refused: usize) -> Self {
        self.refused = refused;
        self
    }

    /// Sets the events the destination rejected.
    #[must_use]
    pub fn with_rejected(mut self, rejected: Vec<Rejection>) -> Self {
        self.rejected = rejected;
        self
    }
}

/// One envelope of a sent batch that the destination refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// Its position in the batch given to [`Sink::send`], from 0.
    pub index: usize,
    /// The destination's reason, as it may be shown (see
    /// [`http::shown_answer`]).
    pub reason: String,
}

impl Rejection {
    /// The envelope at `index` of the batch, refused for `reason`.
    pub fn new(index: usize, reason: impl Into<String>) -> Self {
        Self {
            index,
            reason: reason.into(),
        }
    }
}

/// A batch was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sink}: {reason}")]
pub struct SinkError {
    /// The sink's name.
    pub sink: String,
    /// What to do about it.
    pub kind: SinkErrorKind,
    /// What went wrong, in words (the server's answer, shortened).
    pub reason: String,
}

impl SinkError {
    /// An error of `kind` from the sink named `sink`.
    pub fn new(sink: impl Into<String>, kind: SinkErrorKind, reason: impl Into<String>) -> Self {
        Self {
            sink: sink.into(),
            kind,
            reason: reason.into(),
        }
    }
}

/// The kinds of failure a sink reports, and what delivery does with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// A connection error, a timeout, 408, 429 or a 5xx (see
    /// [`http::classify`]): tried again after a
    /// backoff, waiting at least `retry_after` when the server said so.
    Transient {
        /// The server's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The request was too large (413): a batch of several events is split
    /// in half and each half sent; a single event is dropped and counted.
    TooLarge,
    /// The destination refused the batch as malformed (400): not retried; the
    /// batch goes to the dead-letter file with the reason, and is counted.
    Rejected,
    /// The credentials were refused (401, 403): not retried; the batch stays
    /// queued and sending pauses until the next start.
    Unauthorized,
}

impl SinkErrorKind {
    /// A transient failure without `Retry-After`.
    pub const TRANSIENT: Self = Self::Transient { retry_after: None };
}
