//! The queue directory: its files, the lock, atomic replacement, and reading
//! segments line by line.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::envelope::Envelope;
use super::error::QueueError;

/// The lock file, locked for every operation: shared to read, exclusive to
/// write.
pub(crate) const LOCK_FILE: &str = "queue.lock";
/// The acknowledgement cursor.
pub(crate) const CURSOR_FILE: &str = "cursor.json";
/// The persisted counters.
pub(crate) const COUNTERS_FILE: &str = "counters.json";
/// Where a counters file that could not be parsed is kept.
pub(crate) const CORRUPT_COUNTERS_FILE: &str = "counters.json.corrupt";

const SEGMENT_PREFIX: &str = "segment-";
const SEGMENT_SUFFIX: &str = ".jsonl";
const SEGMENT_DIGITS: usize = 20;

/// The longest line read or written. Longer lines are not written, and read
/// as corrupt, without ever being held in memory whole.
pub(crate) use crate::policy::MAX_LINE_BYTES;

/// The file name of segment `id`: zero-padded so that names sort as ids do.
pub(crate) fn segment_name(id: u64) -> String {
    format!("{SEGMENT_PREFIX}{id:0SEGMENT_DIGITS$}{SEGMENT_SUFFIX}")
}

/// The id of a segment file name, `None` for any other name.
fn segment_id(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() == SEGMENT_DIGITS && digits.bytes().all(|byte| byte.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// A segment file found in the directory.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    /// Its sequence number.
    pub(crate) id: u64,
    /// Its path.
    pub(crate) path: PathBuf,
    /// Its length in bytes when listed.
    pub(crate) len: u64,
    /// When it was last written, where the platform says.
    pub(crate) modified: Option<std::time::SystemTime>,
}

/// The segments in `dir`, oldest (smallest id) first. Files with other names
/// are not the queue's and are left alone; a segment name that is not a
/// regular file is an error. A missing directory holds no segments.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<Segment>, QueueError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(QueueError::io("list", dir, error)),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| QueueError::io("list", dir, error))?;
        let Some(id) = entry.file_name().to_str().and_then(segment_id) else {
            continue;
        };
        let path = entry.path();
        let metadata = match fs::metadata(&path) {
            Ok(metadata) => metadata,
            // Removed between listing and looking: not there.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(QueueError::io("inspect segment", path, error)),
        };
        if !metadata.is_file() {
            return Err(QueueError::NotAFile {
                path,
                what: "segment",
            });
        }
        segments.push(Segment {
            id,
            path,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        });
    }
    segments.sort_unstable_by_key(|segment| segment.id);
    Ok(segments)
}

/// Creates `dir` and its missing parents, owner-only on Unix.
pub(crate) fn create_dir(dir: &Path) -> Result<(), QueueError> {
    match crate::fs::create_private_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) => match fs::metadata(dir) {
            Ok(metadata) if !metadata.is_dir() => Err(QueueError::NotADirectory {
                path: dir.to_path_buf(),
            }),
            _ => Err(QueueError::io("create queue directory", dir, error)),
        },
    }
}

pub(crate) use crate::fs::private_options;

/// The lock on the queue directory, released when dropped.
///
/// The lock file is opened anew for every lock, so that it works between
/// threads as well as processes (an advisory lock belongs to an open file),
/// and still works after the directory was removed and created again.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Locks `dir`, waiting for other holders: exclusively to write, shared to
    /// read. Creates the directory if it went missing.
    pub(crate) fn acquire(dir: &Path, exclusive: bool) -> Result<Self, QueueError> {
        Self::acquire_within(dir, exclusive, None)
    }

    /// Like [`acquire`](Self::acquire), waiting at most `wait` (when set).
    pub(crate) fn acquire_within(
        dir: &Path,
        exclusive: bool,
        wait: Option<std::time::Duration>,
    ) -> Result<Self, QueueError> {
        let path = dir.join(LOCK_FILE);
        let open = || {
            private_options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .and_then(|file| crate::fs::make_private(&file).map(|()| file))
        };
        let file = match open() {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_dir(dir)?;
                open().map_err(|error| QueueError::io("open lock file", &path, error))?
            }
            Err(error) => return Err(QueueError::io("open lock file", &path, error)),
        };
        crate::fs::lock(&file, exclusive, wait)
            .map_err(|error| QueueError::io("lock", &path, error))?;
        Ok(Self { file })
    }

    /// Locks `dir` shared, to read, and creates nothing: the lock file is
    /// opened read-only, so that a queue can be read where it cannot be
    /// written (a read-only file system or directory). `None` when there is
    /// no lock file: nothing was ever written under it, so there is nothing
    /// to read but, at worst, a first append still being written, whose
    /// unfinished line reads as torn.
    pub(crate) fn acquire_to_read(dir: &Path) -> Result<Option<Self>, QueueError> {
        Self::acquire_to_read_within(dir, None)
    }

    /// Like [`acquire_to_read`](Self::acquire_to_read), waiting at most
    /// `wait` (when set).
    pub(crate) fn acquire_to_read_within(
        dir: &Path,
        wait: Option<std::time::Duration>,
    ) -> Result<Option<Self>, QueueError> {
        let path = dir.join(LOCK_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(QueueError::io("open lock file", &path, error)),
        };
        crate::fs::lock(&file, false, wait)
            .map_err(|error| QueueError::io("lock", &path, error))?;
        Ok(Some(Self { file }))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first releases it
        // at once on every platform.
        let _ = self.file.unlock();
    }
}

/// Flushes `dir`'s entries (new, renamed and removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    crate::fs::sync_dir(dir).map_err(|error| QueueError::io("sync directory", dir, error))
}

/// Replaces `dir/name` with `bytes` atomically: a temporary file, synced,
/// renamed over it, and the directory synced.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), QueueError> {
    replace(dir, name, bytes, true)
}

/// Replaces `dir/name` with `bytes` as [`crate::fs::replace`] does.
pub(crate) fn replace(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durable: bool,
) -> Result<(), QueueError> {
    let temporary = dir.join(format!("{name}.tmp"));
    crate::fs::replace(&dir.join(name), &temporary, bytes, durable)
        .map_err(|error| QueueError::io(error.action, error.path, error.source))
}

/// Reads `dir/name` as text; `None` if it does not exist.
pub(crate) fn read_optional(dir: &Path, name: &str) -> Result<Option<Vec<u8>>, QueueError> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(QueueError::io("read", path, error)),
    }
}

/// Removes a file; one already gone is fine.
pub(crate) fn remove(path: &Path, action: &'static str) -> Result<(), QueueError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(QueueError::io(action, path, error)),
    }
}

/// One line of a segment, as read.
#[derive(Debug)]
pub(crate) enum Line {
    /// A complete line holding a valid envelope.
    Valid(Envelope),
    /// A complete line that is not a valid envelope (or is too long).
    Corrupt,
    /// The end of the file without a final `\n`: a write cut short.
    Torn,
}

/// Reads the lines of `path` from byte `from`, calling `visit` with each and
/// the offset just past it, until the end or until `visit` breaks. A file
/// that has disappeared reads as empty.
pub(crate) fn scan(
    path: &Path,
    from: u64,
    mut visit: impl FnMut(Line, u64) -> ControlFlow<()>,
) -> Result<(), QueueError> {
    scan_lines(path, from, |line, offset| {
        let parsed = match line {
            RawLine::Complete(bytes) => {
                Envelope::from_line(bytes).map_or(Line::Corrupt, Line::Valid)
            }
            RawLine::Oversized => Line::Corrupt,
            RawLine::Torn => Line::Torn,
        };
        visit(parsed, offset)
    })
}

/// One line of a segment as bytes, before it is parsed.
#[derive(Debug)]
pub(crate) enum RawLine<'a> {
    /// A line that ended in `\n`, without it.
    Complete(&'a [u8]),
    /// A line longer than [`MAX_LINE_BYTES`], not kept.
    Oversized,
    /// The end of the file without a final `\n`.
    Torn,
}

/// Like [`scan`], with each line's bytes unparsed.
pub(crate) fn scan_lines(
    path: &Path,
    from: u64,
    mut visit: impl FnMut(RawLine<'_>, u64) -> ControlFlow<()>,
) -> Result<(), QueueError> {
    let read_error = |error| QueueError::io("read segment", path, error);
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(read_error(error)),
    };
    if from > 0 {
        file.seek(SeekFrom::Start(from)).map_err(read_error)?;
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut offset = from;
    let mut line = Vec::new();
    loop {
        line.clear();
        let (read, complete, oversized) = read_line(&mut reader, &mut line).map_err(read_error)?;
        if read == 0 {
            return Ok(());
        }
        offset += read;
        let raw = if !complete {
            RawLine::Torn
        } else if oversized {
            RawLine::Oversized
        } else {
            RawLine::Complete(&line)
        };
        if visit(raw, offset).is_break() {
            return Ok(());
        }
    }
}

/// Counts the lines of `path` from byte `from` by their shape, without
/// keeping them: complete lines that start with `{` and end with `}`, and
/// the others (a torn last line included). A file that has disappeared
/// reads as empty.
pub(crate) fn count_line_shapes(path: &Path, from: u64) -> Result<(usize, usize), QueueError> {
    let read_error = |error| QueueError::io("read segment", path, error);
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(error) => return Err(read_error(error)),
    };
    if from > 0 {
        file.seek(SeekFrom::Start(from)).map_err(read_error)?;
    }
    let (mut valid, mut bad) = (0, 0);
    // The first byte of the line under way (none yet: at its start), and
    // the last byte read.
    let (mut first, mut last) = (None, 0u8);
    let mut chunk = vec![0; 256 << 10];
    loop {
        let read = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(read_error(error)),
        };
        let chunk = &chunk[..read];
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            if end > start {
                first.get_or_insert(chunk[start]);
                last = chunk[end - 1];
            }
            if first == Some(b'{') && last == b'}' {
                valid += 1;
            } else {
                bad += 1;
            }
            (first, last) = (None, 0);
            start = end + 1;
        }
        if start < chunk.len() {
            first.get_or_insert(chunk[start]);
            last = chunk[chunk.len() - 1];
        }
    }
    if first.is_some() {
        bad += 1;
    }
    Ok((valid, bad))
}

/// Reads one line into `line` (without its `\n`), keeping at most
/// [`MAX_LINE_BYTES`]. Returns the bytes consumed, whether the line ended in
/// `\n`, and whether it was too long.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<(u64, bool, bool)> {
    let mut consumed = 0u64;
    let mut oversized = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            return Ok((consumed, false, oversized));
        }
        let (chunk, used, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (&available[..end], end + 1, true),
            None => (available, available.len(), false),
        };
        if !oversized {
            if line.len() + chunk.len() > MAX_LINE_BYTES {
                oversized = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        consumed += used as u64;
        if done {
            return Ok((consumed, true, oversized));
        }
    }
}

/// The offset just past the last `\n` in the first `len` bytes of `file`, 0
/// if there is none.
pub(crate) fn end_of_last_line(file: &mut File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let bytes = read_range(file, start, end - start)?;
        if let Some(position) = bytes.iter().rposition(|&byte| byte == b'\n') {
            return Ok(start + position as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

/// The last byte of the first `len` bytes of `file`.
pub(crate) fn last_byte(file: &mut File, len: u64) -> io::Result<Option<u8>> {
    if len == 0 {
        return Ok(None);
    }
    Ok(read_range(file, len - 1, 1)?.first().copied())
}

fn read_range(file: &mut File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_like_ids_and_parse_back() {
        assert_eq!(segment_name(7), "segment-00000000000000000007.jsonl");
        assert!(segment_name(9) < segment_name(10));
        assert!(segment_name(u64::MAX - 1) < segment_name(u64::MAX));
        for id in [0, 1, 42, u64::MAX] {
            assert_eq!(segment_id(&segment_name(id)), Some(id));
        }
        for other in [
            "segment-1.jsonl",
            "segment-0000000000000000000x.jsonl",
            "segment-00000000000000000001.json",
            "cursor.json",
            "segment-+0000000000000000001.jsonl",
        ] {
            assert_eq!(segment_id(other), None, "{other}");
        }
    }

    #[test]
    fn lines_are_counted_by_shape_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        let mut data = b"{\"a\":1}\n{\"long\":\"".to_vec();
        // A line that spans two reads, and one whose `}` starts a read.
        data.extend(std::iter::repeat_n(b'x', (256 << 10) - data.len() - 1));
        data.extend(b"\"}\ngarbage\n\n{\"b\":2}\n{\"c\"");
        std::fs::write(&path, &data).unwrap();
        // Valid: the first, the long one, `{"b":2}`; bad: garbage, the empty
        // line, the torn tail.
        assert_eq!(count_line_shapes(&path, 0).unwrap(), (3, 3));
        let second = b"{\"a\":1}\n".len() as u64;
        assert_eq!(count_line_shapes(&path, second).unwrap(), (2, 3));
        assert_eq!(
            count_line_shapes(&dir.path().join("gone"), 0).unwrap(),
            (0, 0)
        );
    }

    #[test]
    fn end_of_last_line_looks_back_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 200_000));
        std::fs::write(&path, &data).unwrap();
        let mut file = File::open(&path).unwrap();
        let len = data.len() as u64;
        assert_eq!(end_of_last_line(&mut file, len).unwrap(), 6);
        assert_eq!(last_byte(&mut file, len).unwrap(), Some(b'x'));
        assert_eq!(end_of_last_line(&mut file, 3).unwrap(), 0);
        assert_eq!(last_byte(&mut file, 0).unwrap(), None);
    }

    #[test]
    fn long_lines_are_skipped_without_being_kept() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nshort\ntail");
        let mut reader = BufReader::with_capacity(4096, &data[..]);
        let mut line = Vec::new();
        let (read, complete, oversized) = read_line(&mut reader, &mut line).unwrap();
        assert_eq!(
            (read, complete, oversized),
            (MAX_LINE_BYTES as u64 + 11, true, true)
        );
        assert!(line.is_empty());
        line.clear();
        assert_eq!(read_line(&mut reader, &mut line).unwrap(), (6, true, false));
        assert_eq!(line, b"short");
        line.clear();
        assert_eq!(
            read_line(&mut reader, &mut line).unwrap(),
            (4, false, false)
        );
        line.clear();
        assert_eq!(
            read_line(&mut reader, &mut line).unwrap(),
            (0, false, false)
        );
    }
}
