//! Delivery: from the durable queue to a [`Sink`], the same rules for every
//! sink.
//!
//! - Batches of [`DeliveryConfig::batch_size`] envelopes, oldest first. A
//!   batch leaves the queue only once it is *settled*: accepted by the sink,
//!   or refused for good (dropped and counted, or written to the dead-letter
//!   file). A crash between sending and acknowledging sends the batch again
//!   on the next run with the same `uuid`s and timestamps, which lets the
//!   server drop the copies.
//! - Two requests in flight, when the sink offers a
//!   [second lane](Sink::second_lane) and two full batches are queued: the
//!   next batch's first attempt runs on the lane while this one is settled.
//!   Batches are acknowledged in queue order; the lane's answer is taken up
//!   once the batch before it is settled (a failure goes through the rules
//!   below as a first attempt), and a batch the lane delivered while the one
//!   before it failed is sent again later with the same `uuid`s.
//! - [`SinkErrorKind::Transient`]: retried up to [`RetryPolicy::max_retries`](crate::policy::RetryPolicy::max_retries)
//!   times, so at most `max_retries + 1` attempts for one batch in one run,
//!   after an exponential backoff with jitter (the first wait between
//!   `initial_backoff` and twice that, doubling, capped at `max_backoff`),
//!   and never sooner than the server's `Retry-After`. A batch that exhausts
//!   its retries stays queued, and sending stops until the next start or an
//!   explicit flush: between runs, the queue is the retry.
//! - [`SinkErrorKind::TooLarge`]: a batch of several envelopes is split in
//!   half and each half settled on its own; a single envelope is dropped and
//!   counted in [`Counters::DROPPED_TOO_LARGE`].
//! - [`SinkErrorKind::Rejected`]: not retried; the envelopes are appended to
//!   `dead-letter.jsonl` beside the queue directory with the sink's reason,
//!   and counted in [`Counters::DEAD_LETTERED`].
//! - A batch accepted with some envelopes [rejected](crate::sink::Sent::rejected)
//!   one by one (a collector's `{accepted, rejected}`): settled, not
//!   retried; the rejected envelopes go to the dead-letter file, each with
//!   the destination's reason, and are counted in
//!   [`Counters::DEAD_LETTERED`]; the others count as sent.
//! - [`SinkErrorKind::Unauthorized`]: not retried; the batch stays queued and
//!   sending pauses until the next start, so a bad API key costs no CPU or
//!   battery. The cause is logged once.
//!
//! [`Counters::DROPPED_TOO_LARGE`]: crate::queue::Counters::DROPPED_TOO_LARGE
//! [`Counters::DEAD_LETTERED`]: crate::queue::Counters::DEAD_LETTERED

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Timestamp;
use crate::pace::Pace;
use crate::policy::{self, DeliveryConfig};
use crate::queue::{Batch, Counters, Envelope, Queue, QueueError};
use crate::sink::{Sent, Sink, SinkError, SinkErrorKind};

/// What a delivery pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SendReport {
    /// Envelopes accepted by the sink and removed from the queue.
    pub sent: usize,
    /// Requests (attempts) it took, failed ones included.
    pub requests: usize,
    /// Envelopes too large for the sink, dropped.
    pub dropped_too_large: usize,
    /// Envelopes the sink rejected, moved to the dead-letter file.
    pub dead_lettered: usize,
}

impl SendReport {
    fn add(&mut self, other: Self) {
        self.sent += other.sent;
        self.requests += other.requests;
        self.dropped_too_large += other.dropped_too_large;
        self.dead_lettered += other.dead_lettered;
    }
}

/// Why a delivery pass stopped before the queue was empty.
#[derive(Debug)]
pub(crate) enum Halt {
    /// The deadline passed, or the waiter asked to stop.
    Stopped,
    /// A batch exhausted its retries.
    Exhausted(SinkError),
    /// The sink's credentials were refused.
    Paused(SinkError),
    /// The queue could not be read or acknowledged.
    Queue(QueueError),
}

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped at the deadline"),
            Self::Exhausted(error) => write!(f, "retries exhausted: {error}"),
            Self::Paused(error) => write!(f, "credentials refused, sending paused: {error}"),
            Self::Queue(error) => write!(f, "queue: {error}"),
        }
    }
}

/// The dead-letter file beside the queue directory `queue_dir`.
#[must_use]
pub fn dead_letter_path(queue_dir: &Path) -> PathBuf {
    queue_dir
        .parent()
        .unwrap_or(queue_dir)
        .join("dead-letter.jsonl")
}

/// Waits between retries: returns `false` to stop now.
pub(crate) type Wait<'a> = dyn FnMut(Duration) -> bool + 'a;

/// Settles batches from one queue through one sink.
pub(crate) struct Courier<'a> {
    pub(crate) sink: &'a mut dyn Sink,
    pub(crate) queue: &'a Queue,
    pub(crate) config: DeliveryConfig,
    /// Told of every acknowledgement and of every failed request.
    pub(crate) pace: Option<&'a Pace>,
    /// The sink's [second lane](Sink::second_lane), if it has one.
    pub(crate) lane: Option<Box<dyn Sink>>,
}

impl Courier<'_> {
    /// Delivers batches, oldest first, until the queue holds fewer than
    /// `batch_size` envelopes (`full_only`) or none, or something halts it.
    /// Progress is in `report` either way.
    pub(crate) fn drain(
        &mut self,
        full_only: bool,
        deadline: Option<Instant>,
        wait: &mut Wait<'_>,
        report: &mut SendReport,
    ) -> Result<(), Halt> {
        loop {
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(Halt::Stopped);
            }
            let batch = self
                .queue
                .peek(self.config.batch_size)
                .map_err(Halt::Queue)?;
            if batch.is_empty() || (full_only && batch.len() < self.config.batch_size) {
                return Ok(());
            }
            // The next full batch goes out on the second lane while this
            // one is settled.
            let ahead = match &self.lane {
                Some(_) if batch.len() == self.config.batch_size => {
                    let next = self
                        .queue
                        .peek_after(&batch, self.config.batch_size)
                        .map_err(Halt::Queue)?;
                    (next.len() == self.config.batch_size).then_some(next)
                }
                _ => None,
            };
            let mut lane = self.lane.take();
            let (outcome, settled, early) = std::thread::scope(|scope| {
                let early = ahead
                    .as_ref()
                    .zip(lane.as_mut())
                    .map(|(next, lane)| scope.spawn(move || lane.send(&next.envelopes)));
                let mut settled = SendReport::default();
                let outcome = if batch.envelopes.is_empty() {
                    Ok(())
                } else {
                    self.settle(&batch.envelopes, None, deadline, wait, &mut settled)
                };
                // A lane that panicked made no attempt that counts.
                let early = early.and_then(|handle| handle.join().ok());
                (outcome, settled, early)
            });
            self.lane = lane;
            self.finish(&batch, outcome, settled, report)?;
            if let Some(next) = ahead {
                // Its first attempt is made: settled from there, in order.
                let mut settled = SendReport::default();
                let outcome = self.settle(&next.envelopes, early, deadline, wait, &mut settled);
                self.finish(&next, outcome, settled, report)?;
            }
        }
    }

    /// Acknowledges a settled batch and adds what settling it did to
    /// `report`; an unsettled one only adds its requests.
    fn finish(
        &self,
        batch: &Batch,
        outcome: Result<(), Halt>,
        mut settled: SendReport,
        report: &mut SendReport,
    ) -> Result<(), Halt> {
        report.requests += settled.requests;
        outcome?;
        self.queue.ack(batch).map_err(Halt::Queue)?;
        if let Some(pace) = self.pace {
            pace.delivered();
        }
        self.count(&settled);
        settled.requests = 0;
        report.add(settled);
        Ok(())
    }

    fn count(&self, settled: &SendReport) {
        for (name, n) in [
            (Counters::DROPPED_TOO_LARGE, settled.dropped_too_large),
            (Counters::DEAD_LETTERED, settled.dead_lettered),
        ] {
            if let Err(error) = self.queue.add_counter(name, n as u64) {
                tracing::warn!(%error, counter = name, "telemetry counter not saved");
            }
        }
    }

    /// Delivers `envelopes` or refuses them for good; on `Err` nothing of
    /// them may leave the queue. `first` is the outcome of an attempt
    /// already made (on the second lane), if any.
    fn settle(
        &mut self,
        envelopes: &[Envelope],
        mut first: Option<Result<Sent, SinkError>>,
        deadline: Option<Instant>,
        wait: &mut Wait<'_>,
        report: &mut SendReport,
    ) -> Result<(), Halt> {
        let retry = self.config.retry;
        let mut retries = 0;
        loop {
            let attempt = first.take().unwrap_or_else(|| self.sink.send(envelopes));
            let error = match attempt {
                Ok(sent) => {
                    // A sink that does not count its requests made one,
                    // unless it refused everything before sending.
                    report.requests += if sent.refused >= envelopes.len() {
                        sent.requests
                    } else {
                        sent.requests.max(1)
                    };
                    let rejected = rejected(envelopes, &sent);
                    if !rejected.is_empty() {
                        self.dead_letter_rejected(&rejected, report)?;
                    }
                    report.sent += envelopes
                        .len()
                        .saturating_sub(sent.refused + rejected.len());
                    report.dropped_too_large += sent.refused.min(envelopes.len());
                    return Ok(());
                }
                Err(error) => error,
            };
            report.requests += 1;
            if let Some(pace) = self.pace {
                pace.stalled();
            }
            match error.kind {
                SinkErrorKind::TooLarge if envelopes.len() > 1 => {
                    let (first, second) = envelopes.split_at(envelopes.len() / 2);
                    self.settle(first, None, deadline, wait, report)?;
                    return self.settle(second, None, deadline, wait, report);
                }
                SinkErrorKind::TooLarge => {
                    tracing::warn!(
                        event = %envelopes[0].event,
                        sink = %error.sink,
                        "telemetry event dropped: too large for the sink"
                    );
                    report.dropped_too_large += 1;
                    return Ok(());
                }
                SinkErrorKind::Rejected => {
                    return self.dead_letter(envelopes, &error, report);
                }
                SinkErrorKind::Unauthorized => return Err(Halt::Paused(error)),
                SinkErrorKind::Transient { retry_after } => {
                    if retries >= retry.max_retries {
                        return Err(Halt::Exhausted(error));
                    }
                    let backoff = retry.backoff(retries, policy::jitter());
                    let pause = retry_after.map_or(backoff, |after| after.max(backoff));
                    tracing::debug!(%error, ?pause, retry = retries + 1, "telemetry batch will be retried");
                    if deadline.is_some_and(|deadline| Instant::now() + pause > deadline) {
                        return Err(Halt::Stopped);
                    }
                    if !wait(pause) {
                        return Err(Halt::Stopped);
                    }
                    retries += 1;
                }
            }
        }
    }

    /// The whole batch, rejected with `error`.
    fn dead_letter(
        &self,
        envelopes: &[Envelope],
        error: &SinkError,
        report: &mut SendReport,
    ) -> Result<(), Halt> {
        let path = dead_letter_path(self.queue.dir());
        tracing::warn!(
            events = envelopes.len(),
            sink = %error.sink,
            reason = %error.reason,
            file = %path.display(),
            "telemetry batch rejected; moved to the dead-letter file"
        );
        let letters: Vec<(&Envelope, &str)> = envelopes
            .iter()
            .map(|envelope| (envelope, error.reason.as_str()))
            .collect();
        write_letters(&path, &error.sink, &letters, &error.reason, report)
    }

    /// Envelopes of an accepted batch that the destination rejected one by
    /// one, each with its own reason.
    fn dead_letter_rejected(
        &self,
        letters: &[(&Envelope, &str)],
        report: &mut SendReport,
    ) -> Result<(), Halt> {
        let path = dead_letter_path(self.queue.dir());
        let sink = self.sink.name();
        tracing::warn!(
            events = letters.len(),
            sink = %sink,
            first_reason = %letters[0].1,
            file = %path.display(),
            "telemetry events rejected by the destination; moved to the dead-letter file"
        );
        let summary = format!(
            "{} event{} rejected",
            letters.len(),
            if letters.len() == 1 { "" } else { "s" }
        );
        write_letters(&path, &sink, letters, &summary, report)
    }
}

/// Writes `letters` and counts them; on failure nothing of the batch
/// may leave the queue, and `reason` says what was being refused.
fn write_letters(
    path: &Path,
    sink: &str,
    letters: &[(&Envelope, &str)],
    reason: &str,
    report: &mut SendReport,
) -> Result<(), Halt> {
    match write_dead_letter(path, sink, letters) {
        Ok(()) => {
            report.dead_lettered += letters.len();
            Ok(())
        }
        Err(io) => Err(Halt::Exhausted(SinkError::new(
            sink,
            SinkErrorKind::Rejected,
            format!(
                "{reason}; the dead-letter file {} could not be written: {io}",
                path.display()
            ),
        ))),
    }
}

/// The envelopes of `envelopes` that `sent` says the destination rejected,
/// with their reasons, in batch order: an index outside the batch, or one
/// given twice, is ignored (and logged), so that a confused answer cannot
/// dead-letter what was not sent or count an envelope twice.
fn rejected<'a>(envelopes: &'a [Envelope], sent: &'a Sent) -> Vec<(&'a Envelope, &'a str)> {
    let mut rejections: Vec<_> = sent.rejected.iter().collect();
    rejections.sort_by_key(|rejection| rejection.index);
    let mut letters: Vec<(&Envelope, &str)> = Vec::with_capacity(rejections.len());
    let mut last = None;
    for rejection in rejections {
        match envelopes.get(rejection.index) {
            Some(envelope) if last != Some(rejection.index) => {
                letters.push((envelope, rejection.reason.as_str()));
                last = Some(rejection.index);
            }
            _ => tracing::warn!(
                index = rejection.index,
                events = envelopes.len(),
                "a sink rejected an event that is not in the batch, or one twice; ignored"
            ),
        }
    }
    letters
}

/// Appends one line per envelope: `{"at":…,"sink":…,"reason":…,"envelope":{…}}`.
fn write_dead_letter(
    path: &Path,
    sink: &str,
    letters: &[(&Envelope, &str)],
) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    if file.metadata()?.len() >= policy::DEAD_LETTER_MAX_BYTES {
        tracing::warn!(file = %path.display(), "dead-letter file is full; rejected events are only counted");
        return Ok(());
    }
    let json = |text: &str| serde_json::to_string(text).map_err(std::io::Error::other);
    let head = format!(
        "{{\"at\":{},\"sink\":{},\"reason\":",
        serde_json::to_string(&Timestamp::now()).map_err(std::io::Error::other)?,
        json(sink)?,
    );
    let mut buf = Vec::new();
    for (envelope, reason) in letters {
        buf.extend_from_slice(head.as_bytes());
        buf.extend_from_slice(json(reason)?.as_bytes());
        buf.extend_from_slice(b",\"envelope\":");
        envelope.write_line(&mut buf);
        buf.pop();
        buf.extend_from_slice(b"}\n");
    }
    file.write_all(&buf)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dead_letter_file_sits_beside_the_queue_directory() {
        assert_eq!(
            dead_letter_path(Path::new("/data/myapp/queue")),
            Path::new("/data/myapp/dead-letter.jsonl")
        );
    }
}
