//! What can go wrong with the queue, each naming the path involved.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a queue operation failed. Every variant names the file or directory
/// involved; the message includes the operating system's reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The [`QueueConfig`](super::QueueConfig) cannot work.
    #[error("invalid queue configuration for {}: {reason}", dir.display())]
    InvalidConfig {
        /// The queue directory.
        dir: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A file operation failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done (`open segment`, `sync segment`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error. Included in the message rather than
        /// exposed as `source()`, so that a log line shows it once.
        error: io::Error,
    },
    /// The queue directory exists but is not a directory.
    #[error("queue directory {} exists but is not a directory", path.display())]
    NotADirectory {
        /// The path given as the queue directory.
        path: PathBuf,
    },
    /// Something named like a queue file is not a regular file.
    #[error("{} is not a regular file, but its name is that of a queue {what}", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What the name says it is (`segment`).
        what: &'static str,
    },
}

impl QueueError {
    /// The file or directory the error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::InvalidConfig { dir: path, .. }
            | Self::Io { path, .. }
            | Self::NotADirectory { path }
            | Self::NotAFile { path, .. } => path,
        }
    }

    /// The operating system's error, for an I/O failure.
    #[must_use]
    pub fn io_error(&self) -> Option<&io::Error> {
        match self {
            Self::Io { error, .. } => Some(error),
            _ => None,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, error: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            error,
        }
    }
}

/// A problem the queue found and worked around rather than fail: reported so
/// that it is seen, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueProblem {
    /// The counters file could not be parsed. The next write resets it (the
    /// old file is kept beside it as `counters.json.corrupt`) and counts the
    /// reset in [`Counters::COUNTERS_RESET`](super::Counters::COUNTERS_RESET).
    CorruptCounters {
        /// The counters file.
        path: PathBuf,
        /// Why it could not be parsed.
        reason: String,
    },
    /// The acknowledgement cursor could not be parsed: every queued envelope
    /// counts as unacknowledged again (a sender may deliver some twice; their
    /// UUIDs let the server drop the copies). The next write resets it and
    /// counts the reset in [`Counters::CURSOR_RESET`](super::Counters::CURSOR_RESET).
    CorruptCursor {
        /// The cursor file.
        path: PathBuf,
        /// Why it could not be parsed.
        reason: String,
    },
    /// The batch was appended and synced, but enforcing the bounds or
    /// saving the counters afterwards failed (a full disk, say). The bounds
    /// are enforced by the next append that can; what this append would
    /// have added to the persisted counters (lines cut off or too long) is
    /// lost, and the error says why.
    AfterAppend {
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for QueueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CorruptCounters { path, reason } => write!(
                f,
                "corrupt counters file {} reset: {reason}",
                path.display()
            ),
            Self::CorruptCursor { path, reason } => write!(
                f,
                "corrupt cursor file {} reset, unacknowledged envelopes may be sent again: {reason}",
                path.display()
            ),
            Self::AfterAppend { reason } => write!(
                f,
                "events were written, but the bounds or counters could not be updated: {reason}"
            ),
        }
    }
}
