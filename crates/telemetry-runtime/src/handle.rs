//! The telemetry handle: `capture` filters, guards and stamps an event on
//! the caller's thread (no I/O), then hands the queue line to a bounded
//! channel; a writer thread appends to the durable queue in group commits.
//! While telemetry is off there is no thread, and `capture` costs one atomic
//! load. A full channel drops the newest event and counts it rather than
//! block. Errors are logged through `tracing` and counted, never returned
//! from `capture`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::Sampler;
use crate::consent::Decision;
use crate::control::{Control, ControlError};
use crate::counters::{AtomicCounters, CaptureCounters};
use crate::custom::{CustomEvent, InvalidCustomEvent};
use crate::guard;
use crate::pipe::{self, PipeError};
use crate::policy;
use crate::queue::{Envelope, envelope};
use crate::worker::{Command, Signal};
use uuid::Uuid;

use crate::{Anonymizer, EventPrefix, TelemetryEvent};

pub(crate) struct Inner {
    /// The one load `capture` makes while off.
    pub(crate) recording: AtomicBool,
    pub(crate) decision: Decision,
    pub(crate) prefix: EventPrefix,
    pub(crate) client_id: String,
    pub(crate) anonymizer: Option<Anonymizer>,
    pub(crate) sampler: Option<Sampler>,
    /// To the writer thread; `None` while off.
    pub(crate) sender: Option<SyncSender<Command>>,
    /// To the courier thread, when telemetry is on with a sink.
    pub(crate) courier: Option<Sender<Signal>>,
    /// The writer and courier threads, joined by `shutdown`.
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) counters: Arc<AtomicCounters>,
    /// The counters as the previous `flush` reported them.
    pub(crate) flushed: Mutex<CaptureCounters>,
    pub(crate) debug: bool,
    pub(crate) unguarded_custom: bool,
    pub(crate) problems: Vec<String>,
    pub(crate) control: Option<Mutex<Control>>,
}

/// Hands `command` to the writer, waiting for room until `deadline`.
fn offer(
    sender: Option<&SyncSender<Command>>,
    command: Command,
    deadline: Instant,
) -> Result<(), FlushError> {
    let sender = sender.ok_or(FlushError::NotRecording)?;
    pipe::offer_until(sender, command, deadline).map_err(|error| match error {
        PipeError::Timeout => FlushError::Timeout,
        PipeError::Closed => FlushError::NotRecording,
    })
}

impl Drop for Inner {
    /// The last handle went away without `shutdown`: write what was
    /// captured and send what can be sent, within
    /// [`policy::DROP_DEADLINE`], so that a process that exits right after
    /// loses nothing it captured. The caller's thread waits at most that
    /// long; what is not sent by then stays queued for the next run.
    fn drop(&mut self) {
        if !self.recording.swap(false, Ordering::Relaxed) {
            return;
        }
        let deadline = Instant::now() + policy::DROP_DEADLINE;
        let (done, confirmed) = mpsc::sync_channel(1);
        if offer(self.sender.as_ref(), Command::Shutdown(done), deadline).is_err() {
            return;
        }
        let written = confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
        if let (true, Some(courier)) = (written, &self.courier) {
            let (reply, answer) = mpsc::sync_channel(1);
            if courier.send(Signal::Shutdown(deadline, reply)).is_ok() {
                let _ = answer.recv_timeout(deadline.saturating_duration_since(Instant::now()));
            }
        }
    }
}

/// The telemetry handle of an application. Cheap to clone; every clone feeds
/// the same queue.
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("mode", &self.inner.decision.mode)
            .field("source", &self.inner.decision.source)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

/// `flush` or `shutdown` could not finish, or telemetry is off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The writer did not confirm before the deadline; events stay in memory
    /// and are written when it catches up.
    #[error("the telemetry writer did not finish within the deadline")]
    Timeout,
    /// There is no writer: telemetry is off or was shut down.
    #[error("telemetry is not recording")]
    NotRecording,
    /// Events are on disk but not all were sent (retries exhausted, the
    /// credentials refused, or the deadline came first); they stay queued.
    #[error("queued events not sent: {0}")]
    NotSent(String),
    /// Events captured before the flush are not on disk: their write failed
    /// (a full disk, an unwritable queue) or their line was too long. The
    /// report says how many, and what else happened since the previous
    /// flush.
    #[error(
        "{} captured events are not on disk ({} failed to write, {} too long to queue)",
        .0.not_durable(), .0.dropped_write_failed, .0.dropped_oversized
    )]
    NotDurable(CaptureCounters),
}

impl Telemetry {
    /// A recording handle around what the builder started.
    pub(crate) fn new(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A handle that records nothing, with why.
    pub(crate) fn off(decision: Decision, prefix: EventPrefix, problems: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                recording: AtomicBool::new(false),
                decision,
                prefix,
                client_id: String::new(),
                anonymizer: None,
                sampler: None,
                sender: None,
                courier: None,
                threads: Mutex::new(Vec::new()),
                counters: Arc::new(AtomicCounters::default()),
                flushed: Mutex::new(CaptureCounters::default()),
                debug: false,
                unguarded_custom: false,
                problems,
                control: None,
            }),
        }
    }

    /// Records `event`: filters it, guards it and hands it to the writer
    /// thread. Never blocks, never fails: problems are counted and logged.
    #[inline]
    pub fn capture<E: TelemetryEvent + ?Sized>(&self, event: &E) {
        if !self.inner.recording.load(Ordering::Relaxed) {
            return;
        }
        self.capture_recording(event);
    }

    #[inline(never)]
    fn capture_recording<E: TelemetryEvent + ?Sized>(&self, event: &E) {
        let inner = &*self.inner;
        if self.sampled_out(E::EVENT) {
            return;
        }
        let Some(anonymizer) = &inner.anonymizer else {
            return;
        };
        // The queue line is written here, around the properties, and handed
        // to the writer as bytes: one allocation per event, no envelope.
        let mut line = Vec::with_capacity(512);
        envelope::begin_new_line(
            &mut line,
            &inner.prefix.qualified(E::EVENT).pieces(),
            &inner.client_id,
        );
        let properties = line.len();
        let view = event.telemetry_view(anonymizer);
        // The guard's writer checks every key and string as it writes them,
        // and leaves the rest (a hit, an error, a value it does not write)
        // to serde_json and the scan, which decide and say where.
        if guard::write_json(&mut line, &view) {
            envelope::end_compact_line(&mut line);
            self.enqueue(line);
            return;
        }
        if let Err(error) = serde_json::to_writer(&mut line, &view) {
            AtomicCounters::bump(&inner.counters.dropped_unserializable);
            tracing::warn!(event = E::EVENT, %error, "telemetry event dropped: it could not be serialized");
            return;
        }
        // The guard validates the JSON as it scans, and fails closed.
        if !self.passes_guard(E::EVENT, &line[properties..]) {
            return;
        }
        envelope::end_line(&mut line, properties);
        self.enqueue(line);
    }

    /// Records an event built by the caller (see [`CustomEvent`]): checked,
    /// guarded unless the builder said
    /// [`unguarded_custom_events`](crate::TelemetryBuilder::unguarded_custom_events),
    /// then queued like a derived event. Its name is used as given; its
    /// distinct id defaults to the installation's client id.
    ///
    /// Returns the uuid of the event handed to the writer (its own, or the
    /// UUID v7 drawn for it), to correlate or deduplicate with; `None` when
    /// nothing was queued: telemetry is off, or the sampler, the guard or a
    /// full channel dropped the event (each counted, as for
    /// [`capture`](Self::capture)). Only a malformed event is an error.
    pub fn capture_custom(&self, event: CustomEvent) -> Result<Option<Uuid>, InvalidCustomEvent> {
        if !self.inner.recording.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let inner = &*self.inner;
        if self.sampled_out(event.name()) {
            return Ok(None);
        }
        let envelope = event.into_envelope(&inner.client_id)?;
        let guarded = inner.unguarded_custom
            || self.passes_guard(&envelope.event, envelope.properties.get().as_bytes());
        let queued = guarded && self.enqueue(envelope.to_line());
        Ok(queued.then_some(envelope.uuid))
    }

    /// Whether the sampler drops events called `event`; counts a drop.
    fn sampled_out(&self, event: &str) -> bool {
        let inner = &*self.inner;
        let dropped = inner
            .sampler
            .as_ref()
            .is_some_and(|sampler| !sampler(event));
        if dropped {
            AtomicCounters::bump(&inner.counters.dropped_by_sampler);
        }
        dropped
    }

    /// Scans `properties` with the guard; counts and logs a refusal.
    fn passes_guard(&self, event: &str, properties: &[u8]) -> bool {
        let Err(violation) = guard::scan_json(properties) else {
            return true;
        };
        AtomicCounters::bump(&self.inner.counters.dropped_by_guard);
        tracing::warn!(
            event,
            field = %violation.path,
            detector = violation.detector.as_str(),
            "telemetry event dropped: a value looks personal"
        );
        false
    }

    /// Hands `line` (an envelope's queue line) to the writer; a full
    /// channel drops it and counts.
    fn enqueue(&self, line: Vec<u8>) -> bool {
        let inner = &*self.inner;
        if inner.debug {
            eprintln!(
                "telemetry: {}",
                String::from_utf8_lossy(line.trim_ascii_end())
            );
        }
        let Some(sender) = &inner.sender else {
            return false;
        };
        match sender.try_send(Command::Item(line)) {
            Ok(()) => {
                AtomicCounters::bump(&inner.counters.captured);
                true
            }
            Err(TrySendError::Full(_)) => {
                AtomicCounters::bump(&inner.counters.dropped_channel_full);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Waits until every event captured before this call is on disk and,
    /// when telemetry is on with a sink, sent (retrying as the
    /// [`delivery`](crate::delivery) rules say), or `timeout` passes; then
    /// says what happened since the previous flush (or the start): how many
    /// events were written, and how many were dropped, and why.
    ///
    /// `Ok` means every event handed to the writer before this call is on
    /// disk (and sent, with a sink). An event that was captured but could
    /// not be made durable (the write failed, or its line was too long)
    /// makes the flush fail with [`FlushError::NotDurable`], which carries
    /// the same report (what is on disk is still sent first). Clones share
    /// one report: each failure is reported once, to the first flush of any
    /// clone that follows it. Events the guard, the sampler or the serializer
    /// refused were never meant to reach the disk: they are counted in the
    /// report, not failed on.
    ///
    /// A flush also lifts a stall after a batch exhausted its retries: it is
    /// the application's or the user's explicit "try now".
    pub fn flush(&self, timeout: Duration) -> Result<CaptureCounters, FlushError> {
        let deadline = Instant::now() + timeout;
        let (done, confirmed) = mpsc::sync_channel(1);
        self.offer(Command::Flush(done), deadline)?;
        confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| FlushError::Timeout)?;
        let report = self.report_since_last_flush();
        // What is on disk is sent even when some events are not: the
        // durability failure is reported after, and says more.
        let delivered = match &self.inner.courier {
            None => Ok(()),
            Some(courier) => {
                let (reply, answer) = mpsc::sync_channel(1);
                if courier.send(Signal::Flush(reply)).is_err() {
                    Err(FlushError::NotRecording)
                } else {
                    match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                        Ok(Ok(_)) => Ok(()),
                        Ok(Err(reason)) => Err(FlushError::NotSent(reason)),
                        Err(_) => Err(FlushError::Timeout),
                    }
                }
            }
        };
        if report.not_durable() > 0 {
            return Err(FlushError::NotDurable(report));
        }
        delivered.map(|()| report)
    }

    /// The counters' change since the previous report, which this one
    /// replaces.
    fn report_since_last_flush(&self) -> CaptureCounters {
        let now = self.inner.counters.snapshot();
        let Ok(mut flushed) = self.inner.flushed.lock() else {
            return now;
        };
        let report = now.since(&flushed);
        *flushed = now;
        report
    }

    /// Hands `command` to the writer, waiting for room until `deadline`.
    fn offer(&self, command: Command, deadline: Instant) -> Result<(), FlushError> {
        offer(self.inner.sender.as_ref(), command, deadline)
    }

    /// Stops recording, writes what was captured and, when telemetry is on
    /// with a sink, sends what it can, until `deadline`. What is not sent
    /// stays on disk for the next run. Later `capture` calls do nothing;
    /// a second `shutdown` returns [`FlushError::NotRecording`].
    pub fn shutdown(&self, deadline: Duration) -> Result<(), FlushError> {
        let deadline = Instant::now() + deadline;
        self.inner.recording.store(false, Ordering::Relaxed);
        let (done, confirmed) = mpsc::sync_channel(1);
        self.offer(Command::Shutdown(done), deadline)?;
        confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| FlushError::Timeout)?;
        let report = self.report_since_last_flush();
        let mut outcome = if report.not_durable() > 0 {
            Err(FlushError::NotDurable(report))
        } else {
            Ok(())
        };
        if let Some(courier) = &self.inner.courier {
            let (reply, answer) = mpsc::sync_channel(1);
            if courier.send(Signal::Shutdown(deadline, reply)).is_ok() {
                // The courier stops at the deadline; allow it a moment to say so.
                let grace =
                    deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100);
                let delivered = match answer.recv_timeout(grace) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(reason)) => Err(FlushError::NotSent(reason)),
                    Err(_) => Err(FlushError::Timeout),
                };
                // A durability failure says more than a delivery one.
                if outcome.is_ok() {
                    outcome = delivered;
                }
            }
        }
        if let Ok(mut threads) = self.inner.threads.lock() {
            for thread in std::mem::take(&mut *threads) {
                if thread.is_finished() {
                    let _ = thread.join();
                }
            }
        }
        outcome
    }

    /// The mode and the source that decided it.
    #[must_use]
    pub fn decision(&self) -> &Decision {
        &self.inner.decision
    }

    /// Whether `capture` records anything.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.inner.recording.load(Ordering::Relaxed)
    }

    /// Counters of this process since start.
    #[must_use]
    pub fn counters(&self) -> CaptureCounters {
        self.inner.counters.snapshot()
    }

    /// Problems met at start (an unreadable settings file, an unwritable
    /// data directory), in words.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.inner.problems
    }

    /// Every queued envelope, oldest first, exactly as it would be sent;
    /// empty while telemetry is off.
    pub fn preview(&self) -> Result<Vec<Envelope>, ControlError> {
        match &self.inner.control {
            Some(control) => control
                .lock()
                .map_or_else(|_| Ok(Vec::new()), |control| control.preview()),
            None => Ok(Vec::new()),
        }
    }

    /// The full name an event of type `E` is sent as: `myapp_session_summary`.
    #[must_use]
    pub fn event_name<E: TelemetryEvent + ?Sized>(&self) -> String {
        self.inner.prefix.event_name::<E>()
    }
}
