//! The durable local queue of telemetry [`Envelope`]s.
//!
//! Envelopes are appended, in batches, to JSON Lines segment files in a
//! directory the application chooses; a sink [`peek`](Queue::peek)s the
//! oldest and [`ack`](Queue::ack)s what it delivered. An envelope leaves the
//! queue only when it is acknowledged, purged, or dropped by the bounds.
//!
//! ```
//! use serde_json::value::RawValue;
//! use telemetry_runtime::queue::{Envelope, Queue, QueueConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let temporary = tempfile::tempdir()?;
//! # let dir = temporary.path().join("queue");
//! let queue = Queue::open(QueueConfig::new(dir))?;
//! let properties = RawValue::from_string(r#"{"hits":3}"#.to_owned())?;
//! queue.append(&[Envelope::new("search", "client-1", properties)])?;
//!
//! let batch = queue.peek(100)?;
//! assert_eq!(batch.envelopes[0].event, "search");
//! // … deliver batch.envelopes, then:
//! queue.ack(&batch)?;
//! assert_eq!(queue.stats()?.events, 0);
//! # Ok(())
//! # }
//! ```
//!
//! # On disk
//!
//! ```text
//! <dir>/                                   0700 on Unix; files 0600
//!   queue.lock                             empty; locked for every operation
//!   segment-00000000000000000001.jsonl     one envelope per line, oldest segment first
//!   segment-00000000000000000002.jsonl     the newest segment takes the appends
//!   cursor.json                            {"segment":2,"offset":4096}: all before it is acknowledged
//!   counters.json                          {"dropped_by_bounds":12,"torn_lines_skipped":1,…}
//! ```
//!
//! Segment ids only grow, even after a purge, so names sort in queue order.
//! Other files in the directory are left alone.
//!
//! # Durability and concurrency
//!
//! - Every operation locks `queue.lock` (std's advisory file lock): exclusive
//!   to change the queue, shared to read it. Several threads and several
//!   processes of the application can use one queue. Reading writes
//!   nothing: the lock file is opened read-only, and a queue without one (or
//!   without a directory) reads as empty, so a queue can be read where it
//!   cannot be written.
//! - [`Queue::append`] writes a whole batch with one `write` and makes it
//!   durable with one `fsync` (group commit). A crash can leave at most the
//!   last line of the newest segment torn: it is skipped and reported when
//!   read, cut off before the next append (so it never glues onto a new
//!   line), and never costs a complete line.
//! - `cursor.json` and `counters.json` are replaced atomically (temporary
//!   file, rename), so a reader sees the old or the new one. A corrupt one
//!   is reset and reported as a [`QueueProblem`], never fatal.
//! - Counters, purges and a cursor moved by the bounds are also made
//!   durable (`fsync` of the file, then of the directory). An
//!   acknowledgement is not: [`Queue::ack`] replaces the cursor and removes
//!   the segments it consumed without syncing, which saves two `fsync`s and
//!   a directory `fsync` per delivered batch. Nothing can be lost by it: the
//!   envelopes are durable in their segments, and after a power cut the
//!   cursor is the new one, the old one (the batch is sent again) or one
//!   that reads as corrupt (reset to the start: everything still queued is
//!   sent again). A resent envelope carries its `uuid` and `timestamp` from
//!   capture, on which PostHog drops duplicates, so the cost of a lost
//!   acknowledgement is a resend, never a lost or a doubled event. A
//!   removal that did not reach the disk leaves a segment behind the
//!   cursor, which reads as acknowledged and is removed by the next
//!   acknowledgement.
//!
//! # Bounds
//!
//! After each append, whole segments are dropped: every segment the queue
//! last wrote to longer than [`QueueConfig::max_age`] ago (age counts from
//! when the queue received an event, never from the event's own timestamp,
//! which a caller may set to any time), then the oldest segments
//! while they total more than [`QueueConfig::max_bytes`] (the newest segment
//! is kept, so a single batch larger than the bound survives until the next
//! one). Unacknowledged envelopes dropped this way are counted in
//! [`Counters::DROPPED_BY_BOUNDS`].

mod bounds;
pub(crate) mod envelope;
mod error;
mod files;
mod state;
mod types;

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

pub use envelope::Envelope;
pub use error::{QueueError, QueueProblem};
pub use state::Counters;
pub use types::{AppendReport, Batch, QueueConfig, QueueStats, ReadReport};

use files::{DirLock, Line, MAX_LINE_BYTES, RawLine, Segment};
use state::Position;

/// The durable local queue: see the [module documentation](self).
///
/// A `Queue` holds no open files and none of the directory's state: every
/// call locks the directory and reads what it needs, so any number of
/// `Queue`s, in any number of threads and processes, can share one
/// directory.
#[derive(Debug, Clone)]
pub struct Queue {
    config: QueueConfig,
    /// Set once the directory is created and checked: by `open`, or by the
    /// first change of a queue opened lazily.
    prepared: Arc<OnceLock<()>>,
    /// Segments this queue wrote from their start: by id, the length it
    /// left and the lines it wrote, so that the bounds can count a dropped
    /// segment without reading it while nothing else wrote to it.
    known: Arc<Mutex<HashMap<u64, (u64, usize)>>>,
}

impl Queue {
    /// Opens the queue in `config.dir`, creating the directory if missing,
    /// and checks that its lock file can be opened and locked.
    pub fn open(config: QueueConfig) -> Result<Self, QueueError> {
        Self::open_within(config, None)
    }

    /// Like [`open`](Self::open), waiting at most `wait` for another holder
    /// of the queue's lock (when set): what `Telemetry`'s `build` does, so
    /// that a stuck process never holds the application up.
    pub(crate) fn open_within(
        config: QueueConfig,
        wait: Option<std::time::Duration>,
    ) -> Result<Self, QueueError> {
        let queue = Self::open_lazily(config)?;
        queue.prepare()?;
        drop(DirLock::acquire_within(queue.dir(), false, wait)?);
        Ok(queue)
    }

    /// Like [`open`](Self::open), but creates and checks nothing: the
    /// directory is created and checked, and the lock file appears, with the
    /// first change, and until then the queue reads as empty. For a caller
    /// that may only look.
    pub(crate) fn open_lazily(config: QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        Ok(Self {
            config,
            prepared: Arc::default(),
            known: Arc::default(),
        })
    }

    /// Creates the directory (private) and checks that it is one, once.
    fn prepare(&self) -> Result<(), QueueError> {
        if self.prepared.get().is_some() {
            return Ok(());
        }
        let dir = self.dir();
        files::create_dir(dir)?;
        let metadata = std::fs::metadata(dir)
            .map_err(|error| QueueError::io("inspect queue directory", dir, error))?;
        if !metadata.is_dir() {
            return Err(QueueError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let _ = self.prepared.set(());
        Ok(())
    }

    /// The exclusive lock, to change the queue, once it is prepared.
    fn lock_to_change(&self) -> Result<DirLock, QueueError> {
        self.prepare()?;
        DirLock::acquire(self.dir(), true)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// The queue directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }

    /// Appends `envelopes`, in order, as one durable batch: the lines are
    /// built first, then written with one `write` and one `fsync`. Then
    /// enforces the bounds.
    ///
    /// The batch goes to the newest segment, or to a new one when it would
    /// take the newest past [`QueueConfig::segment_bytes`]. A torn last line
    /// left by a crash is cut off first. An empty slice does nothing.
    pub fn append(&self, envelopes: &[Envelope]) -> Result<AppendReport, QueueError> {
        let mut report = AppendReport::default();
        if envelopes.is_empty() {
            return Ok(report);
        }
        let mut buf = Vec::with_capacity(
            envelopes
                .iter()
                .map(|envelope| 160 + envelope.properties.get().len())
                .sum(),
        );
        for envelope in envelopes {
            let start = buf.len();
            envelope.write_line(&mut buf);
            if buf.len() - start > MAX_LINE_BYTES {
                buf.truncate(start);
                report.dropped_oversized += 1;
            } else {
                report.appended += 1;
            }
        }
        self.append_buf(&buf, report, Sync::Now)
    }

    /// Appends lines already written by [`Envelope::write_line`] (or
    /// capture's equivalent), like [`append`](Self::append), but leaves
    /// them in the page cache: the writer thread's way, which copies bytes
    /// instead of building envelopes and makes what it wrote durable with
    /// [`sync_segments`](Self::sync_segments), at most a sync window later
    /// or at a flush. [`AppendReport::segment`] names the file written.
    pub(crate) fn append_lines(&self, lines: &[Vec<u8>]) -> Result<AppendReport, QueueError> {
        let mut report = AppendReport::default();
        if lines.is_empty() {
            return Ok(report);
        }
        let mut buf = Vec::with_capacity(lines.iter().map(Vec::len).sum());
        for line in lines {
            if line.len() > MAX_LINE_BYTES {
                report.dropped_oversized += 1;
            } else {
                buf.extend_from_slice(line);
                report.appended += 1;
            }
        }
        self.append_buf(&buf, report, Sync::Later)
    }

    /// Bytes of segment files, as [`QueueStats::bytes`] counts them, read
    /// without the lock: a glance for the writer's pace, which a
    /// concurrent change may make stale at once.
    pub(crate) fn bytes(&self) -> Result<u64, QueueError> {
        Ok(files::list_segments(self.dir())?
            .iter()
            .map(|segment| segment.len)
            .sum())
    }

    /// Makes the segments in `paths`, written by
    /// [`append_lines`](Self::append_lines), durable: one `fdatasync` each,
    /// then one of the directory `dir`, for the names of new ones.
    /// A segment that is gone (acknowledged, or dropped by the bounds) needs
    /// nothing. Takes no lock: syncing changes nothing another process sees.
    pub(crate) fn sync_segments<'p>(
        dir: &Path,
        paths: impl IntoIterator<Item = &'p Path>,
    ) -> Result<(), QueueError> {
        for path in paths {
            let file = match File::open(path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(QueueError::io("open segment to sync", path, error)),
            };
            file.sync_data()
                .map_err(|error| QueueError::io("sync segment", path, error))?;
        }
        // The names of segments created since the last sync.
        files::sync_dir(dir)
    }

    /// Writes `buf` (whole lines), then enforces the bounds.
    fn append_buf(
        &self,
        buf: &[u8],
        mut report: AppendReport,
        sync: Sync,
    ) -> Result<AppendReport, QueueError> {
        let dir = self.dir();
        let _lock = self.lock_to_change()?;
        let mut delta = Counters::default();
        delta.add(Counters::DROPPED_OVERSIZED, report.dropped_oversized as u64);
        let mut cursor = self.repaired_cursor(&mut delta, &mut report.problems)?;
        // Listed once: the lock keeps others out, and writing updates it.
        let mut segments = files::list_segments(dir)?;
        if !buf.is_empty() {
            self.write_batch(cursor, buf, sync, &mut segments, &mut report, &mut delta)?;
        }
        // The batch is written now (and durable, unless the caller syncs
        // later): what fails from here on is reported beside it, never as a
        // failed append, which would count queued envelopes as lost.
        let after = self
            .enforce_bounds(segments, &mut cursor, &mut report)
            .and_then(|()| state::add_counters(dir, &delta));
        match after {
            Ok(problems) => report.problems.extend(problems),
            Err(error) => report.problems.push(QueueProblem::AfterAppend {
                reason: error.to_string(),
            }),
        }
        Ok(report)
    }

    /// Every unacknowledged envelope, oldest first. Torn and corrupt lines are
    /// skipped and counted in the report, never fatal.
    pub fn read_all(&self) -> Result<ReadReport, QueueError> {
        let _lock = DirLock::acquire_to_read(self.dir())?;
        let (cursor, problem) = state::load_cursor(self.dir())?;
        let mut report = ReadReport {
            problems: problem.into_iter().collect(),
            ..ReadReport::default()
        };
        for (segment, from) in unacknowledged(&readable_segments(self.dir())?, cursor) {
            files::scan(&segment.path, from, |line, _| {
                match line {
                    Line::Valid(envelope) => report.envelopes.push(envelope),
                    Line::Corrupt | Line::Torn => report.skipped_lines += 1,
                }
                ControlFlow::Continue(())
            })?;
        }
        Ok(report)
    }

    /// Up to `max` of the oldest unacknowledged envelopes, with their place in
    /// the queue, for [`ack`](Self::ack). Peeking changes nothing: peeking
    /// again returns the same envelopes until they are acknowledged.
    pub fn peek(&self, max: usize) -> Result<Batch, QueueError> {
        self.peek_within(max, None)
    }

    /// Like [`peek`](Self::peek), waiting at most `wait` for another
    /// holder of the queue's lock (when set).
    pub(crate) fn peek_within(
        &self,
        max: usize,
        wait: Option<std::time::Duration>,
    ) -> Result<Batch, QueueError> {
        self.peek_from(None, max, wait)
    }

    /// Like [`peek`](Self::peek), the envelopes that follow `batch`: what
    /// `peek` will return once `batch` is acknowledged. For the courier's
    /// second request in flight.
    pub(crate) fn peek_after(&self, batch: &Batch, max: usize) -> Result<Batch, QueueError> {
        self.peek_from(Some(batch.end), max, None)
    }

    /// Up to `max` envelopes from `start` (or the cursor, when it is
    /// further on or `start` is `None`).
    fn peek_from(
        &self,
        start: Option<Position>,
        max: usize,
        wait: Option<std::time::Duration>,
    ) -> Result<Batch, QueueError> {
        let _lock = DirLock::acquire_to_read_within(self.dir(), wait)?;
        let (cursor, _) = state::load_cursor(self.dir())?;
        let cursor = start.map_or(cursor, |start| start.max(cursor));
        let mut batch = Batch {
            envelopes: Vec::new(),
            skipped_lines: 0,
            start: cursor,
            end: cursor,
        };
        if max == 0 {
            return Ok(batch);
        }
        let segments = readable_segments(self.dir())?;
        let newest = segments.last().map(|segment| segment.id);
        for (segment, from) in unacknowledged(&segments, cursor) {
            let is_newest = Some(segment.id) == newest;
            let mut full = false;
            files::scan(&segment.path, from, |line, offset| {
                match line {
                    Line::Valid(envelope) => batch.envelopes.push(envelope),
                    // A torn tail of the newest segment is cut off by the next
                    // append; elsewhere it is a line like any other.
                    Line::Torn if is_newest => return ControlFlow::Break(()),
                    Line::Corrupt | Line::Torn => batch.skipped_lines += 1,
                }
                batch.end = Position {
                    segment: segment.id,
                    offset,
                };
                full = batch.envelopes.len() >= max;
                if full {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            if full {
                break;
            }
        }
        Ok(batch)
    }

    /// Marks `batch` delivered: persists the cursor past it, then removes the
    /// segments it fully consumed.
    ///
    /// Acknowledging is idempotent and never moves the cursor back: a batch
    /// that was already acknowledged, or whose envelopes were purged or
    /// dropped by the bounds since, changes nothing.
    pub fn ack(&self, batch: &Batch) -> Result<(), QueueError> {
        let dir = self.dir();
        let _lock = self.lock_to_change()?;
        let mut delta = Counters::default();
        let mut problems = Vec::new();
        let cursor = self.repaired_cursor(&mut delta, &mut problems)?;
        if batch.end > cursor {
            // Not synced: a move lost in a power cut only sends the batch
            // again (see "Durability" above).
            state::replace_cursor(dir, batch.end, false)?;
            if batch.start == cursor {
                delta.add(Counters::TORN_LINES_SKIPPED, batch.skipped_lines as u64);
            }
        }
        let cursor = cursor.max(batch.end);
        for segment in files::list_segments(dir)? {
            let consumed = segment.id < cursor.segment
                || (segment.id == cursor.segment && cursor.offset >= segment.len);
            if consumed {
                // Not synced either: a removal lost in a power cut leaves a
                // segment behind the cursor, which reads as acknowledged and
                // goes with the next acknowledgement.
                files::remove(&segment.path, "remove acknowledged segment")?;
            }
        }
        state::add_counters(dir, &delta)?;
        Ok(())
    }

    /// Deletes every queued envelope; returns how many unacknowledged
    /// envelopes there were. Counters are kept, and purged lines are not
    /// counted in them (purging is asked for, not a loss).
    pub fn purge(&self) -> Result<usize, QueueError> {
        let dir = self.dir();
        let _lock = self.lock_to_change()?;
        let mut delta = Counters::default();
        let mut problems = Vec::new();
        let cursor = self.repaired_cursor(&mut delta, &mut problems)?;
        let segments = files::list_segments(dir)?;
        let mut events = 0;
        for (segment, from) in unacknowledged(&readable_segments(dir)?, cursor) {
            events += count_lines(segment, from)?.0;
        }
        let newest = segments.last().map_or(0, |segment| segment.id);
        // Past every segment removed, so that acknowledging an older batch
        // changes nothing and new segments sort after it.
        let next = Position {
            segment: newest.max(cursor.segment).saturating_add(1),
            offset: 0,
        };
        state::save_cursor(dir, next)?;
        for segment in &segments {
            files::remove(&segment.path, "remove segment")?;
        }
        files::sync_dir(dir)?;
        state::add_counters(dir, &delta)?;
        Ok(events)
    }

    /// Counts, sizes and timestamps of the queue, and the persisted counters.
    /// Reads every unacknowledged line.
    pub fn stats(&self) -> Result<QueueStats, QueueError> {
        let dir = self.dir();
        let _lock = DirLock::acquire_to_read(dir)?;
        let (cursor, cursor_problem) = state::load_cursor(dir)?;
        let (counters, counters_problem) = state::load_counters(dir)?;
        let segments = readable_segments(dir)?;
        let mut stats = QueueStats {
            bytes: segments.iter().map(|segment| segment.len).sum(),
            segments: segments.len(),
            counters,
            problems: cursor_problem.into_iter().chain(counters_problem).collect(),
            ..QueueStats::default()
        };
        for (segment, from) in unacknowledged(&segments, cursor) {
            files::scan(&segment.path, from, |line, _| {
                match line {
                    Line::Valid(envelope) => {
                        stats.events += 1;
                        let at = envelope.timestamp;
                        stats.oldest = Some(stats.oldest.map_or(at, |oldest| oldest.min(at)));
                        stats.newest = Some(stats.newest.map_or(at, |newest| newest.max(at)));
                    }
                    Line::Corrupt | Line::Torn => stats.skipped_lines += 1,
                }
                ControlFlow::Continue(())
            })?;
        }
        Ok(stats)
    }

    /// The persisted counters, without reading the segments. A corrupt
    /// counters file reads as all zeros (see [`stats`](Self::stats) for the
    /// problem).
    pub fn counters(&self) -> Result<Counters, QueueError> {
        let _lock = DirLock::acquire_to_read(self.dir())?;
        Ok(state::load_counters(self.dir())?.0)
    }

    /// Adds `n` to the persisted counter `name` (`dropped_by_guard`,
    /// `dropped_channel_full`, …), so that other processes see it in
    /// [`stats`](Self::stats). Adding 0 does nothing.
    pub fn add_counter(&self, name: &'static str, n: u64) -> Result<(), QueueError> {
        if n == 0 {
            return Ok(());
        }
        let _lock = self.lock_to_change()?;
        let mut delta = Counters::default();
        delta.add(name, n);
        state::add_counters(self.dir(), &delta)?;
        Ok(())
    }

    /// The cursor, under the exclusive lock: a corrupt one is reset to the
    /// start of the queue, persisted, counted and reported.
    fn repaired_cursor(
        &self,
        delta: &mut Counters,
        problems: &mut Vec<QueueProblem>,
    ) -> Result<Position, QueueError> {
        let (cursor, problem) = state::load_cursor(self.dir())?;
        if let Some(problem) = problem {
            state::save_cursor(self.dir(), cursor)?;
            delta.add(Counters::CURSOR_RESET, 1);
            problems.push(problem);
        }
        Ok(cursor)
    }

    /// Writes `buf` (whole lines) to the newest of `segments` or a new one,
    /// syncs it, and updates `segments` to match.
    fn write_batch(
        &self,
        cursor: Position,
        buf: &[u8],
        sync: Sync,
        segments: &mut Vec<Segment>,
        report: &mut AppendReport,
        delta: &mut Counters,
    ) -> Result<(), QueueError> {
        let dir = self.dir();
        let mut target = None;
        if let Some(segment) = segments.last_mut() {
            let (file, len, torn_kept) = open_newest(segment, cursor, report, delta)?;
            if len != segment.len {
                segment.len = len;
                segment.modified = None;
            }
            // Never write where the cursor says everything is acknowledged,
            // nor after a torn line that could not be cut off.
            let acknowledged = cursor
                > Position {
                    segment: segment.id,
                    offset: len,
                };
            let fits =
                len == 0 || len.saturating_add(buf.len() as u64) <= self.config.segment_bytes;
            if !torn_kept && !acknowledged && fits {
                target = Some((segment.id, segment.path.clone(), file, len, false));
            }
        }
        let (id, path, mut file, len, created) = if let Some(target) = target {
            target
        } else {
            let id = segments
                .last()
                .map_or(0, |segment| segment.id)
                .max(cursor.segment)
                .saturating_add(1);
            let path = dir.join(files::segment_name(id));
            let file = files::private_options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|error| QueueError::io("create segment", &path, error))?;
            (id, path, file, 0, true)
        };
        if let Err(error) = write_at_end(&mut file, len, buf) {
            // Best effort: take back a partial batch, or leave a torn tail
            // for the next append to cut off.
            let _ = file.set_len(len);
            return Err(QueueError::io("write segment", &path, error));
        }
        if sync == Sync::Now
            && let Err(error) = file.sync_data()
        {
            // Not known to be on disk: take the batch back, so that a failed
            // append means none of it is queued.
            let _ = file.set_len(len);
            return Err(QueueError::io("sync segment", &path, error));
        }
        // A new segment's name is synced with it: here, or by
        // `sync_segments`.
        if created
            && sync == Sync::Now
            && let Err(error) = files::sync_dir(dir)
        {
            // The new segment's name may not survive a power cut: take it
            // back, so that a failed append means none of it is queued.
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(error);
        }
        report.bytes_written = buf.len() as u64;
        report.segment = Some(path.clone());
        self.know(id, len, buf.len() as u64, report.appended, segments);
        let written = Segment {
            id,
            len: len + buf.len() as u64,
            modified: None,
            path,
        };
        if created {
            segments.push(written);
        } else if let Some(newest) = segments.last_mut() {
            *newest = written;
        }
        Ok(())
    }
}

impl Queue {
    /// Records that segment `id`, `len` bytes long, took `lines` lines of
    /// `bytes` bytes: its count stays known while this queue is the only
    /// writer of it. Forgets segments older than the oldest on disk.
    fn know(&self, id: u64, len: u64, bytes: u64, lines: usize, segments: &[Segment]) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        let before = if len == 0 {
            Some(0)
        } else {
            known
                .get(&id)
                .filter(|(known_len, _)| *known_len == len)
                .map(|(_, lines)| *lines)
        };
        match before {
            Some(before) => known.insert(id, (len + bytes, before + lines)),
            None => known.remove(&id),
        };
        let oldest = segments.first().map_or(id, |segment| segment.id);
        known.retain(|known_id, _| *known_id >= oldest);
    }

    /// The lines of `segment` if this queue wrote all of them, as it is.
    fn known_lines(&self, segment: &Segment) -> Option<usize> {
        let known = self.known.lock().ok()?;
        known
            .get(&segment.id)
            .filter(|(len, _)| *len == segment.len)
            .map(|(_, lines)| *lines)
    }
}

/// When an append makes its lines durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Before it returns: one `fdatasync` per append.
    Now,
    /// When the caller syncs the segment ([`Queue::sync_segments`]).
    Later,
}

/// Opens the newest segment for writing and cuts off a torn last line.
/// Returns the file, its length, and whether a torn line was left in
/// place (because the cursor is past it).
fn open_newest(
    segment: &Segment,
    cursor: Position,
    report: &mut AppendReport,
    delta: &mut Counters,
) -> Result<(File, u64, bool), QueueError> {
    let path = &segment.path;
    let mut file = files::private_options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|error| QueueError::io("open segment", path, error))?;
    let read_error = |error| QueueError::io("read segment", path, error);
    let len = file.metadata().map_err(read_error)?.len();
    if files::last_byte(&mut file, len).map_err(read_error)? == Some(b'\n') || len == 0 {
        return Ok((file, len, false));
    }
    let cut = files::end_of_last_line(&mut file, len).map_err(read_error)?;
    let cut_position = Position {
        segment: segment.id,
        offset: cut,
    };
    if cursor > cut_position {
        return Ok((file, len, true));
    }
    file.set_len(cut)
        .map_err(|error| QueueError::io("cut torn line off", path, error))?;
    report.torn_tail_removed = true;
    delta.add(Counters::TORN_LINES_SKIPPED, 1);
    Ok((file, cut, false))
}

/// The segments a reader may deliver: all of them but those an eviction
/// counted and a crash kept from deleting (their events are counted as
/// dropped; the next append deletes them).
fn readable_segments(dir: &Path) -> Result<Vec<Segment>, QueueError> {
    let mut segments = files::list_segments(dir)?;
    let eviction = state::pending_eviction(dir)?;
    segments.retain(|segment| !eviction.covers(segment.id));
    Ok(segments)
}

/// The segments holding unacknowledged lines, each with the offset to read
/// from.
fn unacknowledged(segments: &[Segment], cursor: Position) -> impl Iterator<Item = (&Segment, u64)> {
    segments
        .iter()
        .filter(move |segment| segment.id >= cursor.segment)
        .map(move |segment| {
            let from = if segment.id == cursor.segment {
                cursor.offset
            } else {
                0
            };
            (segment, from)
        })
}

/// Valid and torn-or-corrupt lines of `segment` from `from`, each line
/// checked without building its envelope.
fn count_lines(segment: &Segment, from: u64) -> Result<(usize, usize), QueueError> {
    let (mut valid, mut bad) = (0, 0);
    files::scan_lines(&segment.path, from, |line, _| {
        match line {
            RawLine::Complete(line) if envelope::is_valid_line(line) => valid += 1,
            RawLine::Complete(_) | RawLine::Oversized | RawLine::Torn => bad += 1,
        }
        ControlFlow::Continue(())
    })?;
    Ok((valid, bad))
}

fn write_at_end(file: &mut File, len: u64, buf: &[u8]) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(len))?;
    file.write_all(buf)
}
