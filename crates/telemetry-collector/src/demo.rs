//! `telemetry-collector demo`: the reference design's demo in one command.
//!
//! An embedded collector (SQLite in a temporary directory, a free loopback
//! port) with QA workers on the sandbox runner and the heuristic judge;
//! the three example sessions (built into this binary) submitted through
//! the trace client, each with its workspace snapshot and test command;
//! and, once their QA jobs end, the reference design's comparison table
//! and the addresses of the trace pages.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use telemetry_collector_client::trace::TraceClient;
use telemetry_collector_client::{ApiKey, CollectorConfig};
use telemetry_trace::wire::{CompleteTrace, CreateTrace, ValidationRequest};
use telemetry_trace::{Chunk, EventKind, JobState, Trace};

use crate::blobs::Blobs;
use crate::clock::SystemClock;
use crate::config::{Config, Overrides};
use crate::qa::config::{JudgeKind, RunnerKind};
use crate::worker::{self, Engine};
use crate::{App, Sqlite};

/// The three example sessions: `trace.json`, `chunks/`, `artifacts/`, and
/// `workspace/` (the project after the session), with the test runner
/// their workspaces run.
static EXAMPLES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../examples/traces");

/// The examples in the reference design's order.
pub const NAMES: [&str; 3] = ["simple", "complex", "failed"];

/// How each example's tests run in the sandbox.
const TEST_COMMAND: [&str; 3] = ["python3", "run_tests.py", "--junitxml=report.xml"];

/// How long the demo waits for the QA jobs.
const WAIT: Duration = Duration::from_secs(180);

/// What `demo` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Keep serving after the table, until Ctrl-C.
    pub keep: bool,
    /// Where to keep the data (a temporary directory otherwise).
    pub data_dir: Option<PathBuf>,
}

/// One example's row of the comparison table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `simple`, `complex` or `failed`.
    pub name: String,
    /// Its trace.
    pub trace_id: String,
    /// The QA job's end.
    pub state: JobState,
    /// The rubric's overall score.
    pub score: Option<f64>,
    /// Whether every test passed in the sandbox.
    pub fixed: Option<bool>,
    /// Distinct files edited.
    pub files_edited: usize,
    /// Test runs recorded.
    pub test_runs: usize,
    /// Whether the session committed.
    pub commit: bool,
}

impl Row {
    fn of(name: &str, trace: &Trace) -> Self {
        let mut files = std::collections::BTreeSet::new();
        let (mut test_runs, mut commit) = (0, false);
        for event in &trace.events {
            match &event.kind {
                EventKind::FileEdit { file_path, .. } => {
                    files.insert(file_path.as_str());
                }
                EventKind::TestRun { .. } => test_runs += 1,
                EventKind::Commit { .. } => commit = true,
                _ => {}
            }
        }
        let qa = trace.qa.as_ref();
        Self {
            name: name.to_owned(),
            trace_id: trace.trace_id.clone(),
            state: qa
                .and_then(|qa| qa.job.as_ref())
                .map_or(JobState::Queued, |job| job.state),
            score: qa.and_then(|qa| qa.judge.as_ref()).and_then(|j| j.overall),
            fixed: qa
                .and_then(|qa| qa.validation.as_ref())
                .map(|v| v.tests_passed),
            files_edited: files.len(),
            test_runs,
            commit,
        }
    }
}

/// The reference design's comparison table, one column per example.
#[must_use]
pub fn table(rows: &[Row]) -> String {
    let yes_no = |flag: Option<bool>| match flag {
        Some(true) => "yes".to_owned(),
        Some(false) => "no".to_owned(),
        None => "-".to_owned(),
    };
    let lines: [(&str, Vec<String>); 5] = [
        (
            "Score",
            rows.iter()
                .map(|r| {
                    r.score
                        .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}/5"))
                })
                .collect(),
        ),
        ("Bug Fixed?", rows.iter().map(|r| yes_no(r.fixed)).collect()),
        (
            "Files Edited",
            rows.iter().map(|r| r.files_edited.to_string()).collect(),
        ),
        (
            "Test Runs",
            rows.iter().map(|r| r.test_runs.to_string()).collect(),
        ),
        (
            "Commit?",
            rows.iter().map(|r| yes_no(Some(r.commit))).collect(),
        ),
    ];
    let headers: Vec<String> = rows.iter().map(|r| capitalised(&r.name)).collect();
    let first = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0).max(7);
    let widths: Vec<usize> = (0..rows.len())
        .map(|i| {
            lines
                .iter()
                .map(|(_, cells)| cells[i].len())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let row = |out: &mut String, label: &str, cells: &[String]| {
        let _ = write!(out, "| {label:<first$} |");
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(out, " {cell:<width$} |");
        }
        out.push('\n');
    };
    row(&mut out, "Feature", &headers);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    row(&mut out, &"-".repeat(first), &rule);
    for (label, cells) in &lines {
        row(&mut out, label, cells);
    }
    out
}

fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The example `name`'s workspace as a gzip tar archive, with the test
/// runner beside its files.
///
/// # Errors
/// When the example is not built in.
pub fn workspace_archive(name: &str) -> anyhow::Result<Vec<u8>> {
    let dir = EXAMPLES
        .get_dir(format!("{name}/workspace"))
        .with_context(|| format!("no workspace for the example `{name}`"))?;
    let runner = EXAMPLES
        .get_file("run_tests.py")
        .context("the examples' test runner is missing")?;
    let prefix = dir.path();
    let mut files = Vec::new();
    collect_files(dir, &mut files);
    let mut entries = vec![("run_tests.py".to_owned(), runner.contents())];
    for file in files {
        let relative = file.path().strip_prefix(prefix)?;
        entries.push((relative.to_string_lossy().into_owned(), file.contents()));
    }
    Ok(tar_gz(entries)?)
}

/// A gzip tar archive of `files` (path, content), in path order, with
/// fixed times and modes: the same files make the same bytes.
///
/// # Errors
/// When a path cannot be archived.
pub fn tar_gz<'a>(files: impl IntoIterator<Item = (String, &'a [u8])>) -> std::io::Result<Vec<u8>> {
    let mut files: Vec<(String, &[u8])> = files.into_iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, path, bytes)?;
    }
    tar.into_inner()?.finish()
}

fn collect_files<'a>(dir: &'a Dir<'a>, into: &mut Vec<&'a include_dir::File<'a>>) {
    into.extend(dir.files());
    for sub in dir.dirs() {
        collect_files(sub, into);
    }
}

/// Uploads the example `name`'s session to the collector at `client`:
/// creates its trace, puts its artifacts and sends its chunks; returns
/// the trace id and its upload token, to complete with.
///
/// # Errors
/// When the example is missing or the collector refuses it.
pub fn upload(client: &TraceClient, name: &str) -> anyhow::Result<(String, ApiKey)> {
    let file = |path: String| {
        EXAMPLES
            .get_file(&path)
            .with_context(|| format!("the example file {path} is missing"))
    };
    let create: CreateTrace =
        serde_json::from_slice(file(format!("{name}/trace.json"))?.contents())
            .with_context(|| format!("examples/traces/{name}/trace.json"))?;
    let created = client.create(&create)?;
    let token = ApiKey::new(created.upload_token);
    let trace_id = created.trace_id;
    if let Some(artifacts) = EXAMPLES.get_dir(format!("{name}/artifacts")) {
        let mut files: Vec<_> = artifacts.files().collect();
        files.sort_by(|a, b| a.path().cmp(b.path()));
        for artifact in files {
            let media = match artifact.path().extension().and_then(|e| e.to_str()) {
                Some("xml") => Some("application/junit+xml"),
                Some("diff") => Some("text/x-diff"),
                _ => Some("text/plain"),
            };
            client.put_artifact(&trace_id, &token, artifact.contents(), media)?;
        }
    }
    let chunks = EXAMPLES
        .get_dir(format!("{name}/chunks"))
        .with_context(|| format!("the example `{name}` has no chunks"))?;
    let mut files: Vec<_> = chunks.files().collect();
    files.sort_by(|a, b| a.path().cmp(b.path()));
    for chunk in files {
        let chunk = Chunk::from_json(chunk.contents())
            .with_context(|| chunk.path().display().to_string())?;
        client.ingest(&trace_id, &token, &chunk)?;
    }
    Ok((trace_id, token))
}

/// Puts `archive` as the trace's workspace snapshot and completes the
/// trace, asking for `command` to be run on it with pytest's report read
/// from `report.xml`.
///
/// # Errors
/// When the collector refuses the snapshot or the completion.
pub fn complete_with_workspace(
    client: &TraceClient,
    trace_id: &str,
    token: &ApiKey,
    archive: &[u8],
    command: &[&str],
) -> anyhow::Result<()> {
    let (snapshot, _) = client.put_artifact(trace_id, token, archive, Some("application/gzip"))?;
    client.complete_with(
        trace_id,
        token,
        &CompleteTrace {
            validation: Some(ValidationRequest {
                workspace_sha256: snapshot.sha256,
                test_command: command.iter().map(|&s| s.to_owned()).collect(),
                framework: "pytest".to_owned(),
                report_path: Some("report.xml".to_owned()),
            }),
        },
    )?;
    Ok(())
}

/// Submits the example `name` with its workspace and test command;
/// returns the trace id.
///
/// # Errors
/// When the example is missing or the collector refuses it.
pub fn submit(client: &TraceClient, name: &str) -> anyhow::Result<String> {
    let (trace_id, token) = upload(client, name)?;
    complete_with_workspace(
        client,
        &trace_id,
        &token,
        &workspace_archive(name)?,
        &TEST_COMMAND,
    )?;
    Ok(trace_id)
}

/// Runs the demo, printing to standard output.
///
/// # Errors
/// When the collector cannot start, or an example is refused.
pub fn run(options: &Options) -> anyhow::Result<()> {
    let temporary;
    let data_dir = if let Some(dir) = &options.data_dir {
        dir.clone()
    } else {
        temporary = tempfile::Builder::new()
            .prefix("telemetry-collector-demo-")
            .tempdir()?;
        temporary.path().to_path_buf()
    };
    let overrides = Overrides {
        listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: Some(data_dir.clone()),
        database_url: None,
    };
    let mut config = Config::load(None, std::iter::empty(), &overrides)?;
    config.qa.runner = RunnerKind::Sandbox;
    config.qa.judge = JudgeKind::Heuristic;
    config.qa.workers = 2;
    config.qa.poll_interval_ms = 100;
    config.qa.backoff_seconds = 1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(demo(config, options.keep));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn demo(config: Config, keep: bool) -> anyhow::Result<()> {
    let storage = Sqlite::open(&config.data_dir)?;
    let blobs = Blobs::local(&config.data_dir.join("blobs"))?;
    let app = Arc::new(
        App::new(&config, Arc::new(storage), blobs, Arc::new(SystemClock))
            .map_err(anyhow::Error::msg)?,
    );
    let engine = Engine::from_config(&config.qa).map_err(anyhow::Error::msg)?;
    let (stop, workers) = worker::spawn(&app, &Arc::new(engine), config.qa.workers);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_serving, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(
        Arc::clone(&app),
        listener,
        config.retention_interval(),
        async move {
            let _ = stopped.await;
        },
    ));
    println!("collector: {url} (data in {})", config.data_dir.display());
    let client_url = url.clone();
    let rows = tokio::task::spawn_blocking(move || submit_and_wait(&client_url)).await??;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout)?;
    write!(stdout, "{}", table(&rows))?;
    writeln!(stdout)?;
    for row in &rows {
        writeln!(
            stdout,
            "{:<8} {}/ui/traces/{}  (QA {})",
            row.name,
            url,
            row.trace_id,
            row.state.as_str()
        )?;
    }
    writeln!(stdout, "all traces: {url}/ui/traces")?;
    writeln!(
        stdout,
        "The scores are the heuristic judge's, from each trace's structure; see docs/qa.md."
    )?;
    stdout.flush()?;
    drop(stdout);
    if keep {
        println!("serving until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    stop.stop();
    for task in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    let _ = stop_serving.send(());
    let _ = server.await;
    Ok(())
}

fn submit_and_wait(url: &str) -> anyhow::Result<Vec<Row>> {
    let client = TraceClient::new(&CollectorConfig::for_url(url))
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut ids = Vec::new();
    for name in NAMES {
        let trace_id = submit(&client, name).with_context(|| format!("submitting `{name}`"))?;
        println!("submitted {name}: {trace_id}");
        ids.push((name, trace_id));
    }
    let started = Instant::now();
    let mut rows = Vec::new();
    for (name, trace_id) in ids {
        loop {
            let trace = client.get_trace(&trace_id)?;
            let row = Row::of(name, &trace);
            if matches!(row.state, JobState::Done | JobState::Failed) {
                if row.state == JobState::Failed {
                    let reason = trace
                        .qa
                        .as_ref()
                        .and_then(|qa| qa.job.as_ref())
                        .and_then(|job| job.reason.clone())
                        .unwrap_or_default();
                    println!("{name}: the QA job failed: {reason}");
                }
                rows.push(row);
                break;
            }
            if started.elapsed() > WAIT {
                anyhow::bail!(
                    "`{name}`'s QA job is still {} after {} s",
                    row.state.as_str(),
                    WAIT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(rows)
}
