//! The run-time front door: `Telemetry::builder("myapp")` → a handle with
//! `capture`, `flush` and `shutdown`.
//!
//! `capture` filters, guards and stamps an event on the caller's thread (no
//! I/O), then hands the envelope to a bounded channel; a writer thread appends
//! to the durable queue in group commits (one `fsync` per batch). While
//! telemetry is off there is no thread, and `capture` costs one atomic load.
//! A full channel drops the newest event and counts it rather than block.
//! Errors are logged through `tracing` and counted, never returned from
//! `capture`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::consent::{self, ConsentPolicy, Decision, Mode};
use crate::control::{Control, ControlError};
use crate::guard;
use crate::queue::{Envelope, Queue, QueueConfig};
use crate::settings::SettingsStore;
use crate::sink::Sink;
use crate::{Anonymizer, EventPrefix, HashKey, TelemetryEvent};

/// Reads one environment variable; injectable so tests and embedders need not
/// touch the process environment.
pub type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Decides, per event name, whether to keep an event (`true`) or drop it.
pub type Sampler = Arc<dyn Fn(&str) -> bool + Send + Sync>;

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

#[derive(Default)]
struct AtomicCounters {
    captured: AtomicU64,
    dropped_by_guard: AtomicU64,
    dropped_channel_full: AtomicU64,
    dropped_by_sampler: AtomicU64,
    dropped_unserializable: AtomicU64,
    dropped_write_failed: AtomicU64,
}

impl AtomicCounters {
    fn snapshot(&self) -> CaptureCounters {
        CaptureCounters {
            captured: self.captured.load(Ordering::Relaxed),
            dropped_by_guard: self.dropped_by_guard.load(Ordering::Relaxed),
            dropped_channel_full: self.dropped_channel_full.load(Ordering::Relaxed),
            dropped_by_sampler: self.dropped_by_sampler.load(Ordering::Relaxed),
            dropped_unserializable: self.dropped_unserializable.load(Ordering::Relaxed),
            dropped_write_failed: self.dropped_write_failed.load(Ordering::Relaxed),
        }
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

/// The application name was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "application name {0:?} must be 1 to 64 ASCII letters, digits, `-` or `_`, starting with a letter"
)]
pub struct InvalidAppName(pub String);

/// Configures telemetry for one application; see [`Telemetry::builder`].
#[must_use]
pub struct TelemetryBuilder {
    pub(crate) app_name: String,
    pub(crate) policy: ConsentPolicy,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) app_key: Option<HashKey>,
    pub(crate) env: EnvReader,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) sink: Option<Box<dyn Sink>>,
    pub(crate) queue_max_bytes: Option<u64>,
    pub(crate) queue_max_age: Option<Duration>,
    pub(crate) channel_capacity: usize,
}

impl TelemetryBuilder {
    /// Opt-in (the default): telemetry records locally for review and sends
    /// nothing until the user enables it.
    pub fn opt_in(mut self) -> Self {
        self.policy = ConsentPolicy::OptIn;
        self
    }

    /// Opt-out: telemetry is on unless the user or the environment turns it off.
    pub fn opt_out(mut self) -> Self {
        self.policy = ConsentPolicy::OptOut;
        self
    }

    /// Where settings and the queue live. Default: `{PREFIX}TELEMETRY_DIR` if
    /// set, else the platform's data directory for the application.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// The application-wide key for `#[telemetry(hash(scope = "app"))]`.
    pub fn app_hash_key(mut self, key: HashKey) -> Self {
        self.app_key = Some(key);
        self
    }

    /// Reads environment variables through `env` instead of the process
    /// environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Keeps an event only when `sampler(event_name)` is true. The name is the
    /// unprefixed one (`session_summary`).
    pub fn sampler(mut self, sampler: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// The sink that sends queued events when telemetry is on. Without one,
    /// events stay in the local queue.
    pub fn sink(mut self, sink: impl Sink + 'static) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Bounds of the local queue: oldest events are dropped first, and counted.
    pub fn queue_limits(mut self, max_bytes: u64, max_age: Duration) -> Self {
        self.queue_max_bytes = Some(max_bytes);
        self.queue_max_age = Some(max_age);
        self
    }

    /// How many events may wait for the writer thread before new ones are
    /// dropped (default 4096).
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity.max(1);
        self
    }

    /// The environment prefix: `MYAPP_` for `myapp`.
    #[must_use]
    pub fn env_prefix(&self) -> String {
        consent::env_prefix(&self.app_name)
    }

    pub(crate) fn resolved_data_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Some(dir.clone());
        }
        let var = format!("{}TELEMETRY_DIR", self.env_prefix());
        if let Some(dir) = (self.env)(&var).filter(|dir| !dir.trim().is_empty()) {
            return Some(PathBuf::from(dir));
        }
        SettingsStore::default_dir(&self.app_name)
    }

    pub(crate) fn queue_config(&self, dir: PathBuf) -> QueueConfig {
        let mut config = QueueConfig::new(dir);
        if let Some(max_bytes) = self.queue_max_bytes {
            config.max_bytes = max_bytes;
        }
        if let Some(max_age) = self.queue_max_age {
            config.max_age = max_age;
        }
        config
    }

    /// The user-facing controls (status, enable, disable, preview, purge,
    /// send, reset-id) without starting a writer thread: what the `telemetry`
    /// CLI uses.
    pub fn control(self) -> Result<Control, ControlError> {
        Control::new(self)
    }

    /// Decides consent, loads or creates the identity, opens the queue and,
    /// unless telemetry is off, starts the writer thread.
    ///
    /// Only a bad application name is an error. A problem with the data
    /// directory turns telemetry off for this run, with a warning in the log
    /// and in [`Telemetry::problems`]: telemetry never stops the application.
    pub fn build(self) -> Result<Telemetry, InvalidAppName> {
        validate_app_name(&self.app_name)?;
        let prefix = event_prefix(&self.app_name);
        let debug = (self.env)(&format!("{}TELEMETRY_DEBUG", self.env_prefix()))
            .and_then(|value| consent::parse_switch(&value))
            .unwrap_or(false);
        let mut problems = Vec::new();
        let control = match Control::new_checked(self) {
            Ok(control) => control,
            Err((error, decision)) => {
                tracing::warn!(%error, "telemetry is off for this run");
                problems.push(error.to_string());
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        problems.extend(control.problems().iter().cloned());
        for problem in &problems {
            tracing::warn!(problem = %problem, "telemetry");
        }
        let decision = control.decision().clone();
        if !decision.mode.records() {
            return Ok(Telemetry::off(decision, prefix, problems));
        }
        let identity = match control.identity_for_recording() {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, "telemetry is off for this run");
                problems.push(error.to_string());
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        let mut anonymizer = Anonymizer::new(&identity.hashing_key);
        if let Some(key) = &control.builder().app_key {
            anonymizer = anonymizer.with_app_key(key);
        }
        let (sender, receiver) = mpsc::sync_channel(control.builder().channel_capacity);
        let counters = Arc::new(AtomicCounters::default());
        let writer = {
            let queue = control.queue().clone();
            let counters = Arc::clone(&counters);
            std::thread::Builder::new()
                .name("telemetry-writer".into())
                .spawn(move || write_loop(&queue, &receiver, &counters))
                .map_err(|error| tracing::warn!(%error, "telemetry writer thread could not start"))
                .ok()
        };
        let Some(writer) = writer else {
            problems.push("the telemetry writer thread could not start".into());
            return Ok(Telemetry::off(decision, prefix, problems));
        };
        let sampler = control.builder().sampler.clone();
        Ok(Telemetry {
            inner: Arc::new(Inner {
                recording: AtomicBool::new(true),
                decision,
                prefix,
                client_id: identity.client_id.to_string(),
                anonymizer: Some(anonymizer),
                sampler,
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                counters,
                debug,
                problems,
                control: Some(Mutex::new(control)),
            }),
        })
    }
}

pub(crate) fn validate_app_name(name: &str) -> Result<(), InvalidAppName> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(InvalidAppName(name.to_owned()))
    }
}

/// `my-App` sends events as `my_app_{event}`.
pub(crate) fn event_prefix(app_name: &str) -> EventPrefix {
    let cleaned: String = app_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    EventPrefix::new(&cleaned)
        .unwrap_or_else(|_| unreachable!("validated app names make valid prefixes"))
}

enum Command {
    Line(Envelope),
    Flush(SyncSender<()>),
}

/// Appends lines in group commits: whatever is waiting is written with one
/// `fsync`, and counters are persisted alongside.
fn write_loop(queue: &Queue, receiver: &Receiver<Command>, counters: &AtomicCounters) {
    const MAX_BATCH: usize = 4096;
    let mut lines: Vec<Envelope> = Vec::new();
    let mut waiting: Vec<SyncSender<()>> = Vec::new();
    let mut persisted = CaptureCounters::default();
    loop {
        let first = match receiver.recv_timeout(Duration::from_secs(1)) {
            Ok(command) => Some(command),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut next = first;
        while let Some(command) = next.take() {
            match command {
                Command::Line(line) => lines.push(line),
                Command::Flush(done) => waiting.push(done),
            }
            if lines.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        commit(queue, &mut lines, counters);
        persist_counters(queue, counters, &mut persisted);
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
    commit(queue, &mut lines, counters);
    persist_counters(queue, counters, &mut persisted);
}

fn commit(queue: &Queue, lines: &mut Vec<Envelope>, counters: &AtomicCounters) {
    if lines.is_empty() {
        return;
    }
    if let Err(error) = queue.append(lines) {
        tracing::warn!(%error, events = lines.len(), "telemetry events could not be written");
        counters
            .dropped_write_failed
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
    }
    lines.clear();
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

struct Inner {
    /// The one load `capture` makes while off.
    recording: AtomicBool,
    decision: Decision,
    prefix: EventPrefix,
    client_id: String,
    anonymizer: Option<Anonymizer>,
    sampler: Option<Sampler>,
    sender: Mutex<Option<SyncSender<Command>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<AtomicCounters>,
    debug: bool,
    problems: Vec<String>,
    control: Option<Mutex<Control>>,
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

/// `flush` or `shutdown` could not finish in time, or telemetry is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlushError {
    /// The writer did not confirm before the deadline; events stay in memory
    /// and are written when it catches up.
    #[error("the telemetry writer did not finish within the deadline")]
    Timeout,
    /// There is no writer: telemetry is off or was shut down.
    #[error("telemetry is not recording")]
    NotRecording,
}

impl Telemetry {
    /// Starts configuring telemetry for the application `app_name`
    /// (`myapp`): its events are named `myapp_{event}`, its environment
    /// variables start with `MYAPP_`.
    pub fn builder(app_name: &str) -> TelemetryBuilder {
        TelemetryBuilder {
            app_name: app_name.to_owned(),
            policy: ConsentPolicy::default(),
            data_dir: None,
            app_key: None,
            env: Arc::new(|name| std::env::var(name).ok()),
            sampler: None,
            sink: None,
            queue_max_bytes: None,
            queue_max_age: None,
            channel_capacity: 4096,
        }
    }

    fn off(decision: Decision, prefix: EventPrefix, problems: Vec<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                recording: AtomicBool::new(false),
                decision,
                prefix,
                client_id: String::new(),
                anonymizer: None,
                sampler: None,
                sender: Mutex::new(None),
                writer: Mutex::new(None),
                counters: Arc::new(AtomicCounters::default()),
                debug: false,
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
        if let Some(sampler) = &inner.sampler
            && !sampler(E::EVENT)
        {
            inner
                .counters
                .dropped_by_sampler
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(anonymizer) = &inner.anonymizer else {
            return;
        };
        let mut properties = Vec::with_capacity(256);
        if let Err(error) =
            serde_json::to_writer(&mut properties, &event.telemetry_view(anonymizer))
        {
            inner
                .counters
                .dropped_unserializable
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event = E::EVENT, %error, "telemetry event dropped: it could not be serialized");
            return;
        }
        if let Err(violation) = guard::scan_json(&properties) {
            inner
                .counters
                .dropped_by_guard
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                event = E::EVENT,
                field = %violation.path,
                detector = violation.detector.as_str(),
                "telemetry event dropped: a value looks personal"
            );
            return;
        }
        // serde_json writes UTF-8 and valid JSON; both checks only guard
        // against a bug, and fail closed.
        let Some(properties) = String::from_utf8(properties)
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok())
        else {
            inner
                .counters
                .dropped_unserializable
                .fetch_add(1, Ordering::Relaxed);
            return;
        };
        let line = Envelope::new(
            inner.prefix.name(E::EVENT),
            inner.client_id.clone(),
            properties,
        );
        if inner.debug {
            eprintln!(
                "telemetry: {}",
                String::from_utf8_lossy(line.to_line().trim_ascii_end())
            );
        }
        let sender = inner.sender.lock().ok().and_then(|sender| sender.clone());
        match sender.map(|sender| sender.try_send(Command::Line(line))) {
            Some(Ok(())) => {
                inner.counters.captured.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(TrySendError::Full(_))) => {
                inner
                    .counters
                    .dropped_channel_full
                    .fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(TrySendError::Disconnected(_))) | None => {}
        }
    }

    /// Waits until every event captured before this call is on disk, or
    /// `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let sender = self
            .inner
            .sender
            .lock()
            .ok()
            .and_then(|sender| sender.clone());
        let Some(sender) = sender else {
            return Err(FlushError::NotRecording);
        };
        let (done, confirmed) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        // The channel may be full: keep offering until the deadline.
        let mut command = Command::Flush(done);
        loop {
            match sender.try_send(command) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    command = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return Err(FlushError::Timeout),
                Err(TrySendError::Disconnected(_)) => return Err(FlushError::NotRecording),
            }
        }
        confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| FlushError::Timeout)
    }

    /// Stops recording, writes what was captured and, when telemetry is on
    /// and a sink is configured, sends what it can, until `deadline`. What
    /// is not sent stays on disk for the next run. Later `capture` calls do
    /// nothing.
    pub fn shutdown(&self, deadline: Duration) -> Result<(), FlushError> {
        let started = Instant::now();
        self.inner.recording.store(false, Ordering::Relaxed);
        let sender = self
            .inner
            .sender
            .lock()
            .ok()
            .and_then(|mut sender| sender.take());
        let Some(sender) = sender else {
            return Err(FlushError::NotRecording);
        };
        drop(sender);
        let writer = self
            .inner
            .writer
            .lock()
            .ok()
            .and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            // The writer exits once every sender is gone and its channel is
            // drained; wait for it within the deadline.
            while !writer.is_finished() {
                if started.elapsed() >= deadline {
                    return Err(FlushError::Timeout);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = writer.join();
        }
        if self.inner.decision.mode == Mode::On
            && let Some(control) = &self.inner.control
            && let Ok(mut control) = control.lock()
            && control.has_sink()
        {
            let remaining = deadline.saturating_sub(started.elapsed());
            if let Err(error) = control.send_until(Instant::now() + remaining) {
                tracing::warn!(%error, "telemetry events not sent; they stay queued for the next run");
            }
        }
        Ok(())
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
    pub fn preview(&self) -> Result<Vec<crate::queue::Envelope>, crate::control::ControlError> {
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
