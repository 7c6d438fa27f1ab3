//! What a user can see and change: the `telemetry` CLI's operations, usable
//! without starting a writer thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::config::Config;
use crate::consent::{Decision, Mode, Source};
use crate::delivery::{Courier, Halt, SendReport};
use crate::names::{self, InvalidAppName};
use crate::queue::{Envelope, Queue, QueueConfig, QueueError, QueueStats};
use crate::settings::{Identity, SettingsError, SettingsStore};
use crate::sink::{Sink, SinkError};

/// An operation of [`Control`] failed. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The application name is not usable.
    #[error(transparent)]
    AppName(#[from] InvalidAppName),
    /// The platform has no data directory and none was given.
    #[error("no data directory: this platform has no home directory; set {0}TELEMETRY_DIR")]
    NoDataDir(String),
    /// Settings could not be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The queue could not be read or written.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// `send` without a configured sink.
    #[error("no sink is configured: events stay in the local queue (see `telemetry preview`)")]
    NoSink,
    /// An operation that needs telemetry to be on or local, while it is off.
    #[error("telemetry is off ({0})")]
    Off(Source),
    /// Sending while telemetry is local: events are kept for review only.
    #[error(
        "telemetry is local ({0}): events are kept for review and never sent; `telemetry enable` turns sending on"
    )]
    Local(Source),
    /// Sending stopped short; what was not sent stays queued.
    #[error("sending stopped after {} of the queued events, the rest stay queued: {reason}", report.sent)]
    NotSent {
        /// Why it stopped.
        reason: String,
        /// What was sent before.
        report: SendReport,
    },
}

/// Everything `telemetry status` shows.
#[derive(Debug, Clone)]
pub struct Status {
    /// The application.
    pub app_name: String,
    /// The mode and the source that decided it.
    pub decision: Decision,
    /// The user's saved choice, if any (an environment variable may
    /// override it).
    pub saved_choice: Option<Mode>,
    /// Where settings and the queue live.
    pub data_dir: PathBuf,
    /// The client id, while telemetry is not off.
    pub client_id: Option<Uuid>,
    /// The queue: size, age, counters of dropped events.
    pub queue: QueueStats,
    /// The configured sink, if any.
    pub sink: Option<String>,
    /// Problems met configuring and reading settings, in words.
    pub problems: Vec<String>,
}

/// What changing the saved choice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceOutcome {
    /// The mode now in effect, and why: an environment variable may still
    /// override the saved choice.
    pub decision: Decision,
    /// Events purged from the queue (turning telemetry off purges it).
    pub purged: usize,
    /// The client id now in use, if any.
    pub client_id: Option<Uuid>,
}

/// The user-facing operations on one application's telemetry; see
/// [`TelemetryBuilder::control`](crate::TelemetryBuilder::control).
pub struct Control {
    config: Config,
    dir: PathBuf,
    store: SettingsStore,
    queue: Queue,
    decision: Decision,
    saved_choice: Option<Mode>,
    problems: Vec<String>,
    /// How long to wait for another process's lock: `None` for the CLI
    /// (a user waits), bounded for a recording handle (an app must not).
    lock_wait: Option<Duration>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("app", &self.config.app_name)
            .field("dir", &self.dir)
            .field("decision", &self.decision)
            .finish_non_exhaustive()
    }
}

impl Control {
    /// The controls for a user who may only look: nothing is created until
    /// a command changes something, so `status` and `preview` work in a
    /// data directory that cannot be written.
    pub(crate) fn new(config: Config) -> Result<Self, ControlError> {
        Self::open(config, None, Queue::open_lazily).map_err(|(error, _)| error)
    }

    /// The controls of a telemetry handle, which records: the queue is
    /// created and checked at once. Hands back the consent decision even on
    /// failure, so that the handle can report why it is off.
    /// `lock_wait` bounds every wait for another process's lock, here and
    /// in [`identity_for_recording`](Self::identity_for_recording).
    #[allow(
        clippy::result_large_err,
        reason = "called once per handle; the decision says why telemetry is off"
    )]
    pub(crate) fn new_checked(
        config: Config,
        lock_wait: Option<Duration>,
    ) -> Result<Self, (ControlError, Decision)> {
        Self::open(config, lock_wait, |config| {
            Queue::open_within(config, lock_wait)
        })
    }

    #[allow(clippy::result_large_err, reason = "as for `new_checked`")]
    fn open(
        config: Config,
        lock_wait: Option<Duration>,
        open_queue: impl FnOnce(QueueConfig) -> Result<Queue, QueueError>,
    ) -> Result<Self, (ControlError, Decision)> {
        if let Err(error) = names::check_app_name(&config.app_name) {
            let decision = config.decide(None);
            return Err((error.into(), decision));
        }
        let Some(dir) = config.resolved_data_dir() else {
            let decision = config.decide(None);
            return Err((ControlError::NoDataDir(config.env_prefix()), decision));
        };
        let store = SettingsStore::new(&dir);
        let (settings, problem) = store.load();
        let decision = config.decide(settings.choice);
        let queue = match open_queue(config.queue_config(dir.join("queue"))) {
            Ok(queue) => queue,
            Err(error) => return Err((error.into(), decision)),
        };
        Ok(Self {
            problems: config
                .problems
                .iter()
                .cloned()
                .chain(problem.map(|problem| problem.to_string()))
                .collect(),
            saved_choice: settings.choice,
            config,
            lock_wait,
            dir,
            store,
            queue,
            decision,
        })
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The mode in effect and why.
    #[must_use]
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// Problems met configuring and reading settings, in words.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Where settings and the queue live.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The application's environment prefix (`MYAPP_`).
    #[must_use]
    pub fn env_prefix(&self) -> String {
        self.config.env_prefix()
    }

    /// Moves the sink out, for a courier thread.
    pub(crate) fn take_sink(&mut self) -> Option<Box<dyn Sink>> {
        self.config.sink.take()
    }

    /// Whether a sink is configured.
    #[must_use]
    pub fn has_sink(&self) -> bool {
        self.config.sink.is_some()
    }

    /// The client id saved for this installation, if any (there is none
    /// while telemetry is off). Read from the settings alone, so that it is
    /// known even when the queue cannot be read.
    #[must_use]
    pub fn client_id(&self) -> Option<Uuid> {
        self.store
            .load()
            .0
            .identity
            .map(|identity| identity.client_id)
    }

    /// Asks the configured sink's destination to delete what it holds for
    /// `client_id` (see [`Sink::request_deletion`]), and returns how many
    /// records it deleted. `None` without a sink, or when the destination
    /// takes no such request. Turning telemetry off forgets the client id:
    /// read it with [`client_id`](Self::client_id) first.
    pub fn request_deletion(&mut self, client_id: Uuid) -> Option<Result<u64, SinkError>> {
        self.config
            .sink
            .as_mut()?
            .request_deletion(&client_id.to_string())
    }

    /// The configured sink's name, if there is one.
    #[must_use]
    pub fn sink_name(&self) -> Option<String> {
        self.config.sink.as_ref().map(|sink| sink.name())
    }

    /// The identity to record with, created (and saved) on first use.
    pub(crate) fn identity_for_recording(&self) -> Result<Identity, ControlError> {
        let (identity, _, _) = self.store.update_within(self.lock_wait, |settings| {
            if settings.identity.is_none() {
                settings.identity = Some(Identity::generate()?);
            }
            Ok(settings.identity.clone())
        })?;
        Ok(identity.unwrap_or_else(|| unreachable!("created above")))
    }

    /// Everything `telemetry status` shows.
    pub fn status(&self) -> Result<Status, ControlError> {
        let (settings, problem) = self.store.load();
        let mut problems = self.problems.clone();
        if let Some(problem) = problem {
            let text = problem.to_string();
            if !problems.contains(&text) {
                problems.push(text);
            }
        }
        Ok(Status {
            app_name: self.config.app_name.clone(),
            decision: self.decision.clone(),
            saved_choice: settings.choice,
            data_dir: self.dir.clone(),
            client_id: settings.identity.map(|identity| identity.client_id),
            queue: self.queue.stats()?,
            sink: self.config.sink.as_ref().map(|sink| sink.name()),
            problems,
        })
    }

    /// Saves the user's choice. Turning telemetry off purges the queue and
    /// discards the client id and hashing key; turning it on again creates
    /// new ones, so an opt-out is a clean break.
    pub fn set_choice(&mut self, mode: Mode) -> Result<ChoiceOutcome, ControlError> {
        let decision = self.config.decide(Some(mode));
        let (client_id, _, _) = self.store.update(|settings| {
            settings.choice = Some(mode);
            if mode.records() {
                // While the environment keeps telemetry off, no identity is
                // created: it appears on the first run that records.
                if settings.identity.is_none() && decision.mode.records() {
                    settings.identity = Some(Identity::generate()?);
                }
            } else {
                settings.identity = None;
            }
            Ok(settings
                .identity
                .as_ref()
                .map(|identity| identity.client_id))
        })?;
        let purged = if mode.records() { 0 } else { self.purge()? };
        self.saved_choice = Some(mode);
        self.decision = decision;
        Ok(ChoiceOutcome {
            decision: self.decision.clone(),
            purged,
            client_id,
        })
    }

    /// Every queued envelope, oldest first, exactly as it would be sent.
    pub fn preview(&self) -> Result<Vec<Envelope>, ControlError> {
        Ok(self.queue.read_all()?.envelopes)
    }

    /// Deletes every queued event, and the dead-letter file; returns how
    /// many queued events there were.
    pub fn purge(&self) -> Result<usize, ControlError> {
        let purged = self.queue.purge()?;
        let dead_letter = self.dead_letter_path();
        match std::fs::remove_file(&dead_letter) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(QueueError::io("remove dead-letter file", &dead_letter, error).into());
            }
        }
        Ok(purged)
    }

    /// Where batches the sink rejected are kept, beside the queue.
    #[must_use]
    pub fn dead_letter_path(&self) -> PathBuf {
        crate::delivery::dead_letter_path(self.queue.dir())
    }

    /// Replaces the client id and the hashing key. Events already queued keep
    /// the old id; purge them first for a clean break.
    pub fn reset_id(&mut self) -> Result<Uuid, ControlError> {
        if !self.decision.mode.records() {
            return Err(ControlError::Off(self.decision.source.clone()));
        }
        let (client_id, _, _) = self.store.update(|settings| {
            let identity = Identity::generate()?;
            let client_id = identity.client_id;
            settings.identity = Some(identity);
            Ok(client_id)
        })?;
        Ok(client_id)
    }

    /// Sends every queued event through the configured sink now, by the
    /// [`delivery`](crate::delivery) rules (retries included); each batch
    /// leaves the queue once it is settled.
    pub fn send(&mut self) -> Result<SendReport, ControlError> {
        self.send_until(Instant::now() + Duration::from_secs(3600))
    }

    /// Like [`send`](Self::send), stopping at `deadline`; what is left stays
    /// queued.
    pub fn send_until(&mut self, deadline: Instant) -> Result<SendReport, ControlError> {
        match self.decision.mode {
            Mode::On => {}
            Mode::Local => return Err(ControlError::Local(self.decision.source.clone())),
            Mode::Off => return Err(ControlError::Off(self.decision.source.clone())),
        }
        let Some(sink) = self.config.sink.as_mut() else {
            return Err(ControlError::NoSink);
        };
        let config = sink.delivery();
        let mut courier = Courier {
            sink: &mut **sink,
            queue: &self.queue,
            config,
            pace: None,
            lane: None,
        };
        let mut report = SendReport::default();
        let mut wait = |pause: Duration| {
            std::thread::sleep(pause);
            true
        };
        match courier.drain(false, Some(deadline), &mut wait, &mut report) {
            Ok(()) => Ok(report),
            Err(Halt::Queue(error)) => Err(error.into()),
            Err(halt) => Err(ControlError::NotSent {
                reason: halt.to_string(),
                report,
            }),
        }
    }
}
