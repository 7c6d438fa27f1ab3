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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::consent::{self, ConsentPolicy, Decision, Mode};
use crate::control::{Control, ControlError};
use crate::custom::{CustomEvent, InvalidCustomEvent};
use crate::guard;
use crate::queue::{QueueConfig, envelope};
use crate::settings::SettingsStore;
use crate::sink::Sink;
use crate::worker::{self, AtomicCounters, Command, Signal};
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
    pub(crate) unguarded_custom_events: bool,
    pub(crate) disabled_by: Option<String>,
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

    /// The byte bound of the local queue alone (see [`queue_limits`](Self::queue_limits)).
    pub fn queue_max_bytes(mut self, max_bytes: u64) -> Self {
        self.queue_max_bytes = Some(max_bytes);
        self
    }

    /// How many events may wait for the writer thread before new ones are
    /// dropped (default 4096).
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity.max(1);
        self
    }

    /// Lets [`Telemetry::capture_custom`] queue events without the guard's
    /// scan. Only for events whose every value the application controls.
    pub fn unguarded_custom_events(mut self) -> Self {
        self.unguarded_custom_events = true;
        self
    }

    /// Turns telemetry off for this application whatever the user chose, as
    /// configuration asked (`enabled = false` in a config file): `reason`
    /// says where, and is shown by `status`. `DO_NOT_TRACK` and
    /// `{PREFIX}TELEMETRY_ENABLED` still come first.
    pub fn disabled_by(mut self, reason: impl Into<String>) -> Self {
        self.disabled_by = Some(reason.into());
        self
    }

    /// The application name given to [`Telemetry::builder`].
    #[must_use]
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// Reads the environment variable `name` the way this builder does
    /// (through [`env`](Self::env) when one was given).
    #[must_use]
    pub fn env_var(&self, name: &str) -> Option<String> {
        (self.env)(name)
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
            // A small bound needs segments small enough to drop one by one.
            config.segment_bytes = config.segment_bytes.min((max_bytes / 4).max(1));
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
        problems.extend(control.decision().warning());
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
        let mut control = control;
        let sink = if decision.mode == Mode::On {
            control.take_sink()
        } else {
            None
        };
        let courier = sink.and_then(|sink| {
            let queue = control.queue().clone();
            // Whatever earlier runs left goes out at once.
            let backlog = queue.peek(1).is_ok_and(|batch| !batch.is_empty());
            let (signals, received) = mpsc::channel();
            spawn("telemetry-courier", move || {
                worker::courier_loop(sink, &queue, &received, backlog);
            })
            .map(|thread| (signals, thread))
            .map_err(|error| problems.push(error))
            .ok()
        });
        let (sender, receiver) = mpsc::sync_channel(control.builder().channel_capacity);
        let counters = Arc::new(AtomicCounters::default());
        let writer = {
            let queue = control.queue().clone();
            let counters = Arc::clone(&counters);
            let signals = courier.as_ref().map(|(signals, _)| signals.clone());
            spawn("telemetry-writer", move || {
                worker::write_loop(&queue, &receiver, &counters, signals.as_ref());
            })
        };
        let writer = match writer {
            Ok(writer) => writer,
            Err(problem) => {
                problems.push(problem);
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        let (courier, courier_thread) = courier.unzip();
        let sampler = control.builder().sampler.clone();
        let unguarded_custom = control.builder().unguarded_custom_events;
        Ok(Telemetry {
            inner: Arc::new(Inner {
                recording: AtomicBool::new(true),
                decision,
                prefix,
                client_id: identity.client_id.to_string(),
                anonymizer: Some(anonymizer),
                sampler,
                sender: Some(sender),
                courier,
                threads: Mutex::new(vec![writer].into_iter().chain(courier_thread).collect()),
                counters,
                debug,
                unguarded_custom,
                problems,
                control: Some(Mutex::new(control)),
            }),
        })
    }
}

/// Starts a named background thread; the error says which could not start.
fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .map_err(|error| {
            tracing::warn!(%error, thread = name, "telemetry thread could not start; telemetry is off");
            format!("the {name} thread could not start: {error}")
        })
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

struct Inner {
    /// The one load `capture` makes while off.
    recording: AtomicBool,
    decision: Decision,
    prefix: EventPrefix,
    client_id: String,
    anonymizer: Option<Anonymizer>,
    sampler: Option<Sampler>,
    /// To the writer thread; `None` while off.
    sender: Option<SyncSender<Command>>,
    /// To the courier thread, when telemetry is on with a sink.
    courier: Option<Sender<Signal>>,
    /// The writer and courier threads, joined by `shutdown`.
    threads: Mutex<Vec<JoinHandle<()>>>,
    counters: Arc<AtomicCounters>,
    debug: bool,
    unguarded_custom: bool,
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
            unguarded_custom_events: false,
            disabled_by: None,
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
                sender: None,
                courier: None,
                threads: Mutex::new(Vec::new()),
                counters: Arc::new(AtomicCounters::default()),
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
            &inner.prefix.qualified(E::EVENT),
            &inner.client_id,
        );
        let properties = line.len();
        if let Err(error) = serde_json::to_writer(&mut line, &event.telemetry_view(anonymizer)) {
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
    /// [`unguarded_custom_events`](TelemetryBuilder::unguarded_custom_events),
    /// then queued like a derived event. Its name is used as given; its
    /// distinct id defaults to the installation's client id.
    ///
    /// Only a malformed event is an error; a guard refusal or a full channel
    /// is counted, as for [`capture`](Self::capture). Nothing is checked or
    /// recorded while telemetry is off.
    pub fn capture_custom(&self, event: CustomEvent) -> Result<(), InvalidCustomEvent> {
        if !self.inner.recording.load(Ordering::Relaxed) {
            return Ok(());
        }
        let inner = &*self.inner;
        if self.sampled_out(event.name()) {
            return Ok(());
        }
        let envelope = event.into_envelope(&inner.client_id)?;
        let guarded = inner.unguarded_custom
            || self.passes_guard(&envelope.event, envelope.properties.get().as_bytes());
        if guarded {
            self.enqueue(envelope.to_line());
        }
        Ok(())
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
    fn enqueue(&self, line: Vec<u8>) {
        let inner = &*self.inner;
        if inner.debug {
            eprintln!(
                "telemetry: {}",
                String::from_utf8_lossy(line.trim_ascii_end())
            );
        }
        let Some(sender) = &inner.sender else {
            return;
        };
        match sender.try_send(Command::Line(line)) {
            Ok(()) => AtomicCounters::bump(&inner.counters.captured),
            Err(TrySendError::Full(_)) => {
                AtomicCounters::bump(&inner.counters.dropped_channel_full);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Waits until every event captured before this call is on disk and,
    /// when telemetry is on with a sink, sent (retrying as the
    /// [`delivery`](crate::delivery) rules say), or `timeout` passes.
    ///
    /// A flush also lifts a stall after a batch exhausted its retries: it is
    /// the application's or the user's explicit "try now".
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let deadline = Instant::now() + timeout;
        let (done, confirmed) = mpsc::sync_channel(1);
        self.offer(Command::Flush(done), deadline)?;
        confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| FlushError::Timeout)?;
        let Some(courier) = &self.inner.courier else {
            return Ok(());
        };
        let (reply, answer) = mpsc::sync_channel(1);
        courier
            .send(Signal::Flush(reply))
            .map_err(|_| FlushError::NotRecording)?;
        match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(reason)) => Err(FlushError::NotSent(reason)),
            Err(_) => Err(FlushError::Timeout),
        }
    }

    /// Hands `command` to the writer, waiting for room until `deadline`.
    fn offer(&self, mut command: Command, deadline: Instant) -> Result<(), FlushError> {
        let Some(sender) = &self.inner.sender else {
            return Err(FlushError::NotRecording);
        };
        loop {
            match sender.try_send(command) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    command = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => return Err(FlushError::Timeout),
                Err(TrySendError::Disconnected(_)) => return Err(FlushError::NotRecording),
            }
        }
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
        let mut outcome = Ok(());
        if let Some(courier) = &self.inner.courier {
            let (reply, answer) = mpsc::sync_channel(1);
            if courier.send(Signal::Shutdown(deadline, reply)).is_ok() {
                // The courier stops at the deadline; allow it a moment to say so.
                let grace =
                    deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100);
                outcome = match answer.recv_timeout(grace) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(reason)) => Err(FlushError::NotSent(reason)),
                    Err(_) => Err(FlushError::Timeout),
                };
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
