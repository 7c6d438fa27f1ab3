//! `telemetry trace …`: upload an example session, show a stored trace,
//! verify a downloaded one offline. Thin over `telemetry-collector-client`'s
//! [`TraceClient`] and `telemetry-trace`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use telemetry_collector_client::trace::TraceClient;
use telemetry_collector_client::{ApiKey, CollectorConfig};
use telemetry_trace::wire::CreateTrace;
use telemetry_trace::{Chunk, Trace, VerifierKey, verify_offline};

use crate::{Failure, plural, trace_view};

/// `telemetry trace …`.
#[derive(Debug, Clone, Subcommand)]
pub enum TraceCommand {
    /// Upload a session directory (`trace.json`, `artifacts/`, `chunks/`)
    /// to a collector and complete it: create, artifacts, chunks in order,
    /// complete.
    Submit(SubmitArgs),
    /// Print a trace readably: header, timeline, metrics, integrity and QA.
    Show(ShowArgs),
    /// Check a downloaded trace offline: its hash chain, its inclusion in
    /// the log's signed checkpoint, and the checkpoint's signature. Exit 0
    /// when it verifies, 1 when not.
    Verify(VerifyArgs),
}

/// The collector and its key.
#[derive(Debug, Clone, Args)]
pub struct CollectorArgs {
    /// The collector's base URL (`http://127.0.0.1:8000`).
    #[arg(long, value_name = "URL")]
    pub collector: String,
    /// The collector's key, sent as `Authorization: Bearer …`: an ingest key
    /// for `submit`, a read key for `show` [default: none, for a keyless
    /// collector on loopback].
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

impl CollectorArgs {
    fn client(&self) -> Result<TraceClient, Failure> {
        let url = self.collector.trim().trim_end_matches('/');
        if !telemetry_runtime::config::is_http_url(url) {
            return Err(Failure::Usage(
                "--collector: expected an http:// or https:// URL with a host".to_owned(),
            ));
        }
        let mut config = CollectorConfig::for_url(url);
        if let Some(key) = &self.key {
            config = config.with_api_key(ApiKey::new(key.clone()));
        }
        TraceClient::new(&config).map_err(|error| Failure::Usage(error.to_string()))
    }
}

/// `telemetry trace submit`.
#[derive(Debug, Clone, Args)]
pub struct SubmitArgs {
    /// The session directory, as in `examples/traces/simple`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs, reason = "flattened")]
    pub collector: CollectorArgs,
}

/// `telemetry trace show`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["id", "file"]))]
pub struct ShowArgs {
    /// The trace id, read from `--collector`.
    #[arg(value_name = "ID", requires = "collector")]
    pub id: Option<String>,
    /// A trace JSON file instead (`GET /v1/traces/{id}`'s answer).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The collector's base URL.
    #[arg(long, value_name = "URL")]
    pub collector: Option<String>,
    /// The collector's read key.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

/// `telemetry trace verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The trace JSON (`GET /v1/traces/{id}` of a completed trace).
    #[arg(value_name = "TRACE")]
    pub trace: PathBuf,
    /// The log's signed checkpoint (`GET /v1/log/checkpoint`), whose tree
    /// size is the trace proof's.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The log's verifier key (`GET /v1/log/key`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
}

pub(crate) fn run(command: &TraceCommand, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        TraceCommand::Submit(args) => submit(args, out),
        TraceCommand::Show(args) => show(args, out),
        TraceCommand::Verify(args) => verify(args, out),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(error.to_string())
}

/// The session directory: `trace.json`, every file of `artifacts/`, and
/// `chunks/*.json` in name order.
struct SessionDir {
    create: CreateTrace,
    artifacts: Vec<(PathBuf, Vec<u8>)>,
    chunks: Vec<Chunk>,
}

impl SessionDir {
    fn read(dir: &Path) -> Result<Self, Failure> {
        let path = dir.join("trace.json");
        let create: CreateTrace = serde_json::from_slice(&read(&path)?)
            .map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))?;
        create
            .validate()
            .map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))?;
        let mut artifacts = Vec::new();
        for path in files(&dir.join("artifacts"), None)? {
            let bytes = read(&path)?;
            artifacts.push((path, bytes));
        }
        let mut chunks = Vec::new();
        for path in files(&dir.join("chunks"), Some("json"))? {
            let chunk = Chunk::from_json(&read(&path)?)
                .map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))?;
            chunks.push(chunk);
        }
        if chunks.is_empty() {
            return Err(Failure::Failed(format!(
                "{}: no chunks/*.json",
                dir.display()
            )));
        }
        Ok(Self {
            create,
            artifacts,
            chunks,
        })
    }
}

/// The files of `dir` (none if it is missing), in name order, with the
/// extension `ext` if given.
fn files(dir: &Path, ext: Option<&str>) -> Result<Vec<PathBuf>, Failure> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Failure::Failed(format!("{}: {error}", dir.display()))),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter(|path| ext.is_none_or(|ext| path.extension().is_some_and(|e| e == ext)))
        .collect();
    paths.sort();
    Ok(paths)
}

fn media_type(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "xml" => Some("application/junit+xml"),
        "diff" | "patch" => Some("text/x-diff"),
        "txt" | "log" => Some("text/plain"),
        "json" => Some("application/json"),
        _ => None,
    }
}

fn submit(args: &SubmitArgs, out: &mut impl Write) -> Result<(), Failure> {
    let session = SessionDir::read(&args.dir)?;
    let client = args.collector.client()?;
    let created = client.create(&session.create).map_err(failed)?;
    let token = ApiKey::new(created.upload_token);
    let trace_id = created.trace_id;
    writeln!(out, "trace: {trace_id}")?;
    let mut new = 0;
    for (path, bytes) in &session.artifacts {
        let (_, known) = client
            .put_artifact(&trace_id, &token, bytes, media_type(path))
            .map_err(|error| Failure::Failed(format!("{}: {error}", path.display())))?;
        new += usize::from(!known);
    }
    writeln!(
        out,
        "artifacts: {} uploaded ({new} new)",
        session.artifacts.len()
    )?;
    for chunk in &session.chunks {
        let answer = client
            .ingest(&trace_id, &token, chunk)
            .map_err(|error| Failure::Failed(format!("chunk {}: {error}", chunk.chunk_seq)))?;
        writeln!(
            out,
            "chunk {}: {} event{} accepted, {} duplicate{}, {} redaction{} on arrival",
            answer.chunk_seq,
            answer.accepted,
            plural(answer.accepted as usize),
            answer.duplicates,
            plural(answer.duplicates as usize),
            answer.redactions,
            plural(answer.redactions as usize),
        )?;
    }
    let completed = client.complete(&trace_id, &token).map_err(failed)?;
    writeln!(
        out,
        "completed: {} events, chain head {}, log leaf {} of tree size {}",
        completed.num_events, completed.event_hash_chain, completed.leaf_index, completed.tree_size
    )?;
    Ok(())
}

fn show(args: &ShowArgs, out: &mut impl Write) -> Result<(), Failure> {
    let trace = match (&args.file, &args.id, &args.collector) {
        (Some(file), _, _) => Trace::from_json(&read(file)?)
            .map_err(|error| Failure::Failed(format!("{}: {error}", file.display())))?,
        (None, Some(id), Some(collector)) => {
            let client = CollectorArgs {
                collector: collector.clone(),
                key: None,
            }
            .client()?;
            let client = match &args.key {
                Some(key) => client.with_read_key(ApiKey::new(key.clone())),
                None => client,
            };
            client.get_trace(id).map_err(failed)?
        }
        _ => {
            return Err(Failure::Usage(
                "trace show: give a trace ID with --collector, or --file".to_owned(),
            ));
        }
    };
    trace_view::write(&trace, out)?;
    Ok(())
}

fn verify(args: &VerifyArgs, out: &mut impl Write) -> Result<(), Failure> {
    let trace = Trace::from_json(&read(&args.trace)?)
        .map_err(|error| Failure::Failed(format!("{}: {error}", args.trace.display())))?;
    let note = String::from_utf8(read(&args.checkpoint)?)
        .map_err(|_| Failure::Failed(format!("{}: not UTF-8 text", args.checkpoint.display())))?;
    let key_text = String::from_utf8(read(&args.key)?)
        .map_err(|_| Failure::Failed(format!("{}: not UTF-8 text", args.key.display())))?;
    let key = VerifierKey::parse(key_text.trim())
        .map_err(|error| Failure::Failed(format!("{}: {error}", args.key.display())))?;
    let verified = verify_offline(&trace, &note, &key).map_err(|error| {
        Failure::Failed(format!("trace {} is not verified: {error}", trace.trace_id))
    })?;
    writeln!(out, "trace {}: verified", trace.trace_id)?;
    writeln!(
        out,
        "  hash chain:  {} event{} chained from genesis to integrity.event_hash_chain {}",
        verified.events,
        if verified.events == 1 { "" } else { "s" },
        trace.integrity.event_hash_chain
    )?;
    if !verified.skipped_content.is_empty() {
        let seqs: Vec<String> = verified
            .skipped_content
            .iter()
            .map(u64::to_string)
            .collect();
        writeln!(
            out,
            "               content not checked for seq {} (redacted by the collector after hashing; links checked)",
            seqs.join(", ")
        )?;
    }
    writeln!(
        out,
        "  leaf:        the trace's content and chain head hash to its log leaf"
    )?;
    writeln!(
        out,
        "  inclusion:   leaf {} is in the log of size {} (proof checked against the checkpoint's root)",
        verified.leaf_index, verified.tree_size
    )?;
    writeln!(
        out,
        "  signature:   the checkpoint of {} is signed by the key in {}",
        verified.origin,
        args.key.display()
    )?;
    Ok(())
}
