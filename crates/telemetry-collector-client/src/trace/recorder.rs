//! [`TraceRecorder`]: the front end that seals events on the caller's
//! thread and spools them; the [uploader](super::uploader) sends them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use telemetry_runtime::guard;
use telemetry_runtime::policy::RetryPolicy;
use telemetry_trace::wire::{Completed, CreateTrace};
use telemetry_trace::{ArtifactRef, Event, EventKind, ValidationError, relative_path};

use super::client::{TraceClient, TraceError};
use super::spool::{ChainPosition, Spool, SpoolError};
use super::uploader::Uploader;

/// How a [`TraceRecorder`] spools and uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderOptions {
    /// The spool directory: created if missing (owner-only), reused by a
    /// recorder opened on it again to resume the same session.
    pub spool_dir: PathBuf,
    /// The repository root: file paths are recorded relative to it, and a
    /// path outside it is refused.
    pub repo_root: PathBuf,
    /// Events per chunk at most (default 100); a chunk goes out as soon as
    /// this many are spooled.
    pub chunk_events: usize,
    /// Spooled events go out at least this often (default 10 s), and at
    /// [`flush`](TraceRecorder::flush) and [`finish`](TraceRecorder::finish).
    pub chunk_interval: Duration,
    /// Waits after a failed upload: the runtime's backoff; the uploader
    /// keeps trying, at most `max_backoff` apart, until it succeeds or the
    /// recorder is dropped.
    pub retry: RetryPolicy,
}

impl RecorderOptions {
    /// Options for a spool in `spool_dir` of a session in the repository
    /// at `repo_root`, with the defaults above.
    pub fn new(spool_dir: impl Into<PathBuf>, repo_root: impl Into<PathBuf>) -> Self {
        Self {
            spool_dir: spool_dir.into(),
            repo_root: repo_root.into(),
            chunk_events: 100,
            chunk_interval: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }

    /// Sets the most events per chunk (at least 1).
    #[must_use]
    pub fn with_chunk_events(mut self, events: usize) -> Self {
        self.chunk_events = events.max(1);
        self
    }

    /// Sets how often spooled events go out at least.
    #[must_use]
    pub fn with_chunk_interval(mut self, interval: Duration) -> Self {
        self.chunk_interval = interval;
        self
    }

    /// Sets the backoff after failed uploads.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// What a [`TraceRecorder`] could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// The session has no `consent: true`: no consent, no trace. Nothing
    /// was written.
    #[error("no consent, no trace: the session's consent is not true, so nothing is recorded")]
    NoConsent,
    /// The session or an event is not valid (the reason names the field,
    /// never its value). Nothing was recorded.
    #[error("not recorded: {0}")]
    Invalid(#[from] ValidationError),
    /// A file path lies outside the repository root. Nothing was recorded.
    #[error("not recorded: the file path is outside the repository root")]
    OutsideRepository,
    /// The event is larger than the spool takes (1 MiB as JSON). Nothing
    /// was recorded.
    #[error("not recorded: the event is larger than 1 MiB as JSON")]
    TooLarge,
    /// The spool directory holds another session than the one given.
    #[error("{} holds another session; use another directory for a new one", dir.display())]
    OtherSession {
        /// The spool directory.
        dir: PathBuf,
    },
    /// The trace is complete: it takes no more events.
    #[error("the trace is complete and takes no more events")]
    Completed,
    /// The spool could not be read or written.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The collector refused the upload for good (a rejected chunk, a
    /// refused key); the spool keeps everything not yet stored.
    #[error("the upload stopped: {0}")]
    Upload(TraceError),
    /// The wait ended before the uploads did; the spool keeps the rest,
    /// and a recorder opened on it again goes on.
    #[error("timed out with {pending} event(s) not yet stored by the collector{}", last_error.as_ref().map(|error| format!(" (last error: {error})")).unwrap_or_default())]
    TimedOut {
        /// Events spooled but not yet stored.
        pending: u64,
        /// The last failure, if the collector was failing.
        last_error: Option<String>,
    },
}

/// What the front end and the uploader share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) spool: Spool,
    pub(crate) progress: Mutex<Progress>,
    pub(crate) changed: Condvar,
}

impl Shared {
    pub(crate) fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where recording and uploading stand; every change is announced on
/// [`Shared::changed`].
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// The seq of the next event to record.
    pub(crate) recorded: u64,
    /// Every event below this seq is stored by the collector.
    pub(crate) stored: u64,
    /// `finish` asked for the last chunk and `complete`.
    pub(crate) finishing: bool,
    /// Callers waiting in `flush`.
    pub(crate) flushing: usize,
    /// The recorder is dropped: the uploader stops.
    pub(crate) stop: bool,
    /// The collector's trace id, once created.
    pub(crate) trace_id: Option<String>,
    /// The answer to `complete`.
    pub(crate) completed: Option<Completed>,
    /// Why the uploader stopped for good.
    pub(crate) failure: Option<TraceError>,
    /// The last transient failure, cleared by a success.
    pub(crate) last_error: Option<String>,
}

/// Records one consented session as a trace: seals each event into the
/// per-trace hash chain, keeps it in a durable spool, and uploads chunks in
/// the background.
///
/// ```no_run
/// use telemetry_collector_client::trace::{RecorderOptions, TraceClient, TraceRecorder};
/// use telemetry_trace::wire::CreateTrace;
/// use telemetry_trace::{EventKind, RationaleKind};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let session: CreateTrace = unimplemented!();
/// let client = TraceClient::for_url("http://127.0.0.1:8000");
/// let options = RecorderOptions::new("/tmp/trace-spool", "/home/me/repo");
/// let recorder = TraceRecorder::open(client, session, options)?;
/// recorder.record(EventKind::RationaleNote {
///     kind: RationaleKind::Plan,
///     text: "reproduce the failing test first".into(),
/// })?;
/// let completed = recorder.finish(std::time::Duration::from_secs(30))?;
/// println!("trace {} has {} events", completed.trace_id, completed.num_events);
/// # Ok(())
/// # }
/// ```
///
/// - **No consent, no trace**: [`open`](Self::open) refuses a session
///   without `consent: true` and writes nothing.
/// - [`record`](Self::record) works on the caller's thread without network
///   I/O: it makes file paths relative to the repository root (refusing one
///   outside it), redacts free text with the guard's detectors
///   ([`Event::redact`]), validates, gives the event its `seq`, `id`
///   (`evt-{seq:03}`) and `ts_client_s`, seals it against the previous
///   hash, and appends it to the spool with one `fsync`.
/// - The uploader thread creates the trace, uploads artifacts, then chunks
///   of up to [`RecorderOptions::chunk_events`] events (each with an
///   idempotency key derived from its content), and acknowledges what the
///   collector stored. It refreshes an expired upload token with the ingest
///   key, and retries failures with the runtime's backoff.
/// - **Crash-safe**: after a `kill -9` at any moment, a recorder opened on
///   the same directory with the same session finds its trace id, token
///   and chain head in the spool, asks the collector's `upload-status`,
///   drops what it already stored and sends the rest; the stored trace is
///   the one an uninterrupted run stores. [`next_seq`](Self::next_seq)
///   tells the caller how many events survived. (A crash between the
///   collector's `201` to create and its record in the spool leaves that
///   empty trace behind, never completed; the restart creates another.)
/// - [`finish`](Self::finish) sends the rest and calls `complete`.
///
/// Dropping a recorder without `finish` stops the uploader (after the
/// request in flight, within the request timeout) and keeps the spool for a
/// later resume.
#[derive(Debug)]
pub struct TraceRecorder {
    shared: Arc<Shared>,
    chain: Mutex<ChainPosition>,
    repo_root: PathBuf,
    label: String,
    worker: Option<JoinHandle<()>>,
}

impl TraceRecorder {
    /// Starts recording `session` in `options.spool_dir`, or resumes the
    /// session already there (which must be the same one, as redacted).
    ///
    /// Validates and redacts the session first: without consent this is
    /// [`RecorderError::NoConsent`] and nothing touches the disk. The
    /// uploader starts at once; it creates the trace at the collector (or
    /// asks where a resumed one stands) without holding this call up.
    pub fn open(
        client: TraceClient,
        mut session: CreateTrace,
        options: RecorderOptions,
    ) -> Result<Self, RecorderError> {
        if !session.consent {
            return Err(RecorderError::NoConsent);
        }
        session.redact();
        session.validate()?;
        let spool = Spool::open(&options.spool_dir)?;
        match spool.session()? {
            Some(saved) if saved == session => {}
            Some(_) => {
                return Err(RecorderError::OtherSession {
                    dir: options.spool_dir,
                });
            }
            None => spool.save_session(&session)?,
        }
        let chain = spool.chain_position()?;
        let upload = spool.upload_state()?;
        let progress = Progress {
            recorded: chain.next_seq,
            stored: upload.as_ref().map_or(0, |upload| upload.stored_next_seq),
            trace_id: upload.as_ref().map(|upload| upload.trace_id.clone()),
            completed: upload.as_ref().and_then(|upload| upload.completed.clone()),
            ..Progress::default()
        };
        let shared = Arc::new(Shared {
            spool,
            progress: Mutex::new(progress),
            changed: Condvar::new(),
        });
        let label = session.participant_id.clone();
        let uploader = Uploader::new(Arc::clone(&shared), client, session, upload, &options);
        let worker = std::thread::Builder::new()
            .name("trace-uploader".to_owned())
            .spawn(move || uploader.run())
            .map_err(|source| SpoolError::Io {
                action: "start the uploader for",
                path: options.spool_dir.clone(),
                source,
            })?;
        Ok(Self {
            shared,
            chain: Mutex::new(chain),
            repo_root: options.repo_root,
            label,
            worker: Some(worker),
        })
    }

    /// Records `kind` now (`ts_client_s` from the system clock); returns
    /// its `seq`. See [`record_at`](Self::record_at).
    pub fn record(&self, kind: EventKind) -> Result<u64, RecorderError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        self.record_at(kind, now)
    }

    /// Records `kind` as happening at `ts_client_s` (seconds since the Unix
    /// epoch); returns its `seq`.
    ///
    /// A `file_edit`'s path is made relative to the repository root; free
    /// text is redacted; the event is validated, sealed and durable in the
    /// spool before this returns. On an error nothing is recorded and the
    /// chain is unchanged.
    pub fn record_at(&self, mut kind: EventKind, ts_client_s: f64) -> Result<u64, RecorderError> {
        if let EventKind::FileEdit { file_path, .. } = &mut kind {
            *file_path = self.file_path(Path::new(file_path.as_str()))?;
        }
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        if self.shared.progress().completed.is_some() {
            return Err(RecorderError::Completed);
        }
        let seq = chain.next_seq;
        let mut event = Event {
            id: format!("evt-{seq:03}"),
            seq,
            ts_client_s,
            ts_server_s: None,
            redactions: 0,
            server_redactions: 0,
            prev_hash: chain.head.clone(),
            hash: String::new(),
            kind,
        };
        event.redact();
        event.hash = event.chain_hash();
        event.validate()?;
        if !self.shared.spool.append(&event, &self.label)? {
            return Err(RecorderError::TooLarge);
        }
        chain.next_seq = seq + 1;
        chain.head.clone_from(&event.hash);
        // The event is durable in the queue, where a restart finds it
        // even if this file stays behind.
        if let Err(error) = self.shared.spool.save_chain(&chain) {
            tracing::warn!(%error, seq, "trace spool: the chain position was not saved; the queue has the event");
        }
        drop(chain);
        self.shared.progress().recorded = seq + 1;
        self.shared.changed.notify_all();
        Ok(seq)
    }

    /// `path` as a trace records it: relative to the repository root with
    /// `/` separators (an absolute path must lie under the root).
    pub fn file_path(&self, path: &Path) -> Result<String, RecorderError> {
        let text = path.to_str().ok_or(RecorderError::OutsideRepository)?;
        relative_path(&self.repo_root, text).map_err(|_| RecorderError::OutsideRepository)
    }

    /// Keeps `bytes` for upload and returns their reference, for an event's
    /// `output`, `report` or `diff`. Bytes are stored as given: use
    /// [`attach_text`](Self::attach_text) for text, which must be redacted.
    pub fn attach(
        &self,
        bytes: &[u8],
        media_type: Option<&str>,
    ) -> Result<ArtifactRef, RecorderError> {
        let artifact = ArtifactRef::for_bytes(bytes, media_type);
        self.shared
            .spool
            .save_artifact(&artifact.sha256, bytes, media_type)?;
        self.shared.changed.notify_all();
        Ok(artifact)
    }

    /// Like [`attach`](Self::attach) for text (command output, a test
    /// report), redacted span by span with the guard's detectors first, so
    /// that the hash is of what is uploaded.
    pub fn attach_text(
        &self,
        text: &str,
        media_type: Option<&str>,
    ) -> Result<ArtifactRef, RecorderError> {
        let redacted = guard::redact(text);
        self.attach(redacted.text.as_bytes(), media_type)
    }

    /// The seq the next event gets: how many events this session has
    /// recorded, across restarts.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_seq
    }

    /// The collector's trace id, once the uploader created the trace.
    #[must_use]
    pub fn trace_id(&self) -> Option<String> {
        self.shared.progress().trace_id.clone()
    }

    /// Events recorded and not yet stored by the collector.
    #[must_use]
    pub fn pending(&self) -> u64 {
        let progress = self.shared.progress();
        progress.recorded.saturating_sub(progress.stored)
    }

    /// Sends everything spooled now and waits, at most `timeout`, until the
    /// collector stored it.
    pub fn flush(&self, timeout: Duration) -> Result<(), RecorderError> {
        let mut progress = self.shared.progress();
        progress.flushing += 1;
        self.shared.changed.notify_all();
        let result = self
            .wait(progress, timeout, |progress| {
                progress.stored >= progress.recorded
            })
            .map(drop);
        self.shared.progress().flushing -= 1;
        result
    }

    /// Sends the rest, calls `complete`, and returns the collector's
    /// answer; waits at most `timeout`. On a timeout or a failure the spool
    /// keeps what is not stored: a recorder opened on it again goes on.
    pub fn finish(mut self, timeout: Duration) -> Result<Completed, RecorderError> {
        let mut progress = self.shared.progress();
        progress.finishing = true;
        self.shared.changed.notify_all();
        let progress = self.wait(progress, timeout, |progress| progress.completed.is_some())?;
        let completed = progress.completed.clone();
        drop(progress);
        self.stop();
        completed.ok_or(RecorderError::Completed)
    }

    /// Waits until `done`, a failure, or the timeout.
    fn wait<'a>(
        &'a self,
        mut progress: MutexGuard<'a, Progress>,
        timeout: Duration,
        done: impl Fn(&Progress) -> bool,
    ) -> Result<MutexGuard<'a, Progress>, RecorderError> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&progress) {
                return Ok(progress);
            }
            if let Some(failure) = &progress.failure {
                return Err(RecorderError::Upload(failure.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecorderError::TimedOut {
                    pending: progress.recorded.saturating_sub(progress.stored),
                    last_error: progress.last_error.clone(),
                });
            }
            progress = self
                .shared
                .changed
                .wait_timeout(progress, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn stop(&mut self) {
        self.shared.progress().stop = true;
        self.shared.changed.notify_all();
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::error!("the trace uploader panicked");
        }
    }
}

impl Drop for TraceRecorder {
    fn drop(&mut self) {
        self.stop();
    }
}
