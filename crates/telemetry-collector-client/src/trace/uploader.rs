//! The uploader: a thread that only works. It creates the trace (or
//! resumes it), uploads artifacts and chunks from the spool, acknowledges
//! what the collector stored, and completes the trace when asked.

use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use telemetry_runtime::policy::RetryPolicy;
use telemetry_trace::wire::{CreateTrace, UploadStatus};
use telemetry_trace::{Chunk, GENESIS};

use super::client::{TraceClient, TraceError, jitter};
use super::recorder::{Progress, RecorderOptions, Shared};
use super::spool::{SpoolError, UploadState};
use crate::config::ApiKey;

/// What one pass of work ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkerState {
    /// Nothing more to send for now.
    Idle,
    /// The trace is complete.
    Done,
}

/// Why a pass failed.
#[derive(Debug)]
enum Failure {
    /// The collector: transient ones are retried, others end the upload.
    Collector(TraceError),
    /// The spool: retried (a full disk may clear).
    Spool(SpoolError),
}

impl From<TraceError> for Failure {
    fn from(error: TraceError) -> Self {
        Self::Collector(error)
    }
}

impl From<SpoolError> for Failure {
    fn from(error: SpoolError) -> Self {
        Self::Spool(error)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Collector(error) => error.fmt(f),
            Self::Spool(error) => error.fmt(f),
        }
    }
}

pub(crate) struct Uploader {
    shared: Arc<Shared>,
    /// Makes one attempt per call: retries are this thread's, so that a
    /// stop is never held up by a backoff inside a call.
    client: TraceClient,
    session: CreateTrace,
    upload: Option<UploadState>,
    /// Whether `upload` agrees with the collector (asked once per run, and
    /// again after a conflict).
    in_sync: bool,
    chunk_events: usize,
    chunk_interval: Duration,
    retry: RetryPolicy,
    last_chunk: Instant,
}

impl Uploader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        client: TraceClient,
        session: CreateTrace,
        upload: Option<UploadState>,
        options: &RecorderOptions,
    ) -> Self {
        Self {
            shared,
            client: client.with_retry(RetryPolicy::new(0, Duration::ZERO, Duration::ZERO)),
            session,
            upload,
            in_sync: false,
            chunk_events: options.chunk_events,
            chunk_interval: options.chunk_interval,
            retry: options.retry,
            last_chunk: Instant::now(),
        }
    }

    pub(crate) fn run(mut self) {
        let mut failures = 0_u32;
        let mut pause = None;
        while self.wait_for_work(pause.take()) {
            match self.work() {
                Ok(WorkerState::Idle) => {
                    failures = 0;
                    self.shared.progress().last_error = None;
                }
                Ok(WorkerState::Done) => {
                    self.shared.progress().last_error = None;
                    self.shared.changed.notify_all();
                    return;
                }
                Err(Failure::Collector(error)) if !error.is_transient() => {
                    tracing::error!(%error, "trace upload stopped; the spool keeps the events");
                    self.shared.progress().failure = Some(error);
                    self.shared.changed.notify_all();
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, retry = failures, "trace upload failed; will retry");
                    let wait = match &error {
                        Failure::Collector(TraceError::Refused {
                            kind:
                                telemetry_runtime::sink::SinkErrorKind::Transient {
                                    retry_after: Some(wait),
                                },
                            ..
                        }) => *wait,
                        _ => Duration::ZERO,
                    };
                    pause = Some(self.retry.backoff(failures, jitter()).max(wait));
                    failures = failures.saturating_add(1);
                    self.shared.progress().last_error = Some(error.to_string());
                    self.shared.changed.notify_all();
                }
            }
        }
    }

    /// Waits until there is work (or `pause` is over, after a failure);
    /// `false` when the recorder stopped.
    fn wait_for_work(&self, pause: Option<Duration>) -> bool {
        let until = pause.map(|pause| Instant::now() + pause);
        let mut progress = self.shared.progress();
        loop {
            if progress.stop {
                return false;
            }
            let now = Instant::now();
            let timeout = match until {
                Some(until) if now < until => until - now,
                Some(_) => return true,
                None if self.due(&progress, now) => return true,
                None => self
                    .chunk_interval
                    .saturating_sub(now - self.last_chunk)
                    .max(Duration::from_millis(10)),
            };
            progress = self
                .shared
                .changed
                .wait_timeout(progress, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn due(&self, progress: &MutexGuard<'_, Progress>, now: Instant) -> bool {
        let pending = progress.recorded.saturating_sub(progress.stored);
        !self.in_sync
            || (progress.finishing && progress.completed.is_none())
            || (pending > 0
                && (progress.flushing > 0
                    || pending >= self.chunk_events as u64
                    || now - self.last_chunk >= self.chunk_interval))
    }

    fn work(&mut self) -> Result<WorkerState, Failure> {
        self.sync()?;
        if self.state().completed.is_some() {
            return Ok(WorkerState::Done);
        }
        self.upload_artifacts()?;
        loop {
            let (events, batch) = self.shared.spool.peek(self.chunk_events)?;
            let stored = self.state().stored_next_seq;
            let fresh: Vec<_> = events.into_iter().filter(|e| e.seq >= stored).collect();
            if fresh.is_empty() {
                if batch.is_empty() {
                    break;
                }
                // Stored already (found by `sync` after a restart).
                self.shared.spool.ack(&batch)?;
                continue;
            }
            let progress = self.shared.progress();
            let go = fresh.len() >= self.chunk_events
                || progress.finishing
                || progress.flushing > 0
                || self.last_chunk.elapsed() >= self.chunk_interval;
            drop(progress);
            if !go {
                return Ok(WorkerState::Idle);
            }
            let state = self.state();
            let chunk = Chunk {
                chunk_id: format!("chunk-{:03}", state.next_chunk_seq),
                chunk_seq: state.next_chunk_seq,
                events: fresh,
            };
            let trace_id = state.trace_id.clone();
            match self.with_token(|client, token| client.ingest(&trace_id, token, &chunk)) {
                Ok(_) => {}
                Err(error) if error.status() == Some(409) => {
                    // A chunk_seq or seq the collector holds with other
                    // content (sent before a crash, with other
                    // boundaries): ask where it stands and go on from
                    // there; the same conflict twice is for good.
                    let before = (self.state().next_chunk_seq, self.state().stored_next_seq);
                    self.resync()?;
                    if self.state().completed.is_some() {
                        return Ok(WorkerState::Done);
                    }
                    if before == (self.state().next_chunk_seq, self.state().stored_next_seq) {
                        return Err(error.into());
                    }
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
            let last = chunk.events.last().map(|e| (e.seq, e.hash.clone()));
            let state = self.state_mut();
            state.next_chunk_seq += 1;
            if let Some((seq, hash)) = last {
                state.stored_next_seq = seq + 1;
                state.stored_head = hash;
            }
            let state = state.clone();
            self.shared.spool.save_upload_state(&state)?;
            self.shared.spool.ack(&batch)?;
            self.last_chunk = Instant::now();
            self.shared.progress().stored = state.stored_next_seq;
            self.shared.changed.notify_all();
        }
        let finishing = self.shared.progress().finishing;
        if finishing && self.shared.spool.queued()? == 0 {
            self.complete()?;
            return Ok(WorkerState::Done);
        }
        Ok(WorkerState::Idle)
    }

    /// Makes sure there is a trace and that the spool agrees with the
    /// collector: creates the trace on the first run, asks
    /// `upload-status` on a resumed one.
    fn sync(&mut self) -> Result<(), Failure> {
        if self.upload.is_none() {
            let created = self.client.create(&self.session)?;
            let state = UploadState {
                trace_id: created.trace_id,
                upload_token: ApiKey::new(created.upload_token),
                next_chunk_seq: 0,
                stored_next_seq: 0,
                stored_head: GENESIS.to_owned(),
                completed: None,
            };
            self.shared.spool.save_upload_state(&state)?;
            self.shared.progress().trace_id = Some(state.trace_id.clone());
            self.upload = Some(state);
            // A new trace holds nothing to agree on.
            self.in_sync = true;
            self.shared.changed.notify_all();
        }
        if !self.in_sync {
            self.resync()?;
        }
        Ok(())
    }

    /// Takes the collector's `upload-status` as the truth: the next
    /// `chunk_seq`, and every event below `next_event_seq` is stored.
    fn resync(&mut self) -> Result<(), Failure> {
        let trace_id = self.state().trace_id.clone();
        let status: UploadStatus =
            self.with_token(|client, token| client.upload_status(&trace_id, token))?;
        if !status.missing_seqs.is_empty() {
            tracing::warn!(
                missing = status.missing_seqs.len(),
                "the collector misses events below its highest; the spool no longer has them"
            );
        }
        let (queued, _) = self.shared.spool.peek(usize::MAX)?;
        let state = self.state_mut();
        state.next_chunk_seq = status.next_chunk_seq;
        if status.next_event_seq > state.stored_next_seq {
            state.stored_next_seq = status.next_event_seq;
            if let Some(event) = queued.iter().find(|e| e.seq + 1 == status.next_event_seq) {
                state.stored_head.clone_from(&event.hash);
            }
        }
        let state = state.clone();
        self.shared.spool.save_upload_state(&state)?;
        self.shared.progress().stored = state.stored_next_seq;
        self.in_sync = true;
        self.shared.changed.notify_all();
        if status.state == "complete" {
            self.complete()?;
        }
        Ok(())
    }

    fn upload_artifacts(&mut self) -> Result<(), Failure> {
        let trace_id = self.state().trace_id.clone();
        for artifact in self.shared.spool.pending_artifacts()? {
            let bytes = artifact.read()?;
            self.with_token(|client, token| {
                client.put_artifact(&trace_id, token, &bytes, artifact.media_type.as_deref())
            })?;
            artifact.remove()?;
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<(), Failure> {
        // An artifact attached while the last chunks went out is uploaded
        // now: `complete` refuses a trace that refers to one it lacks.
        self.upload_artifacts()?;
        let trace_id = self.state().trace_id.clone();
        let completed = self.with_token(|client, token| client.complete(&trace_id, token))?;
        let state = self.state_mut();
        state.completed = Some(completed.clone());
        let state = state.clone();
        self.shared.spool.save_upload_state(&state)?;
        self.shared.progress().completed = Some(completed);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Runs `call` with the upload token; on a 401 (expired) gets a new
    /// token with the ingest key, saves it, and runs `call` once more.
    fn with_token<T>(
        &mut self,
        call: impl Fn(&TraceClient, &ApiKey) -> Result<T, TraceError>,
    ) -> Result<T, TraceError> {
        match call(&self.client, &self.state().upload_token) {
            Err(error) if error.status() == Some(401) => {
                let created = self.client.refresh_token(&self.state().trace_id)?;
                let state = self.state_mut();
                state.upload_token = ApiKey::new(created.upload_token);
                let state = state.clone();
                if let Err(error) = self.shared.spool.save_upload_state(&state) {
                    tracing::warn!(%error, "trace spool: the new upload token was not saved");
                }
                call(&self.client, &state.upload_token)
            }
            result => result,
        }
    }

    fn state(&self) -> &UploadState {
        self.upload
            .as_ref()
            .unwrap_or_else(|| unreachable!("sync runs first"))
    }

    fn state_mut(&mut self) -> &mut UploadState {
        self.upload
            .as_mut()
            .unwrap_or_else(|| unreachable!("sync runs first"))
    }
}
