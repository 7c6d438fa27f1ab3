//! The file-system idioms every file of the runtime uses, in one place:
//! private files (0600) and directories (0700), atomic replacement through a
//! temporary file and a rename, and syncing a directory so that a rename or
//! a removal survives a power cut.
//!
//! Errors carry what was being done and on which path, for the callers'
//! own error types.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The action of an [`FsError`] from syncing a directory after a rename:
/// the rename itself is done.
pub(crate) const SYNC_DIR: &str = "sync directory";

/// A file operation that failed: what, where, why.
#[derive(Debug)]
pub(crate) struct FsError {
    pub(crate) action: &'static str,
    pub(crate) path: PathBuf,
    pub(crate) source: io::Error,
}

impl FsError {
    fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Options that create files readable and writable by the user only (0600
/// on Unix); the caller adds read, write, create and truncate.
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Makes an opened file private (0600 on Unix) even when it existed before
/// with a looser mode, which opening with [`private_options`] leaves as it
/// was.
pub(crate) fn make_private(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

/// Creates `dir` and its parents; those it creates are private (0700 on
/// Unix). A `dir` that already exists and that others may write to is
/// tightened to 0700, unless it is a shared directory (sticky bit, as
/// `/tmp`), which is refused: telemetry's files must not sit where another
/// user can replace them.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o022 != 0 {
            if mode & 0o1000 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "a shared directory (others may write to it) cannot hold telemetry's data; choose a private one",
                ));
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            tracing::warn!(dir = %dir.display(), "telemetry directory was writable by others; made it private (0700)");
        }
    }
    Ok(())
}

/// Locks `file` (exclusively, or shared), waiting for other holders at most
/// `wait`, or as long as it takes when `None`. A lock still held after
/// `wait` is an error of kind `WouldBlock` that says how long it waited.
pub(crate) fn lock(file: &File, exclusive: bool, wait: Option<Duration>) -> io::Result<()> {
    let Some(wait) = wait else {
        return if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
    };
    let deadline = Instant::now() + wait;
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "held by another process for more than {} ms",
                        wait.as_millis()
                    ),
                ));
            }
            Err(TryLockError::Error(error)) => return Err(error),
        }
    }
}

/// Flushes `dir`'s entries (new, renamed and removed files) to disk. A no-op
/// where directories cannot be opened as files.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Replaces `path` with `bytes` through `temporary` (in the same directory)
/// and a rename: a reader sees the old content or the new, never a mix. The
/// new file is private. `durable` syncs the file before the rename and the
/// directory after; without it a power loss may leave the old content, or a
/// file that reads as corrupt.
pub(crate) fn replace(
    path: &Path,
    temporary: &Path,
    bytes: &[u8],
    durable: bool,
) -> Result<(), FsError> {
    let write = || -> io::Result<()> {
        let mut file = private_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(temporary)?;
        // A temporary file a crash left behind keeps its mode otherwise.
        make_private(&file)?;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|error| FsError::new("write", temporary, error))?;
    fs::rename(temporary, path).map_err(|error| FsError::new("replace", path, error))?;
    if durable && let Some(dir) = path.parent() {
        sync_dir(dir).map_err(|error| FsError::new(SYNC_DIR, dir, error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_a_private_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let temporary = dir.path().join("state.json.tmp");
        replace(&path, &temporary, b"old", true).unwrap();
        replace(&path, &temporary, b"new", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temporary.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_leftover_temporary_does_not_make_the_file_readable() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.json");
        let temporary = dir.path().join("settings.json.tmp");
        fs::write(&temporary, b"left by a crash").unwrap();
        fs::set_permissions(&temporary, fs::Permissions::from_mode(0o644)).unwrap();
        replace(&path, &temporary, b"{}", true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn errors_name_the_action_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let error = replace(&missing.join("a"), &missing.join("a.tmp"), b"x", true).unwrap_err();
        assert_eq!(error.action, "write");
        assert_eq!(error.path, missing.join("a.tmp"));
    }

    #[cfg(unix)]
    #[test]
    fn created_directories_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        let mode = fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
