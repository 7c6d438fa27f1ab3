//! The recorder's directory: the events not yet acknowledged (the
//! runtime's durable queue, one envelope per event), artifacts waiting for
//! upload, and the few facts a restart needs, each in a small JSON file
//! replaced atomically.
//!
//! ```text
//! <dir>/                 0700 on Unix; files 0600
//!   spool.lock           held (advisory, exclusive) while a recorder uses the directory
//!   session.json         the redacted CreateTrace, written once
//!   chain.json           {"next_seq": 12, "head": "…"}: what the recorder sealed last
//!   upload.json          {"trace_id", "upload_token", "next_chunk_seq", "stored_next_seq", "stored_head", "completed"}
//!   queue/               telemetry-runtime's queue: sealed events not yet stored by the collector
//!   artifacts/<sha256>   bytes not yet uploaded, beside <sha256>.type (their media type)
//! ```
//!
//! Two threads write: the recorder writes `chain.json` (after the event is
//! durable in the queue) and the uploader writes `upload.json`, so no file
//! has two writers. A crash between an append and its `chain.json` leaves
//! the queue ahead of the file; [`Spool::chain_position`] takes the furthest
//! of the three records.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use telemetry_runtime::queue::{Batch, Envelope, Queue, QueueConfig, QueueError};
use telemetry_trace::wire::{Completed, CreateTrace};
use telemetry_trace::{Event, GENESIS};

use crate::config::ApiKey;

/// The envelope's event name for a trace event in the queue.
const EVENT_NAME: &str = "trace_event";

/// The spool could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// A file of the spool could not be read or written.
    #[error("trace spool: cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// A state file holds something else than this client writes.
    #[error("trace spool: {} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The queue of events failed.
    #[error("trace spool: {0}")]
    Queue(#[from] QueueError),
    /// Another recorder, in this process or another, holds the directory.
    #[error("trace spool: {} is in use by another recorder", dir.display())]
    Busy {
        /// The spool directory.
        dir: PathBuf,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What the recorder sealed last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChainPosition {
    /// The seq of the next event.
    pub(crate) next_seq: u64,
    /// The hash of the last event, or [`GENESIS`].
    pub(crate) head: String,
}

impl Default for ChainPosition {
    fn default() -> Self {
        Self {
            next_seq: 0,
            head: GENESIS.to_owned(),
        }
    }
}

/// What the uploader knows of the collector's side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadState {
    pub(crate) trace_id: String,
    pub(crate) upload_token: ApiKey,
    /// The `chunk_seq` of the next chunk.
    pub(crate) next_chunk_seq: u64,
    /// Every event below this seq is stored by the collector.
    pub(crate) stored_next_seq: u64,
    /// The hash of the event at `stored_next_seq - 1`, or [`GENESIS`].
    pub(crate) stored_head: String,
    /// The collector's answer to `complete`, once it gave one.
    pub(crate) completed: Option<Completed>,
}

/// An artifact waiting for upload.
#[derive(Debug, Clone)]
pub(crate) struct PendingArtifact {
    pub(crate) sha256: String,
    pub(crate) media_type: Option<String>,
    pub(crate) path: PathBuf,
}

impl PendingArtifact {
    pub(crate) fn read(&self) -> Result<Vec<u8>, SpoolError> {
        fs::read(&self.path).map_err(io_error("read", &self.path))
    }

    /// Forgets an uploaded artifact.
    pub(crate) fn remove(&self) -> Result<(), SpoolError> {
        for path in [self.path.clone(), self.path.with_extension("type")] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(io_error("remove", &path)(error)),
            }
        }
        Ok(())
    }
}

/// The spool directory, locked for as long as this value lives.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    queue: Queue,
    /// Holds the advisory lock; released when dropped, or by the OS when
    /// the process dies.
    _lock: File,
}

impl Spool {
    /// Opens (creating) the spool in `dir` and locks it.
    pub(crate) fn open(dir: &Path) -> Result<Self, SpoolError> {
        create_private_dir(dir)?;
        create_private_dir(&dir.join("artifacts"))?;
        let lock_path = dir.join("spool.lock");
        let lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error("open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SpoolError::Busy {
                    dir: dir.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(io_error("lock", &lock_path)(error));
            }
        }
        // A trace must never lose an event to the queue's bounds: a dropped
        // event is a gap the collector refuses. No bound in practice.
        let queue = Queue::open(QueueConfig {
            max_bytes: u64::MAX,
            max_age: Duration::from_secs(100 * 365 * 24 * 3600),
            ..QueueConfig::new(dir.join("queue"))
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            queue,
            _lock: lock,
        })
    }

    pub(crate) fn session(&self) -> Result<Option<CreateTrace>, SpoolError> {
        read_json(&self.dir.join("session.json"))
    }

    pub(crate) fn save_session(&self, session: &CreateTrace) -> Result<(), SpoolError> {
        write_json(&self.dir.join("session.json"), session)
    }

    pub(crate) fn upload_state(&self) -> Result<Option<UploadState>, SpoolError> {
        read_json(&self.dir.join("upload.json"))
    }

    pub(crate) fn save_upload_state(&self, state: &UploadState) -> Result<(), SpoolError> {
        write_json(&self.dir.join("upload.json"), state)
    }

    pub(crate) fn save_chain(&self, position: &ChainPosition) -> Result<(), SpoolError> {
        write_json(&self.dir.join("chain.json"), position)
    }

    /// Where the chain stands: the furthest of `chain.json`, the newest
    /// event in the queue, and what the collector stored.
    pub(crate) fn chain_position(&self) -> Result<ChainPosition, SpoolError> {
        let mut position: ChainPosition =
            read_json(&self.dir.join("chain.json"))?.unwrap_or_default();
        if let Some(upload) = self.upload_state()?
            && upload.stored_next_seq > position.next_seq
        {
            position = ChainPosition {
                next_seq: upload.stored_next_seq,
                head: upload.stored_head,
            };
        }
        let queued = self.queue.read_all()?;
        if let Some(last) = queued.envelopes.iter().rev().find_map(decode)
            && last.seq >= position.next_seq
        {
            position = ChainPosition {
                next_seq: last.seq + 1,
                head: last.hash,
            };
        }
        Ok(position)
    }

    /// Appends `event`, durably (one `fsync`); returns `false` when it is
    /// too large for the queue (1 MiB a line), and then wrote nothing.
    pub(crate) fn append(&self, event: &Event, label: &str) -> Result<bool, SpoolError> {
        let json = serde_json::to_string(event)
            .unwrap_or_else(|error| unreachable!("an event serializes: {error}"));
        let properties = RawValue::from_string(json)
            .unwrap_or_else(|error| unreachable!("serde_json wrote JSON: {error}"));
        let report = self
            .queue
            .append(&[Envelope::new(EVENT_NAME, label, properties)])?;
        Ok(report.appended == 1)
    }

    /// The oldest `max` queued events, with the batch to acknowledge.
    pub(crate) fn peek(&self, max: usize) -> Result<(Vec<Event>, Batch), SpoolError> {
        let batch = self.queue.peek(max)?;
        let events = batch.envelopes.iter().filter_map(decode).collect();
        Ok((events, batch))
    }

    pub(crate) fn ack(&self, batch: &Batch) -> Result<(), SpoolError> {
        Ok(self.queue.ack(batch)?)
    }

    /// Events still queued.
    pub(crate) fn queued(&self) -> Result<usize, SpoolError> {
        Ok(self.queue.stats()?.events)
    }

    /// Keeps `bytes` until the uploader has sent them.
    pub(crate) fn save_artifact(
        &self,
        sha256: &str,
        bytes: &[u8],
        media_type: Option<&str>,
    ) -> Result<(), SpoolError> {
        let path = self.dir.join("artifacts").join(sha256);
        // The type first: an artifact without its data is not pending.
        write_file(
            &path.with_extension("type"),
            media_type.unwrap_or("").as_bytes(),
        )?;
        write_file(&path, bytes)
    }

    /// Artifacts waiting for upload, in name order.
    pub(crate) fn pending_artifacts(&self) -> Result<Vec<PendingArtifact>, SpoolError> {
        let dir = self.dir.join("artifacts");
        let mut pending = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_error("list", &dir))? {
            let entry = entry.map_err(io_error("list", &dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let path = entry.path();
            let media_type = fs::read_to_string(path.with_extension("type"))
                .ok()
                .filter(|media_type| !media_type.is_empty());
            pending.push(PendingArtifact {
                sha256: name.to_owned(),
                media_type,
                path,
            });
        }
        pending.sort_by(|a, b| a.sha256.cmp(&b.sha256));
        Ok(pending)
    }
}

/// A queued envelope's event; a line that is not one is skipped and
/// logged (the queue wrote it whole, so only a foreign writer can cause
/// it).
fn decode(envelope: &Envelope) -> Option<Event> {
    match serde_json::from_str(envelope.properties.get()) {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(%error, "trace spool: a queued line is not an event; skipped");
            None
        }
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, SpoolError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error("read", path)(error)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| SpoolError::Corrupt {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), SpoolError> {
    let json = serde_json::to_vec_pretty(value)
        .unwrap_or_else(|error| unreachable!("state serializes: {error}"));
    write_file(path, &json)
}

/// Replaces `path` atomically and durably: a temporary file beside it
/// (private), `fsync`, rename, `fsync` of the directory. A crash leaves
/// the old file or the new one, never a mixture.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io_error("create in", dir))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(io_error("write", file.path()))?;
    file.persist(path)
        .map_err(|error| io_error("replace", path)(error.error))?;
    sync_dir(dir)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("sync", dir))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), SpoolError> {
    Ok(())
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_error("create", dir))
}
