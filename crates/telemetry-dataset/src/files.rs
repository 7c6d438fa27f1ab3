//! The interaction log's files, and how processes share them.
//!
//! - The live file is `log_file_path` (`logs/dspy_production.jsonl`);
//!   every process that logs appends to it with `O_APPEND`, one `write` per
//!   batch of whole lines, holding a shared lock on `<log>.lock`, so lines
//!   of two processes never interleave.
//! - Rotation renames the live file to
//!   `<stem>.<UTC yyyymmddTHHMMSSZ>[_NNN].<ext>` (`dspy_production.20261202T061500Z.jsonl`)
//!   under the exclusive lock; every writer checks, under its shared lock,
//!   that the path still names the file it holds, and reopens it if not, so
//!   nothing is appended to a rotated file once it is handed to the
//!   compressor. Rotated names sort before the live one and in time order.
//! - Compression (`.gz`) runs on a thread of its own: the rotated file is
//!   written to a temporary name, synced, renamed, and only then is the
//!   plain file removed, so a crash leaves one or the other whole. A plain
//!   rotated file found at start (a crash mid-compression) is compressed
//!   then.
//! - Retention: rotated files older than `max_age_days` are deleted, and
//!   while the log's files together exceed `max_total_mb`, the oldest
//!   rotated one is.
//! - A live file whose last line was torn (a crash mid-`write`, a power
//!   cut) gets a newline before anything is appended, so only that line is
//!   lost; readers skip and report it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, SystemTime};

use crate::config::{Compression, Rotation};

const MB: u64 = 1024 * 1024;

/// The names of one log's files.
#[derive(Debug, Clone)]
pub(crate) struct LogPaths {
    pub(crate) live: PathBuf,
    dir: PathBuf,
    stem: String,
    /// With its dot (`.jsonl`), or empty.
    ext: String,
}

impl LogPaths {
    pub(crate) fn new(live: &Path) -> Self {
        let dir = live
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let name = live
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match name.rfind('.') {
            Some(dot) if dot > 0 => (name[..dot].to_owned(), name[dot..].to_owned()),
            _ => (name.clone(), String::new()),
        };
        Self {
            live: live.to_path_buf(),
            dir,
            stem,
            ext,
        }
    }

    pub(crate) fn lock(&self) -> PathBuf {
        let mut name = self.live.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// A rotated name for now that no file has yet, plain or compressed.
    fn rotated(&self, now: SystemTime) -> PathBuf {
        let stamp = stamp(now);
        for n in 0u32.. {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("_{n:03}")
            };
            let path = self
                .dir
                .join(format!("{}.{stamp}{suffix}{}", self.stem, self.ext));
            if !path.exists() && !gz_name(&path).exists() {
                return path;
            }
        }
        unreachable!("u32 rotated names for one second")
    }

    /// Whether `name` is one of this log's rotated files (plain or `.gz`),
    /// and which.
    fn rotated_kind(&self, name: &str) -> Option<bool> {
        let rest = name.strip_prefix(&self.stem)?.strip_prefix('.')?;
        let (rest, gz) = match rest.strip_suffix(".gz") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let stamp = rest.strip_suffix(self.ext.as_str())?;
        // `yyyymmddTHHMMSSZ`, then nothing or `_` and three or more digits.
        let (time, counter) = match stamp.split_once('_') {
            Some((time, counter)) => (time, Some(counter)),
            None => (stamp, None),
        };
        let b = time.as_bytes();
        let time_ok = b.len() == 16
            && b[..8].iter().all(u8::is_ascii_digit)
            && b[8] == b'T'
            && b[9..15].iter().all(u8::is_ascii_digit)
            && b[15] == b'Z';
        let counter_ok = counter.is_none_or(|counter| {
            counter.len() >= 3 && counter.bytes().all(|b| b.is_ascii_digit())
        });
        (time_ok && counter_ok).then_some(gz)
    }

    /// Removes what compressors that are no longer running left behind
    /// (`….jsonl.gz.tmp-<pid>`, the pid gone).
    fn remove_stale_temporaries(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((rotated, pid)) = name.rsplit_once(".gz.tmp-") else {
                continue;
            };
            let running = Path::new("/proc").join(pid).exists();
            if self.rotated_kind(rotated) == Some(false) && !running {
                remove(&entry.path())?;
            }
        }
        Ok(())
    }

    /// This log's rotated files, oldest first, each with whether it is
    /// compressed, its size and modification time.
    fn list_rotated(&self) -> io::Result<Vec<Rotated>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(gz) = self.rotated_kind(&name) {
                let meta = entry.metadata()?;
                found.push(Rotated {
                    path: entry.path(),
                    gz,
                    bytes: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }
}

struct Rotated {
    path: PathBuf,
    gz: bool,
    bytes: u64,
    modified: SystemTime,
}

/// `yyyymmddTHHMMSSZ` in UTC.
fn stamp(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

fn gz_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// The live file as one writer holds it.
pub(crate) struct LiveFile {
    paths: LogPaths,
    rotation: Rotation,
    lock: File,
    file: Option<Open>,
    compressor: Option<Sender<PathBuf>>,
    unsynced: bool,
    /// When retention last ran.
    retained: std::time::Instant,
}

/// How often an idle writer applies retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    size: u64,
    /// When the file's first record was written, as far as this writer
    /// knows: its creation time where the file system records one, or when
    /// this writer opened it or wrote to it empty.
    born: SystemTime,
}

impl LiveFile {
    /// Creates the directory and the lock file, compresses what a crash
    /// left plain, applies retention, and opens the live file.
    pub(crate) fn open(live: &Path, rotation: Rotation) -> io::Result<Self> {
        let paths = LogPaths::new(live);
        fs::create_dir_all(&paths.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(paths.lock())?;
        let compressor = (rotation.compression == Compression::Gzip)
            .then(|| spawn_compressor(paths.clone(), rotation.clone()))
            .flatten();
        let mut live = Self {
            paths,
            rotation,
            lock,
            file: None,
            compressor,
            unsynced: false,
            retained: std::time::Instant::now(),
        };
        live.lock.lock()?;
        let opened = live.reopen();
        live.lock.unlock()?;
        opened?;
        live.paths.remove_stale_temporaries()?;
        if let Some(compressor) = &live.compressor {
            for rotated in live.paths.list_rotated()? {
                if !rotated.gz {
                    let _ = compressor.send(rotated.path);
                }
            }
        }
        retention(&live.paths, &live.rotation)?;
        Ok(live)
    }

    /// Appends `bytes` (whole lines) in one `write`.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.lock.lock_shared()?;
        let written = self.append_locked(bytes);
        self.lock.unlock()?;
        written
    }

    /// Rotates the live file if it is past `max_size_mb` (counting what
    /// every process appended).
    pub(crate) fn rotate_if_full(&mut self) -> io::Result<()> {
        let max = self.rotation.max_size_mb.saturating_mul(MB);
        if self.file.as_ref().is_some_and(|open| open.size >= max) {
            self.rotate()?;
        }
        Ok(())
    }

    fn append_locked(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !self.is_current() {
            // Rotated by another process, or deleted: reopen.
            self.reopen()?;
        }
        let open = self.file.as_mut().expect("reopen leaves a file");
        // The size as the file has it: other processes append too, and one
        // may have died in the middle of a line, which this batch must not
        // continue.
        let size = open.file.metadata()?.len();
        if size == 0 {
            open.born = SystemTime::now();
        } else if !ends_with_newline(&open.file, size)? {
            open.file.write_all(b"\n")?;
        }
        open.file.write_all(bytes)?;
        open.size = open.file.metadata()?.len();
        self.unsynced = true;
        Ok(())
    }

    /// Whether the path still names the file this writer holds.
    fn is_current(&self) -> bool {
        let Some(open) = &self.file else {
            return false;
        };
        fs::metadata(&self.paths.live)
            .is_ok_and(|meta| meta.dev() == open.dev && meta.ino() == open.ino)
    }

    /// Opens the live file, creating it. A torn last line is ended before
    /// the next batch (see [`append`](Self::append)).
    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.paths.live)?;
        let meta = file.metadata()?;
        self.file = Some(Open {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            born: meta.created().unwrap_or_else(|_| SystemTime::now()),
            file,
        });
        Ok(())
    }

    /// Renames the live file to a rotated name (unless another process
    /// did), opens a new one, and hands the rotated one to the compressor.
    pub(crate) fn rotate(&mut self) -> io::Result<()> {
        self.lock.lock()?;
        let rotated = self.rotate_locked();
        self.lock.unlock()?;
        if let (Some(path), Some(compressor)) = (rotated?, &self.compressor) {
            let _ = compressor.send(path);
        } else {
            retention(&self.paths, &self.rotation)?;
        }
        Ok(())
    }

    fn rotate_locked(&mut self) -> io::Result<Option<PathBuf>> {
        let mut rotated = None;
        if self.is_current() {
            if let Some(open) = &self.file {
                open.file.sync_data()?;
            }
            let path = self.paths.rotated(SystemTime::now());
            fs::rename(&self.paths.live, &path)?;
            sync_dir(&self.paths.dir);
            rotated = Some(path);
        }
        self.reopen()?;
        Ok(rotated)
    }

    /// Rotates a live file whose first record is older than
    /// `max_file_age_hours`; an empty one stays.
    pub(crate) fn rotate_if_old(&mut self) -> io::Result<()> {
        let max_age = Duration::from_secs(self.rotation.max_file_age_hours.saturating_mul(3600));
        let old = self.file.as_ref().is_some_and(|open| {
            open.size > 0 && open.born.elapsed().is_ok_and(|age| age >= max_age)
        });
        if old { self.rotate() } else { Ok(()) }
    }

    /// Work due by time: rotation by age, and retention once an hour, so
    /// that files past `max_age_days` go even while nothing is logged.
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        self.rotate_if_old()?;
        if self.retained.elapsed() >= RETENTION_INTERVAL {
            self.retained = std::time::Instant::now();
            retention(&self.paths, &self.rotation)?;
        }
        Ok(())
    }

    /// Makes what was appended durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if let (true, Some(open)) = (self.unsynced, &self.file) {
            open.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// Whether the last of the `size` bytes of `file` is a line break.
fn ends_with_newline(file: &File, size: u64) -> io::Result<bool> {
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, size - 1)?;
    Ok(last[0] == b'\n')
}

fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Starts the thread that compresses rotated files, then applies
/// retention; `None` if it could not start (rotated files stay plain).
fn spawn_compressor(paths: LogPaths, rotation: Rotation) -> Option<Sender<PathBuf>> {
    let (sender, receiver) = mpsc::channel::<PathBuf>();
    let started = std::thread::Builder::new()
        .name("telemetry-dataset-gzip".to_owned())
        .spawn(move || {
            for path in receiver {
                if let Err(error) = compress(&path) {
                    tracing::warn!(file = %path.display(), %error, "interaction log: could not compress a rotated file");
                }
                if let Err(error) = retention(&paths, &rotation) {
                    tracing::warn!(%error, "interaction log: retention failed");
                }
            }
        });
    match started {
        Ok(_) => Some(sender),
        Err(error) => {
            tracing::warn!(%error, "interaction log: no compression thread");
            None
        }
    }
}

/// `path` to `path.gz`, through a temporary file; the plain file is
/// removed once the compressed one is complete and synced.
pub(crate) fn compress(path: &Path) -> io::Result<()> {
    let target = gz_name(path);
    let mut temporary = target.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        let input = File::open(path)?;
        // The compressed file keeps the plain one's age, which retention reads.
        let modified = input.metadata()?.modified()?;
        let mut input = BufReader::new(input);
        let output = File::create(&temporary)?;
        let mut encoder =
            flate2::write::GzEncoder::new(BufWriter::new(output), flate2::Compression::default());
        io::copy(&mut input, &mut encoder)?;
        let output = encoder
            .finish()?
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        output.set_modified(modified)?;
        output.sync_all()?;
        fs::rename(&temporary, &target)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir);
        }
        match fs::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

/// Deletes rotated files older than `max_age_days`, then the oldest while
/// the log's files exceed `max_total_mb`.
fn retention(paths: &LogPaths, rotation: &Rotation) -> io::Result<()> {
    let max_age = Duration::from_secs(rotation.max_age_days.saturating_mul(86_400));
    let mut kept = Vec::new();
    for rotated in paths.list_rotated()? {
        let expired = rotated.modified.elapsed().is_ok_and(|age| age > max_age);
        if expired {
            remove(&rotated.path)?;
        } else {
            kept.push(rotated);
        }
    }
    if let Some(max_total) = rotation.max_total_mb {
        let live = fs::metadata(&paths.live).map_or(0, |meta| meta.len());
        let mut total = live + kept.iter().map(|rotated| rotated.bytes).sum::<u64>();
        for rotated in &kept {
            if total <= max_total.saturating_mul(MB) {
                break;
            }
            remove(&rotated.path)?;
            total -= rotated.bytes;
        }
    }
    Ok(())
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_file_older_than_its_age_limit_is_rotated_and_an_empty_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let rotation = Rotation {
            compression: Compression::None,
            ..Rotation::default()
        };
        let mut live = LiveFile::open(&path, rotation).unwrap();
        let day_ago = SystemTime::now() - Duration::from_secs(25 * 3600);
        live.file.as_mut().unwrap().born = day_ago;
        live.rotate_if_old().unwrap();
        assert!(
            live.paths.list_rotated().unwrap().is_empty(),
            "nothing to rotate"
        );
        live.append(b"{}\n").unwrap();
        live.rotate_if_old().unwrap();
        assert!(
            live.paths.list_rotated().unwrap().is_empty(),
            "its age counts from its first record"
        );
        live.file.as_mut().unwrap().born = day_ago;
        live.rotate_if_old().unwrap();
        let rotated = live.paths.list_rotated().unwrap();
        assert_eq!(rotated.len(), 1);
        assert_eq!(fs::read(&rotated[0].path).unwrap(), b"{}\n");
        assert_eq!(fs::metadata(&path).unwrap().len(), 0, "a new live file");
    }

    #[test]
    fn rotated_names_sort_before_the_live_one_and_are_recognised() {
        let paths = LogPaths::new(Path::new("logs/dspy_production.jsonl"));
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_657_300);
        let rotated = paths.rotated(at);
        let name = rotated.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "dspy_production.20251202T063500Z.jsonl");
        assert!(name < "dspy_production.jsonl");
        assert_eq!(paths.rotated_kind(name), Some(false));
        assert_eq!(paths.rotated_kind(&format!("{name}.gz")), Some(true));
        assert_eq!(
            paths.rotated_kind("dspy_production.20251202T063500Z_003.jsonl.gz"),
            Some(true)
        );
        assert_eq!(paths.rotated_kind("dspy_production.jsonl"), None);
        assert_eq!(paths.rotated_kind("dspy_production.backup.jsonl"), None);
        assert_eq!(paths.rotated_kind("other.20251202T063500Z.jsonl"), None);
        assert_eq!(
            paths.rotated_kind("dspy_production.20251202T063500Z_manual-backup.jsonl"),
            None
        );
        assert_eq!(
            paths.rotated_kind("dspy_production.20251202T0635ZZ.jsonl"),
            None
        );
        // Another log's rotated files, one whose name has no extension.
        let calls = LogPaths::new(Path::new("logs/calls"));
        assert_eq!(
            calls.rotated_kind("calls.20251202T063500Z_001"),
            Some(false)
        );
        assert_eq!(calls.rotated_kind("calls.20251202T063500Z_001.jsonl"), None);
    }
}
