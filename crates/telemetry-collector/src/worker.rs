//! The QA workers: each claims the next due job under a lease, renews the
//! lease while it works, validates the trace's fix with the [`Runner`] and
//! scores it with the [`Judge`], and ends the job: done with the results,
//! queued again after a backoff, or failed with its reason.
//!
//! Workers run inside `serve` (`--workers N`) or in `telemetry-collector
//! worker` processes on the same database; the storage's claim keeps any
//! number of them from taking one job twice, and a job whose worker died
//! is claimed again once its lease expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telemetry_trace::{
    ArtifactRef, CompleteTrace, Judgement, Qa, Trace, Validation, ValidationRequest, Verdict,
};
use tokio::sync::watch;

use crate::qa::QaConfig;
use crate::qa::config::RunnerKind;
use crate::qa::judge::Judge;
use crate::qa::runner::docker::Docker;
use crate::qa::runner::sandbox::Sandbox;
use crate::qa::runner::{
    Framework, RunError, RunOutput, RunRequest, Runner, UnpackError, unpack_workspace,
};
use crate::server::{App, artifact_path, load_trace};
use crate::storage::Storage;
use crate::storage::jobs::{Claim, ClaimedJob, JobEnd};

/// What the workers validate and judge with.
#[derive(Debug, Clone)]
pub struct Engine {
    config: QaConfig,
    judge: Arc<dyn Judge>,
}

impl Engine {
    /// The engine for `config`, scoring with `judge`.
    #[must_use]
    pub fn new(config: QaConfig, judge: Arc<dyn Judge>) -> Self {
        Self { config, judge }
    }

    /// The engine `config` describes, with its configured judge; `Err`
    /// names the setting that keeps it from starting.
    pub fn from_config(config: &QaConfig) -> Result<Self, String> {
        if config.runner == RunnerKind::Sandbox
            && let Ok(sandbox) = Sandbox::new(config.sandbox, &config.read_only_paths)
        {
            if !sandbox.uses_bwrap() {
                tracing::warn!(
                    "the QA sandbox runs without bwrap: tests can read the host's world-readable files and reach its Unix sockets; install bubblewrap to hide them (docs/qa.md)"
                );
            }
            if !sandbox.drops_user() {
                tracing::warn!(
                    "the collector is not root, so QA tests run as its own user and may write what it may; run it as a dedicated user (docs/qa.md)"
                );
            }
        }
        Ok(Self::new(
            config.clone(),
            crate::qa::judge::from_config(config)?,
        ))
    }

    /// The configured runner, made for each attempt (so that Docker or
    /// `bwrap` installed later is found).
    fn runner(&self) -> Result<Box<dyn Runner>, RunError> {
        Ok(match self.config.runner {
            RunnerKind::Sandbox => Box::new(Sandbox::new(
                self.config.sandbox,
                &self.config.read_only_paths,
            )?),
            RunnerKind::Docker => Box::new(Docker::new(&self.config.docker_image)?),
        })
    }
}

/// Tells the workers to stop; they finish the attempt in hand first. Dropping
/// it stops them as well.
#[derive(Debug)]
pub struct Stop(watch::Sender<bool>);

impl Stop {
    /// Asks every worker to stop after its current job.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

/// Starts `workers` workers on `app`'s storage; returns the handle that
/// stops them and their tasks.
pub fn spawn<S: Storage>(
    app: &Arc<App<S>>,
    engine: &Arc<Engine>,
    workers: usize,
) -> (Stop, Vec<tokio::task::JoinHandle<()>>) {
    let (sender, receiver) = watch::channel(false);
    let process = uuid::Uuid::new_v4().simple().to_string();
    let tasks = (0..workers)
        .map(|n| {
            let name = format!("{}-{}-{n}", std::process::id(), &process[..8]);
            tokio::spawn(work(
                Arc::clone(app),
                Arc::clone(engine),
                name,
                receiver.clone(),
            ))
        })
        .collect();
    (Stop(sender), tasks)
}

async fn work<S: Storage>(
    app: Arc<App<S>>,
    engine: Arc<Engine>,
    name: String,
    mut stop: watch::Receiver<bool>,
) {
    let config = &engine.config;
    let idle = Duration::from_millis(config.poll_interval_ms);
    tracing::info!(worker = %name, "QA worker started");
    while !*stop.borrow() {
        let claim = Claim {
            worker: name.clone(),
            now_ms: app.now_ms(),
            lease_ms: millis(config.lease()),
        };
        let wait = match app.storage().qa_claim(claim).await {
            Ok(Some(job)) => {
                run_job(&app, &engine, &name, job).await;
                continue;
            }
            Ok(None) => idle,
            Err(error) => {
                tracing::warn!(worker = %name, %error, "claiming a QA job failed");
                idle.max(Duration::from_secs(1))
            }
        };
        // A dropped `Stop` stops the workers too.
        if let Ok(Err(_)) = tokio::time::timeout(wait, stop.changed()).await {
            break;
        }
    }
    tracing::info!(worker = %name, "QA worker stopped");
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Why an attempt ended without results.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt (a missing runner, a storage or judge error).
    Transient(String),
    /// No attempt will do better (a refused snapshot, a missing trace).
    Permanent(String),
}

async fn run_job<S: Storage>(app: &Arc<App<S>>, engine: &Arc<Engine>, name: &str, job: ClaimedJob) {
    let config = &engine.config;
    let trace_id = job.trace_id.clone();
    tracing::info!(worker = %name, trace_id, attempt = job.attempt, "QA job claimed");
    let (lost_sender, mut lost) = watch::channel(false);
    let renewer = {
        let app = Arc::clone(app);
        let (trace_id, name) = (trace_id.clone(), name.to_owned());
        let lease = config.lease();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = app.now_ms().saturating_add(millis(lease));
                match app
                    .storage()
                    .qa_renew(trace_id.clone(), name.clone(), until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = lost_sender.send(true);
                        return;
                    }
                    Err(error) => tracing::warn!(trace_id, %error, "renewing a QA lease failed"),
                }
            }
        })
    };
    let timeout = Duration::from_secs(config.timeout_seconds);
    // Stops a test command still running when the attempt is given up (a
    // blocking thread does not stop with its future).
    let cancel = Arc::new(AtomicBool::new(false));
    let outcome = tokio::select! {
        outcome = tokio::time::timeout(timeout, attempt(app, engine, &job, &cancel)) => Some(outcome),
        _ = lost.wait_for(|lost| *lost) => None,
    };
    cancel.store(true, Ordering::Relaxed);
    renewer.abort();
    let Some(outcome) = outcome else {
        tracing::warn!(worker = %name, trace_id, "QA lease lost: another worker has the job");
        return;
    };
    let end = match outcome {
        Ok(Ok((qa, artifacts))) => JobEnd::Done {
            verified: qa
                .validation
                .as_ref()
                .filter(|v| v.verdict != Verdict::Skipped)
                .map(|v| v.tests_passed),
            overall: qa.judge.as_ref().and_then(|j| j.overall),
            result: serde_json::to_string(&qa).unwrap_or_default(),
            artifacts,
        },
        Ok(Err(Failure::Permanent(reason))) => JobEnd::Failed { reason },
        Ok(Err(Failure::Transient(reason))) => retry_or_fail(app, config, &job, reason),
        Err(_) => retry_or_fail(
            app,
            config,
            &job,
            format!("the attempt took longer than {} s", config.timeout_seconds),
        ),
    };
    let state = match &end {
        JobEnd::Done { .. } => "done",
        JobEnd::Retry { .. } => "queued again",
        JobEnd::Failed { .. } => "failed",
    };
    match app
        .storage()
        .qa_end(trace_id.clone(), name.to_owned(), end, app.now_ms())
        .await
    {
        Ok(true) => tracing::info!(worker = %name, trace_id, state, "QA job ended"),
        Ok(false) => tracing::warn!(worker = %name, trace_id, "QA lease lost before the job ended"),
        Err(error) => tracing::warn!(worker = %name, trace_id, %error, "ending a QA job failed"),
    }
}

fn retry_or_fail<S: Storage>(
    app: &App<S>,
    config: &QaConfig,
    job: &ClaimedJob,
    reason: String,
) -> JobEnd {
    if job.attempt >= job.max_attempts {
        JobEnd::Failed {
            reason: format!("{reason} (attempt {} of {})", job.attempt, job.max_attempts),
        }
    } else {
        JobEnd::Retry {
            reason,
            run_after_ms: app
                .now_ms()
                .saturating_add(millis(config.backoff(job.attempt))),
        }
    }
}

/// One attempt: validation (when the completion asked for it), then the
/// judge; the results and the blobs they refer to.
async fn attempt<S: Storage>(
    app: &Arc<App<S>>,
    engine: &Arc<Engine>,
    job: &ClaimedJob,
    cancel: &Arc<AtomicBool>,
) -> Result<(Qa, Vec<(String, u64)>), Failure> {
    let request: CompleteTrace = serde_json::from_str(&job.request).map_err(|error| {
        Failure::Permanent(format!("the stored complete body does not parse: {error}"))
    })?;
    let (_, trace) = load_trace(app, &job.trace_id).await.map_err(|error| {
        if error.is_transient() {
            Failure::Transient(error.message().to_owned())
        } else {
            Failure::Permanent(error.message().to_owned())
        }
    })?;
    let (validation, log) = match &request.validation {
        None => (skipped(), None),
        Some(asked) => {
            let (validation, log) = validate(app, engine, asked, cancel).await?;
            (validation, Some(log))
        }
    };
    let judge = Arc::clone(&engine.judge);
    let shown = validation.clone();
    let judgement: Judgement =
        tokio::task::spawn_blocking(move || judge.judge(&trace_only(trace), Some(&shown)))
            .await
            .map_err(|error| Failure::Transient(format!("the judge panicked: {error}")))?
            .map_err(|error| Failure::Transient(format!("the judge: {error}")))?;
    // The log is stored last, when nothing else can fail: a retried
    // attempt leaves no blob that no trace owns.
    let mut artifacts = Vec::new();
    if let (Some(bytes), Some(artifact)) = (log, &validation.log) {
        app.blobs()
            .store()
            .put(&artifact_path(&artifact.sha256), bytes.into())
            .await
            .map_err(|error| Failure::Transient(format!("storing the test log: {error}")))?;
        artifacts.push((artifact.sha256.clone(), artifact.size));
    }
    Ok((
        Qa {
            job: None,
            validation: Some(validation),
            judge: Some(judgement),
        },
        artifacts,
    ))
}

/// The trace as the session recorded it, without the QA results of an
/// earlier attempt.
fn trace_only(mut trace: Trace) -> Trace {
    trace.qa = None;
    trace
}

fn skipped() -> Validation {
    Validation {
        tests_passed: false,
        verdict: Verdict::Skipped,
        runner: String::new(),
        framework: String::new(),
        counts: None,
        duration_s: 0.0,
        exit_code: None,
        killed_by: None,
        reason: Some("the completion named no workspace snapshot and test command".to_owned()),
        log: None,
    }
}

/// Unpacks the workspace snapshot, runs the test command and reads the
/// report; returns the validation, which names the (redacted) log, and the
/// log's bytes, to store.
async fn validate<S: Storage>(
    app: &Arc<App<S>>,
    engine: &Arc<Engine>,
    asked: &ValidationRequest,
    cancel: &Arc<AtomicBool>,
) -> Result<(Validation, Vec<u8>), Failure> {
    let framework: Framework = asked.framework.parse().map_err(Failure::Permanent)?;
    let snapshot = match app
        .blobs()
        .store()
        .get(&artifact_path(&asked.workspace_sha256))
        .await
    {
        Ok(found) => found.bytes().await.map_err(|error| {
            Failure::Transient(format!("reading the workspace snapshot: {error}"))
        })?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Failure::Permanent(format!(
                "the workspace snapshot {} is gone from the blob store",
                asked.workspace_sha256
            )));
        }
        Err(error) => {
            return Err(Failure::Transient(format!(
                "reading the workspace snapshot: {error}"
            )));
        }
    };
    let engine = Arc::clone(engine);
    let asked = asked.clone();
    let cancel = Arc::clone(cancel);
    let (mut validation, bytes) = tokio::task::spawn_blocking(move || {
        let (validation, log) = run_tests(&engine, &snapshot, &asked, framework, &cancel)?;
        // What the tests printed may hold what a trace must not: it is
        // redacted like any text the collector keeps.
        let text = String::from_utf8_lossy(&log);
        let redacted = telemetry_core::guard::redact(&text).text.into_owned();
        Ok::<_, Failure>((validation, redacted.into_bytes()))
    })
    .await
    .map_err(|error| Failure::Transient(format!("the runner panicked: {error}")))??;
    validation.log = Some(ArtifactRef::for_bytes(&bytes, Some("text/plain")));
    Ok((validation, bytes))
}

/// The blocking part: a fresh directory, the snapshot unpacked, the tests
/// run, the report read.
fn run_tests(
    engine: &Engine,
    snapshot: &[u8],
    asked: &ValidationRequest,
    framework: Framework,
    cancel: &AtomicBool,
) -> Result<(Validation, Vec<u8>), Failure> {
    let config = &engine.config;
    let runner = engine.runner().map_err(|error| match error {
        RunError::Unavailable(reason) | RunError::Failed(reason) => Failure::Transient(reason),
    })?;
    let job_dir = tempfile::Builder::new()
        .prefix("telemetry-qa-")
        .tempdir()
        .map_err(|error| Failure::Transient(format!("creating the job directory: {error}")))?;
    let workspace = job_dir.path().join("workspace");
    std::fs::create_dir(&workspace)
        .map_err(|error| Failure::Transient(format!("creating the workspace: {error}")))?;
    unpack_workspace(
        snapshot,
        &workspace,
        config.max_workspace_mb.saturating_mul(1024 * 1024),
    )
    .map_err(|error| match error {
        // The disk, not the snapshot.
        UnpackError::Io(_) => Failure::Transient(format!("unpacking the workspace: {error}")),
        _ => Failure::Permanent(format!("the workspace snapshot: {error}")),
    })?;
    let mut limits = config.limits.clone();
    // The wall clock ends the tests before the attempt's timeout does, so
    // that a hanging test is recorded as killed rather than retried.
    let margin = (config.timeout_seconds / 10).clamp(1, 30);
    limits.wall_seconds = limits
        .wall_seconds
        .min(config.timeout_seconds.saturating_sub(margin).max(1));
    let output: RunOutput = runner
        .run(&RunRequest {
            workspace: &workspace,
            command: &asked.test_command,
            env: &config.env,
            limits: &limits,
            cancel,
        })
        .map_err(|error| Failure::Transient(format!("the {} runner: {error}", runner.name())))?;
    let report = asked
        .report_path
        .as_ref()
        .and_then(|path| read_inside(&workspace, path));
    let log_text = String::from_utf8_lossy(&output.log);
    let (counts, problem) = match framework.parse(report.as_deref(), &log_text) {
        Ok(counts) => (Some(counts), None),
        Err(problem) => (None, Some(problem)),
    };
    let validation =
        crate::qa::runner::validation(&runner.name(), framework, &output, counts, problem);
    Ok((validation, output.log))
}

/// The most of a report the collector reads.
const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;

/// The file at `path` in `workspace` (its first [`MAX_REPORT_BYTES`]),
/// unless it (or a directory on the way) is a link leading out of it: the
/// tests wrote the workspace, and the collector reads with more rights
/// than they had. The workspace itself cannot be swapped for a link: its
/// directory is the collector's, and the tests' processes are gone.
fn read_inside(workspace: &std::path::Path, path: &str) -> Option<String> {
    use std::io::Read as _;
    let root = workspace.canonicalize().ok()?;
    let file = workspace.join(path).canonicalize().ok()?;
    if !file.starts_with(&root) || !file.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .ok()?
        .take(MAX_REPORT_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}
