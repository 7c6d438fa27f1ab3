//! The QA pipeline: after a trace completes, a job in the collector's own
//! storage runs its tests again in a clean environment ([`runner`]) and
//! scores the session on the reference design's rubric ([`judge`]); the
//! results go into the trace's `qa` field. The workers that run the jobs
//! are [`crate::worker`].

pub mod config;
pub mod judge;
pub mod runner;

pub use config::QaConfig;

use telemetry_trace::{Qa, QaJob};

use crate::storage::StorageError;
use crate::storage::jobs::JobRow;

/// RFC 3339 of Unix milliseconds (`2026-12-02T10:35:19.25Z`).
#[must_use]
pub fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|at| {
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A trace's `qa` field as shown: its job's state, and the results once
/// the job is done.
pub fn shown(job: &JobRow) -> Result<Qa, StorageError> {
    let mut qa: Qa = match &job.result {
        Some(result) => serde_json::from_str(result).map_err(|error| {
            StorageError::Corrupt(format!("qa_jobs.result of {}: {error}", job.trace_id))
        })?,
        None => Qa::default(),
    };
    qa.job = Some(QaJob {
        state: job.state,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        reason: job.reason.clone(),
        enqueued_at: rfc3339_ms(job.enqueued_at_ms),
        updated_at: rfc3339_ms(job.updated_at_ms),
    });
    Ok(qa)
}

/// The frameworks whose reports the runner reads.
pub const FRAMEWORKS: [&str; 5] = ["pytest", "junit", "cargo", "nextest", "unittest"];

/// The most arguments a test command may have.
pub const MAX_COMMAND_ARGS: usize = 64;

/// The longest argument of a test command, in bytes.
pub const MAX_ARG_BYTES: usize = 4096;

/// Whether `command` can be run: one to [`MAX_COMMAND_ARGS`] arguments, a
/// non-empty program, no NUL, none longer than [`MAX_ARG_BYTES`].
pub fn check_command(command: &[String]) -> Result<(), String> {
    match command.first() {
        None => return Err("is empty: give the program and its arguments".to_owned()),
        Some(program) if program.trim().is_empty() => {
            return Err("the program (argument 0) is empty".to_owned());
        }
        Some(_) => {}
    }
    if command.len() > MAX_COMMAND_ARGS {
        return Err(format!(
            "has {} arguments, at most {MAX_COMMAND_ARGS} are taken",
            command.len()
        ));
    }
    for (index, argument) in command.iter().enumerate() {
        if argument.contains('\0') {
            return Err(format!("argument {index} contains a NUL character"));
        }
        if argument.len() > MAX_ARG_BYTES {
            return Err(format!(
                "argument {index} is {} bytes, at most {MAX_ARG_BYTES} are taken",
                argument.len()
            ));
        }
    }
    Ok(())
}

/// Whether `framework` is one of [`FRAMEWORKS`].
pub fn check_framework(framework: &str) -> Result<(), String> {
    if FRAMEWORKS.contains(&framework) {
        Ok(())
    } else {
        Err(format!(
            "`{framework}` is not a known framework: one of {}",
            FRAMEWORKS.join(", ")
        ))
    }
}

/// Whether `path` names a file inside the workspace: relative, `/`
/// separated, without `.`, `..` or empty segments.
pub fn check_report_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if bad {
        Err("must be a path inside the workspace: relative, with `/`, and no `.`, `..` or empty segments".to_owned())
    } else {
        Ok(())
    }
}
