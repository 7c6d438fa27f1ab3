//! Recording without blocking the caller: [`TokenRecorder::record`] checks a
//! record on the caller's thread (no I/O) and hands it to a bounded channel;
//! a writer thread inserts whatever is waiting in one transaction. A full
//! channel drops the record and counts it rather than wait. While recording
//! is off there is no thread and no file, and `record` costs one branch.
//!
//! The limits are the runtime's: [`policy::CHANNEL_CAPACITY`] records in
//! flight, [`policy::WRITER_MAX_BATCH`] per transaction, and
//! [`policy::DROP_DEADLINE`] for the last handle's drop to write what is
//! left.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use telemetry_runtime::names::{self, InvalidAppName};
use telemetry_runtime::policy;

use crate::location::{Location, Switch};
use crate::store::{Create, Store};
use crate::usage::{RecordError, TokenUsage};

/// What the caller tells the writer.
enum Command {
    Record(Box<TokenUsage>),
    /// Confirm once everything before it is committed.
    Flush(SyncSender<()>),
}

/// What happened to the records handed to a recorder, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderCounters {
    /// Handed to the writer.
    pub recorded: u64,
    /// Committed to the database.
    pub written: u64,
    /// Refused on the caller's thread (a field the guard flagged, or one
    /// that cannot be right).
    pub refused: u64,
    /// Dropped because the writer was behind and the channel full.
    pub dropped_channel_full: u64,
    /// Lost because their transaction failed.
    pub dropped_write_failed: u64,
}

#[derive(Default)]
struct Counters {
    recorded: AtomicU64,
    written: AtomicU64,
    refused: AtomicU64,
    dropped_channel_full: AtomicU64,
    dropped_write_failed: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn snapshot(&self) -> RecorderCounters {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RecorderCounters {
            recorded: get(&self.recorded),
            written: get(&self.written),
            refused: get(&self.refused),
            dropped_channel_full: get(&self.dropped_channel_full),
            dropped_write_failed: get(&self.dropped_write_failed),
        }
    }
}

/// `flush` could not confirm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Recording is off.
    #[error("token usage is not being recorded")]
    NotRecording,
    /// The writer did not confirm in time; records stay in memory.
    #[error("the token-usage writer did not finish within the deadline")]
    Timeout,
}

struct Inner {
    sender: Option<SyncSender<Command>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    location: Option<Location>,
    reason: String,
    problems: Vec<String>,
}

impl Drop for Inner {
    /// The last handle went away: write what was recorded, waiting at most
    /// [`policy::DROP_DEADLINE`].
    fn drop(&mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        let deadline = Instant::now() + policy::DROP_DEADLINE;
        let (done, confirmed) = mpsc::sync_channel(1);
        if offer(&sender, Command::Flush(done), deadline).is_ok() {
            let _ = confirmed.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        drop(sender);
        let thread = self.thread.lock().ok().and_then(|mut thread| thread.take());
        if let Some(thread) = thread
            && Instant::now() < deadline
        {
            let _ = thread.join();
        }
    }
}

/// Hands `command` to the writer, waiting for room until `deadline`.
fn offer(
    sender: &SyncSender<Command>,
    mut command: Command,
    deadline: Instant,
) -> Result<(), FlushError> {
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

/// Records token usage into the database; cheap to clone, every clone feeds
/// the same writer.
#[derive(Clone)]
pub struct TokenRecorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecorder")
            .field("recording", &self.is_recording())
            .field("reason", &self.inner.reason)
            .finish_non_exhaustive()
    }
}

/// Reads an environment variable.
type EnvReader = Box<dyn Fn(&str) -> Option<String>>;

/// Configures a [`TokenRecorder`]; see [`TokenRecorder::builder`].
#[must_use]
pub struct RecorderBuilder {
    env_prefix: String,
    env: EnvReader,
    database: Option<PathBuf>,
    capacity: usize,
}

impl RecorderBuilder {
    /// Reads environment variables through `env` instead of the process
    /// environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.env = Box::new(env);
        self
    }

    /// The database file (a path or `sqlite:///path.db`), over the
    /// environment's.
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// How many records may wait for the writer (default
    /// [`policy::CHANNEL_CAPACITY`]); at least 1.
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Decides whether to record (`{PREFIX}TELEMETRY_DB_ENABLED`), opens the
    /// database and starts the writer. A problem with the location or the
    /// file leaves recording off for this run, with the reason in
    /// [`TokenRecorder::problems`] and the log: recording never stops the
    /// application.
    pub fn build(self) -> TokenRecorder {
        let switch = Switch::from_env(&self.env, &self.env_prefix);
        let off = |reason: String, problems: Vec<String>| TokenRecorder {
            inner: Arc::new(Inner {
                sender: None,
                thread: Mutex::new(None),
                counters: Arc::default(),
                location: None,
                reason,
                problems,
            }),
        };
        if !switch.enabled {
            return off(switch.reason, Vec::new());
        }
        let location = match &self.database {
            Some(path) => Location::from_flag(path),
            None => Location::from_env(&self.env, &self.env_prefix),
        };
        let opened = location
            .map_err(|error| error.to_string())
            .and_then(|location| {
                Store::open(&location.path, Create::IfMissing)
                    .map(|store| (location, store))
                    .map_err(|error| error.to_string())
            });
        let (location, store) = match opened {
            Ok(opened) => opened,
            Err(problem) => {
                tracing::warn!(%problem, "token usage is not recorded");
                return off(
                    format!("{} but the database is unusable", switch.reason),
                    vec![problem],
                );
            }
        };
        let counters = Arc::new(Counters::default());
        let (sender, receiver) = mpsc::sync_channel(self.capacity);
        let writer_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("telemetry-tokens-writer".into())
            .spawn(move || write_loop(store, &receiver, &writer_counters));
        match thread {
            Ok(thread) => TokenRecorder {
                inner: Arc::new(Inner {
                    sender: Some(sender),
                    thread: Mutex::new(Some(thread)),
                    counters,
                    location: Some(location),
                    reason: switch.reason,
                    problems: Vec::new(),
                }),
            },
            Err(error) => off(
                format!("{} but no writer thread could start", switch.reason),
                vec![error.to_string()],
            ),
        }
    }
}

impl TokenRecorder {
    /// A recorder for the application `app_name`, configured from the
    /// process environment unless told otherwise.
    ///
    /// ```
    /// use telemetry_tokens::TokenRecorder;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let url = format!("sqlite:///{}", dir.path().join("tokens.db").display());
    /// let recorder = TokenRecorder::builder("myapp")?
    ///     .env(move |name| match name {
    ///         "MYAPP_TELEMETRY_DB_ENABLED" => Some("1".to_owned()),
    ///         "DATABASE_URL" => Some(url.clone()),
    ///         _ => None,
    ///     })
    ///     .build();
    /// assert!(recorder.is_recording());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(app_name: &str) -> Result<RecorderBuilder, InvalidAppName> {
        names::check_app_name(app_name)?;
        Ok(RecorderBuilder {
            env_prefix: names::env_prefix(app_name),
            env: Box::new(|name| std::env::var(name).ok()),
            database: None,
            capacity: policy::CHANNEL_CAPACITY,
        })
    }

    /// Whether records go to a database.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.inner.sender.is_some()
    }

    /// Why recording is on or off: `MYAPP_TELEMETRY_DB_ENABLED=1 is set`.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.inner.reason
    }

    /// The database, while recording.
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        self.inner.location.as_ref()
    }

    /// What kept an enabled recorder off.
    #[must_use]
    pub fn problems(&self) -> &[String] {
        &self.inner.problems
    }

    /// Records one call. Never blocks and never does I/O: the record is
    /// checked here and handed to the writer; if the writer is behind and
    /// the channel full, the record is dropped and counted
    /// ([`RecorderCounters::dropped_channel_full`]).
    ///
    /// A record whose string field the guard flags, or whose numbers cannot
    /// be right, is refused with an error naming the field (and counted);
    /// that is returned even while recording is off, so that a mistake
    /// shows in development.
    pub fn record(&self, usage: TokenUsage) -> Result<(), RecordError> {
        let inner = &*self.inner;
        if let Err(error) = usage.validate() {
            Counters::add(&inner.counters.refused, 1);
            return Err(error);
        }
        let Some(sender) = &inner.sender else {
            return Ok(());
        };
        match sender.try_send(Command::Record(Box::new(usage))) {
            Ok(()) => Counters::add(&inner.counters.recorded, 1),
            Err(TrySendError::Full(_)) => Counters::add(&inner.counters.dropped_channel_full, 1),
            Err(TrySendError::Disconnected(_)) => {
                Counters::add(&inner.counters.dropped_write_failed, 1);
            }
        }
        Ok(())
    }

    /// Waits until everything recorded before is committed, at most
    /// `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let Some(sender) = &self.inner.sender else {
            return Err(FlushError::NotRecording);
        };
        let deadline = Instant::now() + timeout;
        let (done, confirmed) = mpsc::sync_channel(1);
        offer(sender, Command::Flush(done), deadline)?;
        confirmed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .map_err(|_| FlushError::Timeout)
    }

    /// What happened to the records so far.
    #[must_use]
    pub fn counters(&self) -> RecorderCounters {
        self.inner.counters.snapshot()
    }
}

/// Inserts records in transactions of whatever is waiting (at most
/// [`policy::WRITER_MAX_BATCH`]); exits when every handle is gone.
fn write_loop(mut store: Store, receiver: &Receiver<Command>, counters: &Counters) {
    let mut batch: Vec<TokenUsage> = Vec::new();
    let mut waiting: Vec<SyncSender<()>> = Vec::new();
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Record(usage) => batch.push(*usage),
                Command::Flush(done) => waiting.push(done),
            }
            if batch.len() < policy::WRITER_MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        commit(&mut store, &mut batch, counters);
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
    commit(&mut store, &mut batch, counters);
}

fn commit(store: &mut Store, batch: &mut Vec<TokenUsage>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    match store.insert(batch) {
        Ok(()) => Counters::add(&counters.written, n),
        Err(error) => {
            tracing::warn!(%error, records = n, "token usage could not be written");
            Counters::add(&counters.dropped_write_failed, n);
        }
    }
    batch.clear();
}
