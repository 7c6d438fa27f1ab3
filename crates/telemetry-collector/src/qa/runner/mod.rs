//! Running a trace's tests again in a clean environment.
//!
//! A [`Runner`] takes an unpacked workspace and a test command and returns
//! what the command did ([`RunOutput`]): its exit, its time, its log
//! (capped), and which limit killed it. Two runners exist:
//! [`sandbox::Sandbox`] (Linux namespaces, through `bwrap` when it is
//! installed) and [`docker::Docker`]. [`report`] reads the framework's
//! report into test counts, and [`validation`] makes the verdict.

pub mod docker;
pub mod report;
pub mod sandbox;
pub mod workspace;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use telemetry_trace::{TestCounts, Validation, Verdict};

pub use report::Framework;
pub use workspace::{UnpackError, unpack_workspace};

/// The limits a test command runs under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock time, seconds: the command is killed after it.
    pub wall_seconds: u64,
    /// CPU time, seconds (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Address space, MiB (`RLIMIT_AS`; Docker's `--memory`).
    pub memory_mb: u64,
    /// Processes and threads (`RLIMIT_NPROC` for the sandbox's user;
    /// Docker's `--pids-limit`).
    pub processes: u64,
    /// The largest file the command may write, MiB (`RLIMIT_FSIZE`).
    pub file_size_mb: u64,
    /// CPUs (Docker's `--cpus`; the sandbox has no CPU share limit).
    pub cpus: f64,
    /// The log kept, KiB: output beyond it is counted and dropped.
    pub output_kb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall_seconds: 600,
            cpu_seconds: 600,
            memory_mb: 2048,
            processes: 256,
            file_size_mb: 256,
            cpus: 1.0,
            output_kb: 1024,
        }
    }
}

impl Limits {
    /// Problems with the values, each naming its key under `qa.limits`.
    #[must_use]
    pub fn issues(&self) -> Vec<String> {
        let mut issues = Vec::new();
        for (key, value, least) in [
            ("wall_seconds", self.wall_seconds, 1),
            ("cpu_seconds", self.cpu_seconds, 1),
            ("memory_mb", self.memory_mb, 16),
            ("processes", self.processes, 2),
            ("file_size_mb", self.file_size_mb, 1),
            ("output_kb", self.output_kb, 1),
        ] {
            if value < least {
                issues.push(format!("`qa.limits.{key}`: must be at least {least}"));
            }
        }
        if !(self.cpus > 0.0 && self.cpus <= 256.0) {
            issues.push("`qa.limits.cpus`: must be more than 0 and at most 256".to_owned());
        }
        issues
    }

    /// The wall clock as a duration.
    #[must_use]
    pub fn wall(&self) -> Duration {
        Duration::from_secs(self.wall_seconds)
    }
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct RunRequest<'a> {
    /// The unpacked workspace: the command's working directory, and the
    /// only place it may write (besides its own `/tmp`).
    pub workspace: &'a Path,
    /// The program and its arguments.
    pub command: &'a [String],
    /// The whole environment besides the runner's `PATH`, `HOME`, `TMPDIR`
    /// and `LANG`.
    pub env: &'a BTreeMap<String, String>,
    /// The limits.
    pub limits: &'a Limits,
    /// Set by the caller to stop the run early (the job's timeout, a lost
    /// lease): the command is killed as at the wall clock.
    pub cancel: &'a AtomicBool,
}

/// What a test command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// What stopped it: the `wall_clock` or `cpu` limit, or `cancelled`
    /// by the caller.
    pub killed_by: Option<String>,
    /// Its wall-clock time.
    pub duration: Duration,
    /// Its standard output and error, interleaved, up to `output_kb`.
    pub log: Vec<u8>,
    /// Bytes written beyond `output_kb`, dropped.
    pub dropped_bytes: u64,
}

/// Why a command could not be run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// What the runner needs is missing (Docker, its image, `bwrap`):
    /// worth retrying once the host is mended.
    #[error("{0}")]
    Unavailable(String),
    /// The runner itself failed.
    #[error("{0}")]
    Failed(String),
}

/// Runs a test command in isolation.
pub trait Runner: Send + Sync + std::fmt::Debug {
    /// The name recorded in `Validation::runner` (`sandbox/bwrap`,
    /// `sandbox/namespaces`, `docker`).
    fn name(&self) -> String;

    /// Runs `request`; blocks until the command ends or is killed.
    fn run(&self, request: &RunRequest<'_>) -> Result<RunOutput, RunError>;
}

/// The variables every runner sets: a fixed `PATH`, `HOME` and `TMPDIR`
/// at `home` and `tmp`, and `LANG`.
fn base_env(home: &str, tmp: &str) -> [(&'static str, String); 4] {
    [
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME", home.to_owned()),
        ("TMPDIR", tmp.to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
    ]
}

/// Whether `program` is an executable file on `PATH` (or a path to one).
#[must_use]
pub fn on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return executable(&path).then_some(path);
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(program))
        .find(|path| executable(path))
}

/// Spawns `command` with its output into one capped pipe, waits for it
/// under `limits`' wall clock or until `cancel` is set (then runs
/// `on_stop` and kills it, and through the runner's
/// `--kill-child`/`--die-with-parent`, everything it started), and
/// collects what it did.
fn supervise(
    mut command: Command,
    limits: &Limits,
    cancel: &AtomicBool,
    on_stop: impl FnOnce(),
) -> Result<RunOutput, RunError> {
    let (reader, writer) =
        std::io::pipe().map_err(|error| RunError::Failed(format!("creating a pipe: {error}")))?;
    let writer_too = writer
        .try_clone()
        .map_err(|error| RunError::Failed(format!("creating a pipe: {error}")))?;
    command
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_too);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|error| RunError::Failed(format!("starting the runner: {error}")))?;
    // The parent's copies of the write ends go with `command`.
    drop(command);
    let cap = usize::try_from(limits.output_kb.saturating_mul(1024)).unwrap_or(usize::MAX);
    let collector = std::thread::spawn(move || collect(reader, cap));
    let (status, stopped) = wait_until(&mut child, started + limits.wall(), cancel, on_stop)?;
    let duration = started.elapsed();
    let (log, dropped_bytes) = collector
        .join()
        .map_err(|_| RunError::Failed("the log reader panicked".to_owned()))?;
    Ok(output(status, stopped, duration, log, dropped_bytes))
}

/// Reads `reader` to its end, keeping the first `cap` bytes.
fn collect(mut reader: std::io::PipeReader, cap: usize) -> (Vec<u8>, u64) {
    let mut kept = Vec::new();
    let mut dropped = 0_u64;
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buffer[..room]);
                dropped += (n - room) as u64;
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (kept, dropped)
}

/// Why a run was stopped before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    WallClock,
    Cancelled,
}

/// Waits for `child` until `deadline` or `cancel`, then kills it; returns
/// its status and what stopped it.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
    cancel: &AtomicBool,
    on_stop: impl FnOnce(),
) -> Result<(ExitStatus, Option<Stopped>), RunError> {
    let failed =
        |error: std::io::Error| RunError::Failed(format!("waiting for the runner: {error}"));
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(failed)? {
            return Ok((status, None));
        }
        let now = Instant::now();
        let cancelled = cancel.load(Ordering::Relaxed);
        if cancelled || now >= deadline {
            on_stop();
            // SIGKILL to the runner; its namespace's init, and so every
            // process in it, dies with it.
            let _ = child.kill();
            let why = if cancelled {
                Stopped::Cancelled
            } else {
                Stopped::WallClock
            };
            return Ok((child.wait().map_err(failed)?, Some(why)));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// `SIGXCPU`, sent when `RLIMIT_CPU`'s soft limit runs out.
const SIGXCPU: i32 = 24;

/// Seconds between `RLIMIT_CPU`'s soft limit (`SIGXCPU`, which ends a
/// process that does not handle it) and its hard one (`SIGKILL`): with no
/// gap the kernel sends only `SIGKILL`, and the cause would not show.
pub(super) const CPU_GRACE_SECONDS: u64 = 5;

fn output(
    status: ExitStatus,
    stopped: Option<Stopped>,
    duration: Duration,
    log: Vec<u8>,
    dropped_bytes: u64,
) -> RunOutput {
    use std::os::unix::process::ExitStatusExt as _;
    // bwrap and `docker run` exit 128 + n for a command that signal n
    // ended, as shells do; unshare re-raises the signal.
    let signal = status.signal().or_else(|| {
        status
            .code()
            .filter(|code| (129..=128 + 64).contains(code))
            .map(|code| code - 128)
    });
    let killed_by = match stopped {
        Some(Stopped::WallClock) => Some("wall_clock".to_owned()),
        Some(Stopped::Cancelled) => Some("cancelled".to_owned()),
        None if signal == Some(SIGXCPU) => Some("cpu".to_owned()),
        None => None,
    };
    RunOutput {
        exit_code: status.code(),
        signal,
        killed_by,
        duration,
        log,
        dropped_bytes,
    }
}

/// The verdict on a run: verified when the command exited 0, its report
/// counts no failure or error, and at least one test passed; an error
/// (not judged) when a limit or a signal ended it or the report could not
/// be read; not verified otherwise.
#[must_use]
pub fn validation(
    runner: &str,
    framework: Framework,
    run: &RunOutput,
    counts: Option<TestCounts>,
    report_problem: Option<String>,
) -> Validation {
    let exited_clean = run.exit_code == Some(0) && run.killed_by.is_none();
    let counts_clean = counts
        .as_ref()
        .is_some_and(|counts| counts.failed == 0 && counts.errors == 0 && counts.passed > 0);
    let tests_passed = exited_clean && counts_clean;
    let undecided = run.killed_by.is_some() || run.signal.is_some() || report_problem.is_some();
    let reason = if let Some(limit) = &run.killed_by {
        Some(match limit.as_str() {
            "wall_clock" => format!(
                "killed after the wall-clock limit ({:.0} s)",
                run.duration.as_secs_f64()
            ),
            "cancelled" => "stopped: the attempt's time ran out or its lease was lost".to_owned(),
            _ => "killed by the CPU-time limit".to_owned(),
        })
    } else if let Some(problem) = report_problem {
        Some(problem)
    } else if let Some(signal) = run.signal {
        Some(format!("ended by signal {signal}"))
    } else if !tests_passed {
        Some(match (&counts, run.exit_code) {
            (Some(c), _) if c.failed.saturating_add(c.errors) > 0 => format!(
                "{} failed, {} errors of {} tests",
                c.failed,
                c.errors,
                [c.passed, c.failed, c.errors, c.skipped]
                    .into_iter()
                    .fold(0_u64, |sum, n| sum + u64::from(n))
            ),
            (Some(c), _) if c.passed == 0 => "no test ran".to_owned(),
            (_, Some(code)) => format!("the test command exited with {code}"),
            _ => "the test command did not finish".to_owned(),
        })
    } else {
        None
    };
    Validation {
        tests_passed,
        verdict: if tests_passed {
            Verdict::Verified
        } else if undecided {
            Verdict::Error
        } else {
            Verdict::NotVerified
        },
        runner: runner.to_owned(),
        framework: framework.as_str().to_owned(),
        counts,
        duration_s: (run.duration.as_secs_f64() * 1000.0).round() / 1000.0,
        exit_code: run.exit_code,
        killed_by: run.killed_by.clone(),
        reason,
        log: None,
    }
}
