//! The background threads of a recording [`Telemetry`](crate::Telemetry):
//! the writer, which appends captured envelopes to the durable queue in group
//! commits, and, when telemetry is on with a sink, the courier, which drains
//! the queue into the sink by the [`delivery`](crate::delivery) rules.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::{Duration, Instant};

use crate::counters::{AtomicCounters, CaptureCounters, PERSISTED_COUNTERS};
use crate::delivery::{Courier, Halt, SendReport};
use crate::pace::Pace;
use crate::pipe::{self, Gathered};
use crate::policy;
use crate::queue::{AppendReport, Queue};
use crate::sink::Sink;

/// What `capture`, `flush` and `shutdown` tell the writer: an item is one
/// envelope as its queue line, `\n` included.
pub(crate) type Command = pipe::Command<Vec<u8>>;

/// Appends lines in group commits and makes them durable within a sync
/// window, telling the courier, if any, how many envelopes it appended.
///
/// - A commit takes what arrives within [`policy::WRITER_GATHER`] of its
///   first line (at most [`policy::WRITER_MAX_BATCH`] lines, and no later
///   than a flush or shutdown): one lock of the queue and one `write`
///   for them all, so that the per-commit work (the lock, the cursor, the
///   listing, the bounds) is paid once per thousands of events under load.
///   While it gathers, the writer looks at the channel every
///   [`policy::WRITER_GATHER_STEP`] rather than waking for every event.
/// - What is written is in the page cache, where a crash of the process
///   cannot take it; it is synced (`fdatasync`) within
///   [`policy::WRITER_SYNC_INTERVAL`] of being written, and before a flush
///   or shutdown is answered. A power cut can take what was written in the
///   last sync interval; a flush that returned `Ok` covers everything before
///   it. Syncing is done by a second thread (`telemetry-sync`), in order,
///   so that the writer goes on taking events while the disk catches up.
/// - Counters are persisted with each sync.
pub(crate) fn write_loop(
    queue: &Queue,
    receiver: &Receiver<Command>,
    counters: &AtomicCounters,
    courier: Option<(&Sender<Signal>, &Pace)>,
) {
    // What the persisted counters hold, for whichever thread syncs.
    let persisted = &Mutex::new(CaptureCounters::default());
    std::thread::scope(|scope| {
        let (jobs, job_receiver) = mpsc::channel::<SyncJob>();
        let syncer = std::thread::Builder::new()
            .name("telemetry-sync".to_owned())
            .spawn_scoped(scope, move || {
                for job in job_receiver {
                    job.run(queue, counters, persisted);
                }
            });
        // Without its thread, the writer syncs itself.
        let jobs = syncer.ok().map(|_| jobs);
        let mut writer = Writer {
            queue,
            counters,
            courier,
            queue_bytes: 0,
            lines: Vec::new(),
            waiting: Vec::new(),
            unsynced: Unsynced::default(),
        };
        let mut exit = false;
        while !exit {
            exit = writer.gather(receiver);
            writer.commit();
            if exit || !writer.waiting.is_empty() || writer.unsynced.is_due() {
                let job = SyncJob {
                    unsynced: std::mem::take(&mut writer.unsynced),
                    replies: std::mem::take(&mut writer.waiting),
                };
                match &jobs {
                    Some(jobs) => {
                        if let Err(mpsc::SendError(job)) = jobs.send(job) {
                            job.run(queue, counters, persisted);
                        }
                    }
                    None => job.run(queue, counters, persisted),
                }
            }
        }
    });
}

/// The writer thread's state between commits.
struct Writer<'a> {
    queue: &'a Queue,
    counters: &'a AtomicCounters,
    courier: Option<(&'a Sender<Signal>, &'a Pace)>,
    /// The queue's size after the last commit.
    queue_bytes: u64,
    lines: Vec<Vec<u8>>,
    /// Flushes and a shutdown to answer once what came before is synced.
    waiting: Vec<SyncSender<()>>,
    unsynced: Unsynced,
}

impl Writer<'_> {
    /// Waits for a command (at most until a sync is due), then gathers
    /// lines for a commit; `true` when the writer must exit after it.
    fn gather(&mut self, receiver: &Receiver<Command>) -> bool {
        let idle = self.unsynced.due_in().unwrap_or(Duration::from_secs(1));
        pipe::gather(receiver, idle, &mut self.lines, &mut self.waiting) == Gathered::Exit
    }

    /// Appends the gathered lines (after holding them while the courier
    /// makes room) and tells the courier.
    fn commit(&mut self) {
        if let Some((_, pace)) = self.courier {
            hold(self.queue, pace, &self.lines, &mut self.queue_bytes);
        }
        let Some(report) = commit(self.queue, &mut self.lines, self.counters) else {
            return;
        };
        self.queue_bytes = report.queue_bytes;
        if let Some(segment) = report.segment.filter(|_| report.appended > 0) {
            self.unsynced.add(segment, report.appended);
            if let Some((signals, _)) = self.courier {
                let _ = signals.send(Signal::Appended(report.appended));
            }
        }
    }
}

/// A sync for the `telemetry-sync` thread: the segments to sync, then the
/// flushes to answer.
struct SyncJob {
    unsynced: Unsynced,
    replies: Vec<SyncSender<()>>,
}

impl SyncJob {
    fn run(self, queue: &Queue, counters: &AtomicCounters, persisted: &Mutex<CaptureCounters>) {
        self.unsynced.sync(counters);
        if let Ok(mut persisted) = persisted.lock() {
            persist_counters(queue, counters, &mut persisted);
        }
        for reply in self.replies {
            let _ = reply.send(());
        }
    }
}

/// Waits while the courier is delivering and `lines` would take the queue
/// past its byte bound (see [`Pace`]), at most
/// [`policy::WRITER_MAX_HOLD`] between two reports of the courier.
/// `queue_bytes` is the queue's size as last seen.
fn hold(queue: &Queue, pace: &Pace, lines: &[Vec<u8>], queue_bytes: &mut u64) {
    let batch: u64 = lines.iter().map(|line| line.len() as u64).sum();
    let max = queue.config().max_bytes;
    while pace.is_delivering() && *queue_bytes > 0 && *queue_bytes + batch > max {
        if !pace.wait(policy::WRITER_MAX_HOLD) {
            return;
        }
        match queue.bytes() {
            Ok(bytes) => *queue_bytes = bytes,
            Err(_) => return,
        }
    }
}

/// What the writer appended and has not synced yet.
#[derive(Default)]
struct Unsynced {
    /// The segments written to, oldest first, each once.
    segments: Vec<PathBuf>,
    /// The envelopes appended to them.
    events: u64,
    /// When the oldest of them was written.
    since: Option<Instant>,
}

impl Unsynced {
    fn add(&mut self, segment: PathBuf, events: usize) {
        if self.segments.last() != Some(&segment) {
            self.segments.push(segment);
        }
        self.events += events as u64;
        self.since.get_or_insert_with(Instant::now);
    }

    /// How long until a sync is due, when anything waits for one.
    fn due_in(&self) -> Option<Duration> {
        self.since.map(|since| {
            (since + policy::WRITER_SYNC_INTERVAL).saturating_duration_since(Instant::now())
        })
    }

    fn is_due(&self) -> bool {
        self.due_in().is_some_and(|left| left.is_zero())
    }

    /// Syncs every segment written since the last sync. When that fails,
    /// the envelopes are counted as not durable (a later read may still
    /// find and send them).
    fn sync(self, counters: &AtomicCounters) {
        if self.since.is_none() {
            return;
        }
        let dir = self.segments.first().and_then(|segment| segment.parent());
        let synced = dir.map_or(Ok(()), |dir| {
            Queue::sync_segments(dir, self.segments.iter().map(PathBuf::as_path))
        });
        if let Err(error) = synced {
            tracing::warn!(%error, events = self.events, "telemetry events written but not made durable");
            AtomicCounters::add(&counters.dropped_write_failed, self.events);
        }
    }
}

/// Appends `lines` and clears them; returns what the queue reported, when
/// the append succeeded.
fn commit(
    queue: &Queue,
    lines: &mut Vec<Vec<u8>>,
    counters: &AtomicCounters,
) -> Option<AppendReport> {
    if lines.is_empty() {
        return None;
    }
    let report = match queue.append_lines(lines) {
        Ok(report) => {
            AtomicCounters::add(&counters.written, report.appended as u64);
            AtomicCounters::add(&counters.dropped_oversized, report.dropped_oversized as u64);
            for problem in &report.problems {
                tracing::warn!(%problem, "telemetry queue");
            }
            Some(report)
        }
        Err(error) => {
            // A failed append leaves nothing of the batch on disk (the queue
            // takes a partial write back), so every line of it is counted.
            tracing::warn!(%error, events = lines.len(), "telemetry events could not be written");
            AtomicCounters::add(&counters.dropped_write_failed, lines.len() as u64);
            None
        }
    };
    lines.clear();
    report
}

/// Adds what the counters gained since the last call to the queue's
/// persisted counters.
fn persist_counters(queue: &Queue, counters: &AtomicCounters, persisted: &mut CaptureCounters) {
    let now = counters.snapshot();
    let deltas = [
        now.dropped_by_guard - persisted.dropped_by_guard,
        now.dropped_channel_full - persisted.dropped_channel_full,
        now.dropped_by_sampler - persisted.dropped_by_sampler,
        now.dropped_unserializable - persisted.dropped_unserializable,
        now.dropped_write_failed - persisted.dropped_write_failed,
    ];
    for (name, delta) in PERSISTED_COUNTERS.iter().zip(deltas) {
        if delta > 0 && queue.add_counter(name, delta).is_err() {
            return;
        }
    }
    *persisted = now;
}

/// The answer to a flush or shutdown of the courier: what it sent, or why it
/// stopped short.
pub(crate) type Delivered = Result<SendReport, String>;

/// What the writer and the handle tell the courier.
pub(crate) enum Signal {
    /// The writer appended this many envelopes.
    Appended(usize),
    /// Send everything queued now (lifting a stall after exhausted retries)
    /// and answer.
    Flush(SyncSender<Delivered>),
    /// Send what can be sent before the deadline, answer, and exit.
    Shutdown(Instant, SyncSender<Delivered>),
}

/// Signals that arrived while the courier was busy, handled once it is not.
#[derive(Default)]
struct Deferred {
    pending: usize,
    flushes: Vec<SyncSender<Delivered>>,
    shutdown: Option<(Instant, SyncSender<Delivered>)>,
    disconnected: bool,
}

impl Deferred {
    /// Waits `pause` for a retry while taking signals; `false` when the
    /// courier must stop instead (a shutdown deadline comes first, or the
    /// handle is gone).
    fn wait(&mut self, signals: &Receiver<Signal>, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        loop {
            if self.disconnected || self.shutdown.as_ref().is_some_and(|(at, _)| until > *at) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            match signals.recv_timeout(left) {
                Ok(Signal::Appended(n)) => self.pending += n,
                Ok(Signal::Flush(reply)) => self.flushes.push(reply),
                Ok(Signal::Shutdown(at, reply)) => self.shutdown = Some((at, reply)),
                Err(RecvTimeoutError::Timeout) => return true,
                Err(RecvTimeoutError::Disconnected) => self.disconnected = true,
            }
        }
    }
}

/// Why the courier does not send for now.
enum Hold {
    /// Credentials refused: until the next start.
    Paused(String),
    /// A batch exhausted its retries: until the next start or a flush.
    Stalled(String),
}

/// Drains `queue` into `sink`: a batch as soon as `batch_size` envelopes
/// are queued, everything every `interval`, and at once whatever earlier
/// runs left (`backlog`).
pub(crate) fn courier_loop(
    mut sink: Box<dyn Sink>,
    queue: &Queue,
    signals: &Receiver<Signal>,
    backlog: bool,
    pace: &Pace,
) {
    // However the courier ends, the writer stops waiting for it.
    struct Gone<'a>(&'a Pace);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            self.0.stalled();
        }
    }
    let _gone = Gone(pace);
    let config = sink.delivery();
    let lane = sink.second_lane();
    let mut courier = Courier {
        sink: &mut *sink,
        queue,
        config,
        pace: Some(pace),
        lane,
    };
    let mut deferred = Deferred::default();
    let mut hold: Option<Hold> = None;
    let mut next_tick = if backlog {
        Instant::now()
    } else {
        Instant::now() + config.interval
    };
    loop {
        let signal = signals.recv_timeout(next_tick.saturating_duration_since(Instant::now()));
        let (full_only, deadline, flush, shutdown) = match signal {
            Ok(Signal::Appended(n)) => {
                deferred.pending += n;
                if deferred.pending < config.batch_size {
                    continue;
                }
                (true, None, None, None)
            }
            Ok(Signal::Flush(reply)) => {
                if matches!(hold, Some(Hold::Stalled(_))) {
                    hold = None;
                }
                (false, None, Some(reply), None)
            }
            Ok(Signal::Shutdown(at, reply)) => (false, Some(at), None, Some(reply)),
            Err(RecvTimeoutError::Timeout) => {
                next_tick = Instant::now() + config.interval;
                (false, None, None, None)
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let outcome = pass(
            &mut courier,
            &mut hold,
            &mut deferred,
            signals,
            full_only,
            deadline,
        );
        deferred.pending = 0;
        for reply in flush.into_iter().chain(deferred.flushes.drain(..)) {
            let _ = reply.send(outcome.clone());
        }
        if let Some(reply) = shutdown {
            let _ = reply.send(outcome);
            return;
        }
        if let Some((at, reply)) = deferred.shutdown.take() {
            let last = pass(
                &mut courier,
                &mut hold,
                &mut deferred,
                signals,
                false,
                Some(at),
            );
            let _ = reply.send(last);
            return;
        }
        if deferred.disconnected {
            return;
        }
    }
}

/// One delivery pass, unless held; logs why it stopped short.
fn pass(
    courier: &mut Courier<'_>,
    hold: &mut Option<Hold>,
    deferred: &mut Deferred,
    signals: &Receiver<Signal>,
    full_only: bool,
    deadline: Option<Instant>,
) -> Delivered {
    match hold {
        Some(Hold::Paused(reason) | Hold::Stalled(reason)) => return Err(reason.clone()),
        None => {}
    }
    let mut report = SendReport::default();
    let mut wait = |pause| deferred.wait(signals, pause);
    match courier.drain(full_only, deadline, &mut wait, &mut report) {
        Ok(()) => Ok(report),
        Err(halt) => {
            let reason = halt.to_string();
            match halt {
                Halt::Paused(error) => {
                    tracing::error!(%error, "telemetry sending paused until the next start: the credentials were refused");
                    *hold = Some(Hold::Paused(reason.clone()));
                }
                Halt::Exhausted(error) => {
                    tracing::warn!(%error, "telemetry sending stopped for this run; queued events stay on disk");
                    *hold = Some(Hold::Stalled(reason.clone()));
                }
                Halt::Queue(error) => {
                    tracing::warn!(%error, "telemetry queue unreadable; sending later");
                }
                Halt::Stopped => {}
            }
            Err(reason)
        }
    }
}
