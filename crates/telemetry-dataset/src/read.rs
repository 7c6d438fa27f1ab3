//! Reading interaction logs: which files a `--log-file` names, and their
//! lines, in order, split into batches that worker threads process in
//! parallel while one thread consumes the results in input order.
//!
//! - [`expand`] turns a file, a directory (its `*.jsonl` and `*.jsonl.gz`,
//!   not recursive, in the order the logger wrote them: its rotated
//!   `<stem>.<UTC time>[-N].jsonl[.gz]` files by time and `N`, then the
//!   live `<stem>.jsonl`) or a glob pattern (matches sorted by path) into a
//!   list of files.
//! - [`run`] reads them one after the other, plain or gzip by their first
//!   bytes (not by name), gzip members one after the other
//!   ([`MultiGzDecoder`]), and hands out batches of whole lines.
//!
//! Memory is bounded whatever the size of the logs: at most
//! [`ReadOptions::batches_in_flight`] batches exist at once (their buffers
//! are recycled), and a line longer than [`ReadOptions::max_line_bytes`]
//! ([`MAX_LINE_BYTES`] by default) is reported and
//! skipped rather than held.
//!
//! Problems with the data itself never stop a run. A truncated gzip member
//! is reported as `file: truncated gzip after line N` and what was read is
//! kept; a last line without a newline is flagged so that the caller can
//! report it as torn. Only what makes reading impossible (a file that
//! cannot be opened, an I/O error) is an error.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest line kept by default; a longer one is reported and skipped.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The first bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why the inputs could not be read. Each variant names the path or the
/// pattern, never a byte of the data.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A `--log-file` that is neither a file, a directory nor a pattern
    /// that matches one.
    #[error("{path}: no such file or directory")]
    Missing {
        /// What was given.
        path: String,
    },
    /// A pattern that is not a valid glob.
    #[error("{pattern}: not a valid glob pattern: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A pattern that matches no file.
    #[error("{pattern}: the pattern matches no file")]
    NoMatch {
        /// The pattern.
        pattern: String,
    },
    /// A directory without any `*.jsonl` or `*.jsonl.gz` file.
    #[error("{path}: the directory holds no *.jsonl or *.jsonl.gz file")]
    EmptyDirectory {
        /// The directory.
        path: String,
    },
    /// An I/O error on a file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What failed.
        source: io::Error,
    },
}

impl ReadError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The files `specs` name, each once, in order: each spec's files in the
/// order described in the [module docs](self), specs in the order given.
///
/// A spec that exists is a file or a directory; one that does not and holds
/// `*`, `?` or `[` is a glob pattern, which must match at least one file.
pub fn expand<S: AsRef<str>>(specs: &[S]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for spec in specs {
        let spec = spec.as_ref();
        let path = Path::new(spec);
        let mut found = match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => directory(path)?,
            Ok(_) => vec![path.to_path_buf()],
            Err(error)
                if error.kind() == io::ErrorKind::NotFound && spec.contains(['*', '?', '[']) =>
            {
                pattern(spec)?
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(ReadError::Missing {
                    path: spec.to_owned(),
                });
            }
            Err(error) => return Err(ReadError::io(path, error)),
        };
        found.retain(|file| !files.contains(file));
        files.append(&mut found);
    }
    Ok(files)
}

/// Whether a file name is one of a log's: `*.jsonl` or `*.jsonl.gz`.
#[allow(
    clippy::case_sensitive_file_extension_comparisons,
    reason = "lowercased first"
)]
fn is_log_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
}

fn directory(path: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|error| ReadError::io(path, error))? {
        let entry = entry.map_err(|error| ReadError::io(path, error))?;
        let is_file = entry
            .file_type()
            .map_err(|error| ReadError::io(&entry.path(), error))?
            .is_file();
        if is_file && entry.file_name().to_str().is_some_and(is_log_name) {
            files.push(entry.path());
        }
    }
    if files.is_empty() {
        return Err(ReadError::EmptyDirectory {
            path: path.display().to_string(),
        });
    }
    files.sort_by_cached_key(|path| rotation_order(path));
    Ok(files)
}

/// The order of a log's files: `<stem>.<UTC time>[-N].jsonl[.gz]` by
/// stem, time and N (`-2` after none), and the live `<stem>.jsonl` after
/// the rotated files of its stem. Plain name order gets the `-N` files
/// wrong (`-` sorts before `.`).
fn rotation_order(path: &Path) -> (String, bool, String) {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = name
        .strip_suffix(".gz")
        .unwrap_or(&name)
        .strip_suffix(".jsonl")
        .unwrap_or(&name);
    let (stem, rotated) = base.split_once('.').unwrap_or((base, ""));
    (stem.to_owned(), rotated.is_empty(), rotated.to_owned())
}

fn pattern(spec: &str) -> Result<Vec<PathBuf>, ReadError> {
    let paths = glob::glob(spec).map_err(|error| ReadError::Pattern {
        pattern: spec.to_owned(),
        reason: error.msg.to_owned(),
    })?;
    let mut files = Vec::new();
    for path in paths {
        let path = path.map_err(|error| {
            let path = error.path().display().to_string();
            ReadError::Io {
                path,
                source: error.into(),
            }
        })?;
        if path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(ReadError::NoMatch {
            pattern: spec.to_owned(),
        });
    }
    files.sort();
    Ok(files)
}

/// One input file once read: where, how many bytes, their SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The path, as found.
    pub path: String,
    /// SHA-256 of the bytes on disk (compressed, for a gzip file), in hex.
    pub sha256: String,
    /// Bytes on disk.
    pub bytes: u64,
}

/// Something wrong in the data at a place of an input, as
/// `file:line: reason` or `file: reason`. The reason never quotes the data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The input file, as its path was found.
    pub file: String,
    /// The line, from 1, when the problem is one line's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// Whole lines of one input file.
#[derive(Debug)]
pub struct Batch {
    /// Index of the file in the list given to [`run`].
    pub file: usize,
    /// Number of the batch's first line in its file, from 1.
    pub first_line: u64,
    /// The lines, each ending with `\n` except, when
    /// [`unterminated`](Self::unterminated), the last.
    pub data: Vec<u8>,
    /// Whether the last line has no newline: the file ended there, maybe in
    /// the middle of a write.
    pub unterminated: bool,
    /// The longest line to keep ([`ReadOptions::max_line_bytes`]).
    pub max_line_bytes: usize,
}

impl Batch {
    /// Why `line` is not to be read, if it is longer than
    /// [`max_line_bytes`](Self::max_line_bytes).
    pub fn check_length(&self, line: &[u8]) -> Result<(), String> {
        if line.len() > self.max_line_bytes {
            Err(too_long(self.max_line_bytes))
        } else {
            Ok(())
        }
    }

    /// The lines with their numbers, without their line endings (`\n` or
    /// `\r\n`); the flag is true for a last line without a newline.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8], bool)> + '_ {
        let mut rest = &self.data[..];
        let mut number = self.first_line;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (line, torn) = if let Some(end) = memchr::memchr(b'\n', rest) {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                (line, false)
            } else {
                (std::mem::take(&mut rest), self.unterminated)
            };
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            number += 1;
            Some((number - 1, line, torn))
        })
    }
}

fn too_long(max_line_bytes: usize) -> String {
    format!("longer than {max_line_bytes} bytes, skipped")
}

/// How [`run`] reads.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Threads that process batches (at least 1).
    pub workers: usize,
    /// Bytes a batch aims at; a batch holds whole lines, so it may be
    /// larger by one line.
    pub batch_bytes: usize,
    /// Batches that exist at once, read or being processed or waiting to be
    /// consumed (at least `workers + 1`): with `batch_bytes`, the memory
    /// bound.
    pub batches_in_flight: usize,
    /// Longest line kept; a longer one is reported and skipped.
    pub max_line_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            workers,
            batch_bytes: 1 << 20,
            batches_in_flight: 2 * workers + 2,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// What the consumer of [`run`] is handed, in input order.
#[derive(Debug)]
pub enum Item<'a, R> {
    /// A batch and what a worker made of it.
    Batch(&'a Batch, R),
    /// A problem the reader found (a truncated gzip member, a line too
    /// long), at its place among the batches.
    Problem(Problem),
}

/// A unit of work in input order.
enum Unit {
    Batch(Batch),
    Problem(Problem),
}

/// Reads `files` in order and calls `process` on each batch of lines, on
/// [`ReadOptions::workers`] threads, then `consume` on what it returned, on
/// the calling thread, in input order. `progress` is called from the
/// reading thread with the number of bytes just read from disk.
///
/// Stops early when `consume` returns an error, which is returned; a file
/// that cannot be read is [`ReadError`], wrapped by `E: From<ReadError>`.
/// Returns what was read of each file.
pub fn run<R, E>(
    files: &[PathBuf],
    options: ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
    process: impl Fn(&Batch) -> R + Sync,
    mut consume: impl FnMut(Item<'_, R>) -> Result<(), E>,
) -> Result<Vec<InputFile>, E>
where
    R: Send,
    E: From<ReadError>,
{
    let workers = options.workers.max(1);
    let in_flight = options.batches_in_flight.max(workers + 1);
    let (pool_tx, pool_rx) = sync_channel::<Vec<u8>>(in_flight);
    for _ in 0..in_flight {
        // Cannot fail: the channel has room for every buffer.
        let _ = pool_tx.send(Vec::new());
    }
    let (work_tx, work_rx) = sync_channel::<(u64, Unit)>(in_flight);
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = sync_channel::<(u64, Unit, Option<R>)>(in_flight);

    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            Reader {
                pool: pool_rx,
                work: work_tx,
                seq: 0,
                batch_bytes: options.batch_bytes.max(1),
                max_line_bytes: options.max_line_bytes.max(1),
                progress,
            }
            .read_all(files)
        });
        for _ in 0..workers {
            let work_rx = Arc::clone(&work_rx);
            let done_tx = done_tx.clone();
            let process = &process;
            scope.spawn(move || work(&work_rx, &done_tx, process));
        }
        drop(done_tx);
        drop(work_rx);

        let consumed = consume_in_order(&done_rx, &pool_tx, &mut consume);
        // Unblocks the reader and the workers if consuming stopped early.
        drop(done_rx);
        drop(pool_tx);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        consumed?;
        read.map_err(E::from)
    })
}

fn work<R>(
    work_rx: &Mutex<Receiver<(u64, Unit)>>,
    done_tx: &SyncSender<(u64, Unit, Option<R>)>,
    process: &(impl Fn(&Batch) -> R + Sync),
) {
    loop {
        let next = {
            let Ok(receiver) = work_rx.lock() else { return };
            receiver.recv()
        };
        let Ok((seq, unit)) = next else { return };
        let result = match &unit {
            Unit::Batch(batch) => Some(process(batch)),
            Unit::Problem(_) => None,
        };
        if done_tx.send((seq, unit, result)).is_err() {
            return;
        }
    }
}

fn consume_in_order<R, E>(
    done_rx: &Receiver<(u64, Unit, Option<R>)>,
    pool_tx: &SyncSender<Vec<u8>>,
    consume: &mut impl FnMut(Item<'_, R>) -> Result<(), E>,
) -> Result<(), E> {
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0;
    for (seq, unit, result) in done_rx {
        waiting.insert(seq, (unit, result));
        while let Some((unit, result)) = waiting.remove(&next) {
            next += 1;
            match (unit, result) {
                (Unit::Batch(mut batch), Some(result)) => {
                    consume(Item::Batch(&batch, result))?;
                    batch.data.clear();
                    // The reader may have stopped; the buffer is then freed.
                    let _ = pool_tx.send(batch.data);
                }
                (Unit::Problem(problem), _) => consume(Item::Problem(problem))?,
                (Unit::Batch(_), None) => {}
            }
        }
    }
    Ok(())
}

/// The reading thread.
struct Reader<'p> {
    pool: Receiver<Vec<u8>>,
    work: SyncSender<(u64, Unit)>,
    seq: u64,
    batch_bytes: usize,
    max_line_bytes: usize,
    progress: &'p (dyn Fn(u64) + Sync),
}

/// The consumer stopped: nothing more to read for.
struct Stopped;

/// A file being read: its bytes on disk go through a hash and a counter.
struct Hashing<'p> {
    file: File,
    sha256: Sha256,
    bytes: u64,
    progress: &'p (dyn Fn(u64) + Sync),
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.sha256.update(&buf[..n]);
        self.bytes += n as u64;
        (self.progress)(n as u64);
        Ok(n)
    }
}

impl Reader<'_> {
    fn read_all(mut self, files: &[PathBuf]) -> Result<Vec<InputFile>, ReadError> {
        let mut read = Vec::with_capacity(files.len());
        for (index, path) in files.iter().enumerate() {
            match self.read_file(index, path)? {
                Ok(file) => read.push(file),
                Err(Stopped) => break,
            }
        }
        Ok(read)
    }

    fn send(&mut self, unit: Unit) -> Result<(), Stopped> {
        let seq = self.seq;
        self.seq += 1;
        self.work.send((seq, unit)).map_err(|_| Stopped)
    }

    fn buffer(&self) -> Result<Vec<u8>, Stopped> {
        self.pool.recv().map_err(|_| Stopped)
    }

    fn read_file(
        &mut self,
        index: usize,
        path: &Path,
    ) -> Result<Result<InputFile, Stopped>, ReadError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|error| ReadError::io(path, error))?;
        let mut raw = BufReader::with_capacity(
            256 << 10,
            Hashing {
                file,
                sha256: Sha256::new(),
                bytes: 0,
                progress: self.progress,
            },
        );
        let gzip = raw
            .fill_buf()
            .map_err(|error| ReadError::io(path, error))?
            .starts_with(&GZIP_MAGIC);
        let outcome = if gzip {
            let mut decoder = MultiGzDecoder::new(raw);
            let outcome = self.split(index, &name, &mut decoder)?;
            raw = decoder.into_inner();
            outcome
        } else {
            self.split(index, &name, &mut raw)?
        };
        // Whatever was not read (after a truncated or corrupt member) still
        // counts in the file's hash and size.
        io::copy(&mut raw, &mut io::sink()).map_err(|error| ReadError::io(path, error))?;
        let hashing = raw.into_inner();
        Ok(outcome.map(|()| InputFile {
            path: name,
            sha256: hex::encode(hashing.sha256.finalize()),
            bytes: hashing.bytes,
        }))
    }

    /// Splits the decoded bytes of one file into batches of whole lines.
    /// The outer error is an I/O error of the file itself, the inner one a
    /// stopped consumer.
    fn split(
        &mut self,
        index: usize,
        name: &str,
        decoded: &mut impl Read,
    ) -> Result<Result<(), Stopped>, ReadError> {
        macro_rules! attempt {
            ($e:expr) => {
                match $e {
                    Ok(value) => value,
                    Err(Stopped) => return Ok(Err(Stopped)),
                }
            };
        }
        // Lines handed out so far: the next line's number is `lines + 1`.
        let mut lines: u64 = 0;
        let mut buffer = attempt!(self.buffer());
        // Skipping the rest of a line longer than max_line_bytes.
        let mut skipping = false;
        loop {
            let start = buffer.len();
            let want = self.batch_bytes.saturating_sub(start).max(64 << 10);
            buffer.reserve(want);
            // `read_to_end` on a `take` fills the buffer's spare room without
            // zeroing it first, and keeps what it read before an error.
            let result = decoded.by_ref().take(want as u64).read_to_end(&mut buffer);
            let read = buffer.len() - start;
            if let Err(error) = result {
                let reason = match error.kind() {
                    io::ErrorKind::UnexpectedEof => "truncated gzip".to_owned(),
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                        format!("corrupt gzip ({error})")
                    }
                    _ => return Err(ReadError::io(Path::new(name), error)),
                };
                let complete = lines + memchr::memchr_iter(b'\n', &buffer).count() as u64;
                // What was read before is kept, the torn end included.
                attempt!(self.flush_tail(index, &mut lines, &mut buffer, skipping));
                attempt!(self.send(Unit::Problem(Problem {
                    file: name.to_owned(),
                    line: None,
                    reason: format!("{reason} after line {complete}"),
                })));
                return Ok(Ok(()));
            }
            if read == 0 {
                attempt!(self.flush_tail(index, &mut lines, &mut buffer, skipping));
                return Ok(Ok(()));
            }
            if skipping {
                if let Some(end) = memchr::memchr(b'\n', &buffer) {
                    buffer.drain(..=end);
                    skipping = false;
                } else {
                    buffer.clear();
                    continue;
                }
            }
            if let Some(end) = memchr::memrchr(b'\n', &buffer) {
                if buffer.len() >= self.batch_bytes {
                    let mut next = attempt!(self.buffer());
                    next.extend_from_slice(&buffer[end + 1..]);
                    buffer.truncate(end + 1);
                    let batch = std::mem::replace(&mut buffer, next);
                    attempt!(self.send_batch(index, &mut lines, batch, false));
                }
            } else if buffer.len() > self.max_line_bytes {
                lines += 1;
                attempt!(self.send(Unit::Problem(Problem {
                    file: name.to_owned(),
                    line: Some(lines),
                    reason: too_long(self.max_line_bytes),
                })));
                buffer.clear();
                skipping = true;
            }
        }
    }

    /// Hands out what is left at the end of a file: whole lines and maybe a
    /// last one without a newline.
    fn flush_tail(
        &mut self,
        index: usize,
        lines: &mut u64,
        buffer: &mut Vec<u8>,
        skipping: bool,
    ) -> Result<(), Stopped> {
        let batch = std::mem::take(buffer);
        if skipping || batch.is_empty() {
            return Ok(());
        }
        let unterminated = !batch.ends_with(b"\n");
        self.send_batch(index, lines, batch, unterminated)
    }

    fn send_batch(
        &mut self,
        index: usize,
        lines: &mut u64,
        data: Vec<u8>,
        unterminated: bool,
    ) -> Result<(), Stopped> {
        let first_line = *lines + 1;
        let count = memchr::memchr_iter(b'\n', &data).count() as u64;
        *lines += count + u64::from(unterminated);
        self.send(Unit::Batch(Batch {
            file: index,
            first_line,
            data,
            unterminated,
            max_line_bytes: self.max_line_bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(data: &str, unterminated: bool) -> Batch {
        Batch {
            file: 0,
            first_line: 7,
            data: data.as_bytes().to_vec(),
            unterminated,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }

    #[test]
    fn lines_are_numbered_and_lose_their_endings() {
        let lines: Vec<(u64, String, bool)> = batch("a\r\nb\n\nc", true)
            .lines()
            .map(|(n, line, torn)| (n, String::from_utf8(line.to_vec()).unwrap(), torn))
            .collect();
        assert_eq!(
            lines,
            [
                (7, "a".into(), false),
                (8, "b".into(), false),
                (9, String::new(), false),
                (10, "c".into(), true)
            ]
        );
    }

    #[test]
    fn rotated_files_come_in_the_order_they_were_written_then_the_live_one() {
        let mut names = vec![
            "app.jsonl",
            "app.20250102T000000Z.jsonl.gz",
            "app.20250101T000000Z-2.jsonl.gz",
            "app.20250101T000000Z.jsonl.gz",
            "api.jsonl",
        ];
        names.sort_by_key(|name| rotation_order(Path::new(name)));
        assert_eq!(
            names,
            [
                "api.jsonl",
                "app.20250101T000000Z.jsonl.gz",
                "app.20250101T000000Z-2.jsonl.gz",
                "app.20250102T000000Z.jsonl.gz",
                "app.jsonl",
            ]
        );
    }

    #[test]
    fn log_names() {
        assert!(is_log_name("app.20250101T000000Z-2.jsonl.gz"));
        assert!(is_log_name("app.jsonl"));
        assert!(!is_log_name("app.json"));
        assert!(!is_log_name("app.jsonl.bak"));
    }
}
