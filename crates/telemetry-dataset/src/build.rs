//! `telemetry dataset build`: interaction logs into versioned, deduplicated
//! datasets with provenance, the reference design's aggregator.
//!
//! Every record read is redacted first (the crate's private `parse` module), then filtered
//! ([`QualityFilter`]), then deduplicated by [`ExampleId`] per signature,
//! against this run and every earlier version of the signature's dataset.
//! What is left goes to `<output-dir>/<signature>/v<N>/`:
//!
//! - `examples.jsonl`: `{"example_id","input","output","module_name","module_version"}`
//!   per line, `input` and `output` in their canonical form (RFC 8785);
//! - `provenance.jsonl`: `{"example_id","source","timestamp","metadata"}`
//!   per line, `metadata` holding `original_timestamp_ms`, `latency_ms`,
//!   `cost_usd`, `model`, and the input `file` and `line`;
//! - `manifest.json`: a [`Manifest`].
//!
//! # Versions are atomic and immutable
//!
//! A version is written into a temporary directory beside the versions
//! (`.build-*`), synced, and renamed to `v<N>`, so a reader sees a whole
//! version or none. Choosing `N` happens under an exclusive lock on
//! `<output-dir>/<signature>/.lock`: the build that holds it reads the
//! versions that appeared since it started (another build's), drops the
//! examples they already have, picks the next `N` and renames. So two
//! concurrent builds never write the same `v<N>`, nor the same example
//! twice. Earlier versions are read without the lock when a signature is
//! first seen: a version is never changed once renamed, so what was read
//! stays true, and the lock is held only for the short final step.
//!
//! # Throughput and memory
//!
//! [`read::run`] reads on one thread and parses, redacts, canonicalizes,
//! hashes and writes the output lines on one thread per core; this thread
//! only deduplicates (32 bytes per distinct example) and appends lines, in
//! input order, so the output is the same whatever the threads do.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{SyncSender, sync_channel};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::canonical::{ExampleId, Object, write_string};
use crate::parse::{self, RecordLine};
use crate::read::{self, Batch, InputFile, Item, Problem, ReadError, ReadOptions};
use crate::report::{
    BuildReport, Counts, FilterReason, Groups, MAX_PROBLEMS_KEPT, QUANTILE_RELATIVE_ERROR,
    RecordCounts, VersionWritten,
};

/// The name of each version's files.
pub const EXAMPLES_FILE: &str = "examples.jsonl";
/// See [`EXAMPLES_FILE`].
pub const PROVENANCE_FILE: &str = "provenance.jsonl";
/// See [`EXAMPLES_FILE`].
pub const MANIFEST_FILE: &str = "manifest.json";
/// The lock file in each signature's directory.
pub const LOCK_FILE: &str = ".lock";

/// Which records are good enough to learn from: the reference design's
/// `--min-quality-score`, `--max-latency-ms`, `--max-cost-usd`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityFilter {
    /// A record with a `quality_score` below this is left out (default
    /// 0.70); one without passes.
    pub min_quality_score: f64,
    /// A record slower than this is left out (default 5000); one without a
    /// latency passes.
    pub max_latency_ms: u64,
    /// A record more expensive than this is left out (default 0.10); one
    /// without a cost passes.
    pub max_cost_usd: f64,
}

impl Default for QualityFilter {
    fn default() -> Self {
        Self {
            min_quality_score: 0.70,
            max_latency_ms: 5000,
            max_cost_usd: 0.10,
        }
    }
}

impl QualityFilter {
    /// Why a record is left out, if it is: failed first, then latency,
    /// cost and quality.
    #[must_use]
    pub fn reason(
        &self,
        success: bool,
        latency_ms: Option<u64>,
        cost_usd: Option<f64>,
        quality_score: Option<f64>,
    ) -> Option<FilterReason> {
        if !success {
            Some(FilterReason::Failed)
        } else if latency_ms.is_some_and(|latency| latency > self.max_latency_ms) {
            Some(FilterReason::Latency)
        } else if cost_usd.is_some_and(|cost| cost > self.max_cost_usd) {
            Some(FilterReason::Cost)
        } else if quality_score.is_some_and(|score| score < self.min_quality_score) {
            Some(FilterReason::Quality)
        } else {
            None
        }
    }
}

/// Where a dataset's records come from, as provenance records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Production interaction logs.
    #[default]
    Telemetry,
    /// Examples mined from git history.
    Git,
    /// Generated examples.
    Synthetic,
}

impl Source {
    /// `telemetry`, `git` or `synthetic`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Git => "git",
            Self::Synthetic => "synthetic",
        }
    }
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The logs, in order (see [`read::expand`]).
    pub log_files: Vec<PathBuf>,
    /// Where the datasets are: `<output_dir>/<signature>/v<N>/`.
    pub output_dir: PathBuf,
    /// Which records to keep.
    pub filter: QualityFilter,
    /// What provenance says the records are.
    pub source: Source,
    /// Threads and batches.
    pub read: ReadOptions,
    /// The build's time, in manifests and provenance (to the second).
    pub created_at: OffsetDateTime,
}

impl BuildOptions {
    /// Options with the defaults: the reference design's thresholds,
    /// `telemetry`, a thread per core, now.
    #[must_use]
    pub fn new(log_files: Vec<PathBuf>, output_dir: impl Into<PathBuf>) -> Self {
        Self {
            log_files,
            output_dir: output_dir.into(),
            filter: QualityFilter::default(),
            source: Source::default(),
            read: ReadOptions::default(),
            created_at: OffsetDateTime::now_utc(),
        }
    }
}

/// Why a build stopped. Nothing is written for a build that stops: a
/// version is renamed into place only once everything was read.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Writing the datasets failed.
    #[error("{path}: {source}")]
    Output {
        /// The file or directory.
        path: String,
        /// What failed.
        source: io::Error,
    },
    /// An earlier version's `examples.jsonl` has a line without a valid
    /// `example_id`: it was not written by this builder, or was changed.
    #[error("{path}:{line}: no valid example_id in an earlier version: {reason}")]
    EarlierVersion {
        /// The file.
        path: String,
        /// The line, from 1.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

fn output_error(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |source| BuildError::Output {
        path: path.display().to_string(),
        source,
    }
}

/// A version's `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// N of `v<N>`.
    pub version: u64,
    /// The signature.
    pub signature: String,
    /// The version this one follows, if any.
    pub parent_version: Option<u64>,
    /// When it was built (RFC 3339, UTC).
    pub created_at: String,
    /// Where its records come from.
    pub source: Source,
    /// The quality filter it was built with.
    pub thresholds: QualityFilter,
    /// Every input of the build, with its SHA-256 and size.
    pub inputs: Vec<InputFile>,
    /// What happened to this signature's records in the build (`malformed`
    /// and `damaged_inputs` are the whole build's: a line that is not a
    /// record has no signature).
    pub counts: Counts,
    /// `examples.jsonl` and `provenance.jsonl`.
    pub files: ManifestFiles,
    /// SHA-256 of `examples.jsonl` followed by `provenance.jsonl`, in hex:
    /// what `cat examples.jsonl provenance.jsonl | sha256sum` prints.
    pub content_sha256: String,
}

/// The data files of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFiles {
    /// `examples.jsonl`.
    pub examples: FileSummary,
    /// `provenance.jsonl`.
    pub provenance: FileSummary,
}

/// One data file of a version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    /// SHA-256 of the file, in hex.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// Its lines: one per example.
    pub lines: u64,
}

/// Builds the datasets; `progress` is called with the bytes read from
/// disk as they are read.
pub fn build(
    options: &BuildOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BuildReport, BuildError> {
    let created_at = options
        .created_at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(options.created_at)
        .format(&Rfc3339)
        .unwrap_or_default();
    let names: Vec<String> = options
        .log_files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let spare = Mutex::new(Vec::new());
    let context = Context {
        filter: options.filter,
        source: options.source.as_str(),
        timestamp: &created_at,
        names: &names,
        spare: &spare,
    };
    // Syncs what the drafts wrote so far while the build goes on, so that
    // the final sync before each rename has little left to wait for.
    std::thread::scope(|scope| {
        let (sync_tx, sync_rx) = sync_channel::<File>(16);
        scope.spawn(move || {
            for file in sync_rx {
                // The final `sync_all` reports what fails.
                let _ = file.sync_data();
            }
        });
        let mut state = State {
            sync: sync_tx,
            output_dir: &options.output_dir,
            groups: Groups::default(),
            signatures: HashMap::new(),
            problems: Vec::new(),
            problems_total: 0,
            malformed: 0,
            damaged: 0,
            names: &names,
            spare: &spare,
        };
        let inputs = read::run(
            &options.log_files,
            options.read,
            progress,
            |batch| context.process(batch),
            |item| state.consume(item),
        )?;
        state.finish(options, &created_at, inputs)
    })
}

/// What every worker needs.
struct Context<'a> {
    filter: QualityFilter,
    source: &'static str,
    timestamp: &'a str,
    names: &'a [String],
    /// Output buffers the single thread is done with, for reuse: their
    /// pages stay mapped.
    spare: &'a Mutex<Vec<Vec<u8>>>,
}

/// A worker's output for one batch: records in line order, their strings
/// and lines in one buffer.
struct Processed {
    text: Vec<u8>,
    records: Vec<Outcome>,
    problems: Vec<(u64, String)>,
}

struct Outcome {
    module: Range<usize>,
    signature: Range<usize>,
    success: bool,
    latency_ms: Option<u64>,
    cost_usd: Option<f64>,
    adjusted: f64,
    spans: u64,
    verdict: Verdict,
}

enum Verdict {
    Filtered(FilterReason),
    Keep {
        id: ExampleId,
        example: Range<usize>,
        provenance: Range<usize>,
    },
}

/// What provenance's metadata says of a call.
struct Call<'a> {
    timestamp_ms: u64,
    latency_ms: Option<u64>,
    cost_usd: Option<f64>,
    model: Option<&'a str>,
}

impl Context<'_> {
    /// Appends a provenance line: `{"example_id", "source", "timestamp",
    /// "metadata": {"original_timestamp_ms", "latency_ms", "cost_usd",
    /// "model", "file", "line"}}`, absent values as `null`.
    fn write_provenance(
        &self,
        text: &mut Vec<u8>,
        hex: &[u8; 64],
        call: &Call<'_>,
        file: usize,
        line: u64,
    ) {
        let mut integer = itoa::Buffer::new();
        text.extend_from_slice(b"{\"example_id\":\"");
        text.extend_from_slice(hex);
        text.extend_from_slice(b"\",\"source\":\"");
        text.extend_from_slice(self.source.as_bytes());
        text.extend_from_slice(b"\",\"timestamp\":");
        write_string(self.timestamp, text);
        text.extend_from_slice(b",\"metadata\":{\"original_timestamp_ms\":");
        text.extend_from_slice(integer.format(call.timestamp_ms).as_bytes());
        text.extend_from_slice(b",\"latency_ms\":");
        match call.latency_ms {
            Some(latency) => text.extend_from_slice(integer.format(latency).as_bytes()),
            None => text.extend_from_slice(b"null"),
        }
        text.extend_from_slice(b",\"cost_usd\":");
        // serde_json's spelling of a float (`0.0018`); writing into a Vec
        // cannot fail.
        let _ = serde_json::to_writer(&mut *text, &call.cost_usd);
        text.extend_from_slice(b",\"model\":");
        match call.model {
            Some(model) => write_string(model, text),
            None => text.extend_from_slice(b"null"),
        }
        text.extend_from_slice(b",\"file\":");
        write_string(&self.names[file], text);
        text.extend_from_slice(b",\"line\":");
        text.extend_from_slice(integer.format(line).as_bytes());
        text.extend_from_slice(b"}}\n");
    }

    fn process(&self, batch: &Batch) -> Processed {
        let mut out = Processed {
            text: self
                .spare
                .lock()
                .ok()
                .and_then(|mut spare| spare.pop())
                .unwrap_or_else(|| Vec::with_capacity(batch.data.len() + batch.data.len() / 2)),
            records: Vec::with_capacity(batch.data.len() / 256),
            problems: Vec::new(),
        };
        for (number, line, torn) in batch.lines() {
            if line.trim_ascii().is_empty() {
                continue;
            }
            if let Err(reason) = batch.check_length(line) {
                out.problems.push((number, reason));
                continue;
            }
            match RecordLine::<Object<'_>>::parse(line) {
                Ok(record) => self.keep(record, batch.file, number, &mut out),
                Err(reason) if torn => out.problems.push((
                    number,
                    format!("torn last line (no newline at the end of the file): {reason}"),
                )),
                Err(reason) => out.problems.push((number, reason)),
            }
        }
        out
    }

    fn keep(
        &self,
        record: RecordLine<'_, Object<'_>>,
        file: usize,
        number: u64,
        out: &mut Processed,
    ) {
        let adjusted = record.adjusted_count();
        let mut spans = 0;
        let mut input = record.input;
        parse::redact_object(&mut input, &mut spans);
        let mut output = record.output;
        parse::redact_object(&mut output, &mut spans);
        if let Some(error) = record.error {
            parse::redact_text(error, &mut spans);
        }
        let module = parse::redact_text(record.module_name, &mut spans);
        let version = parse::redact_text(record.module_version, &mut spans);
        let model = record
            .model
            .map(|model| parse::redact_text(model, &mut spans));

        let text = &mut out.text;
        let push = |text: &mut Vec<u8>, s: &str| {
            let start = text.len();
            text.extend_from_slice(s.as_bytes());
            start..text.len()
        };
        let module_range = push(text, &module);
        let signature_range = push(text, &record.signature);
        let verdict = if let Some(reason) = self.filter.reason(
            record.success,
            record.latency_ms,
            record.cost_usd,
            record.quality_score,
        ) {
            Verdict::Filtered(reason)
        } else {
            {
                // The canonical input is written in place and hashed there;
                // its id is filled in before it.
                let start = text.len();
                text.extend_from_slice(b"{\"example_id\":\"");
                let hex_at = text.len();
                text.extend_from_slice(&[b'0'; 64]);
                text.extend_from_slice(b"\",\"input\":");
                let input_at = text.len();
                input.write_canonical(text);
                let id = ExampleId::of_canonical(&text[input_at..]);
                let hex = id.to_hex();
                text[hex_at..hex_at + 64].copy_from_slice(&hex);
                text.extend_from_slice(b",\"output\":");
                output.write_canonical(text);
                text.extend_from_slice(b",\"module_name\":");
                write_string(&module, text);
                text.extend_from_slice(b",\"module_version\":");
                write_string(&version, text);
                text.extend_from_slice(b"}\n");
                let example = start..text.len();
                let call = Call {
                    timestamp_ms: record.timestamp_ms,
                    latency_ms: record.latency_ms,
                    cost_usd: record.cost_usd,
                    model: model.as_deref(),
                };
                self.write_provenance(text, &hex, &call, file, number);
                let provenance = example.end..text.len();
                Verdict::Keep {
                    id,
                    example,
                    provenance,
                }
            }
        };
        out.records.push(Outcome {
            module: module_range,
            signature: signature_range,
            success: record.success,
            latency_ms: record.latency_ms,
            cost_usd: record.cost_usd,
            adjusted,
            spans,
            verdict,
        });
    }
}

/// A hasher for keys that are already SHA-256 digests: their first 8
/// bytes are as good a hash as any.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Called once per key, with the 32 bytes of the digest.
        let mut first = [0; 8];
        let n = bytes.len().min(8);
        first[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(first);
    }
}

/// Whether an id was seen in an earlier version or in this run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    Earlier,
    ThisRun,
}

type IdMap = HashMap<ExampleId, Origin, BuildHasherDefault<DigestHasher>>;

/// The single thread's state: counts, the ids seen, the drafts.
struct State<'a> {
    output_dir: &'a Path,
    groups: Groups,
    signatures: HashMap<String, Signature>,
    problems: Vec<Problem>,
    problems_total: u64,
    malformed: u64,
    damaged: u64,
    names: &'a [String],
    spare: &'a Mutex<Vec<Vec<u8>>>,
    /// To the syncing thread.
    sync: SyncSender<File>,
}

/// One signature's dataset as this build sees it.
struct Signature {
    dir: PathBuf,
    known: IdMap,
    /// The versions read when the signature was first seen.
    versions_read: BTreeSet<u64>,
    draft: Option<Draft>,
}

/// The version being written, in its temporary directory.
struct Draft {
    dir: tempfile::TempDir,
    examples: HashingWriter,
    provenance: HashingWriter,
}

/// A file being written, with its hash, size and lines so far.
struct HashingWriter {
    path: PathBuf,
    out: BufWriter<File>,
    sha256: Sha256,
    bytes: u64,
    lines: u64,
    /// Where to send the file to be synced in the background, and how
    /// much was written since it last was.
    sync: Option<SyncSender<File>>,
    unsynced: u64,
}

/// Bytes written between two background syncs of a draft's file.
const SYNC_EVERY: u64 = 32 << 20;

impl HashingWriter {
    fn create(path: PathBuf, sync: Option<SyncSender<File>>) -> Result<Self, BuildError> {
        let file = File::create(&path).map_err(output_error(&path))?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 20, file),
            path,
            sha256: Sha256::new(),
            bytes: 0,
            lines: 0,
            sync,
            unsynced: 0,
        })
    }

    fn write_line(&mut self, line: &[u8]) -> Result<(), BuildError> {
        self.sha256.update(line);
        self.bytes += line.len() as u64;
        self.lines += 1;
        self.out.write_all(line).map_err(output_error(&self.path))?;
        self.unsynced += line.len() as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            if let Some(sync) = &self.sync {
                self.out.flush().map_err(output_error(&self.path))?;
                if let Ok(file) = self.out.get_ref().try_clone() {
                    // A busy syncer skips this one; the final sync catches up.
                    let _ = sync.try_send(file);
                }
            }
        }
        Ok(())
    }

    /// Flushes and syncs the file; returns its summary and its hash state.
    fn finish(self) -> Result<(FileSummary, Sha256), BuildError> {
        let file = self.out.into_inner().map_err(|error| BuildError::Output {
            path: self.path.display().to_string(),
            source: error.into_error(),
        })?;
        file.sync_all().map_err(output_error(&self.path))?;
        let summary = FileSummary {
            sha256: hex::encode(self.sha256.clone().finalize()),
            bytes: self.bytes,
            lines: self.lines,
        };
        Ok((summary, self.sha256))
    }
}

impl Draft {
    fn create(signature_dir: &Path, sync: &SyncSender<File>) -> Result<Self, BuildError> {
        std::fs::create_dir_all(signature_dir).map_err(output_error(signature_dir))?;
        let dir = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(signature_dir)
            .map_err(output_error(signature_dir))?;
        Ok(Self {
            examples: HashingWriter::create(dir.path().join(EXAMPLES_FILE), Some(sync.clone()))?,
            provenance: HashingWriter::create(
                dir.path().join(PROVENANCE_FILE),
                Some(sync.clone()),
            )?,
            dir,
        })
    }
}

impl Signature {
    fn open(output_dir: &Path, name: &str) -> Result<Self, BuildError> {
        let dir = output_dir.join(name);
        let versions_read = list_versions(&dir)?;
        let mut known = IdMap::default();
        for version in &versions_read {
            read_ids(&dir.join(format!("v{version}")), |id, _| {
                known.insert(id, Origin::Earlier);
            })?;
        }
        Ok(Self {
            dir,
            known,
            versions_read,
            draft: None,
        })
    }
}

/// The `v<N>` directories in `dir`; none when it does not exist.
fn list_versions(dir: &Path) -> Result<BTreeSet<u64>, BuildError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(error) => return Err(output_error(dir)(error)),
    };
    let mut versions = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(output_error(dir))?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|name| name.strip_prefix('v'))
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.file_type().map_err(output_error(dir))?.is_dir() {
            versions.insert(number);
        }
    }
    Ok(versions)
}

#[derive(Deserialize)]
struct IdLine<'a> {
    #[serde(borrow)]
    example_id: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    module_name: std::borrow::Cow<'a, str>,
}

/// Calls `each` with the id and module of every example of a version.
fn read_ids(version_dir: &Path, mut each: impl FnMut(ExampleId, &str)) -> Result<(), BuildError> {
    let path = version_dir.join(EXAMPLES_FILE);
    let file = File::open(&path).map_err(output_error(&path))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(output_error(&path))?
            == 0
        {
            return Ok(());
        }
        number += 1;
        let invalid = |reason: String| BuildError::EarlierVersion {
            path: path.display().to_string(),
            line: number,
            reason,
        };
        let parsed: IdLine<'_> =
            serde_json::from_slice(&line).map_err(|_| invalid(parse::diagnose_example(&line)))?;
        let id = parsed
            .example_id
            .parse()
            .map_err(|error: crate::canonical::InvalidExampleId| invalid(error.to_string()))?;
        each(id, &parsed.module_name);
    }
}

impl State<'_> {
    fn consume(&mut self, item: Item<'_, Processed>) -> Result<(), BuildError> {
        match item {
            Item::Problem(problem) => {
                self.damaged += 1;
                self.problem(problem);
            }
            Item::Batch(batch, processed) => {
                for (line, reason) in processed.problems {
                    self.malformed += 1;
                    self.problem(Problem {
                        file: self.names[batch.file].clone(),
                        line: Some(line),
                        reason,
                    });
                }
                for outcome in &processed.records {
                    self.record(&processed.text, outcome)?;
                }
                let mut text = processed.text;
                text.clear();
                if let Ok(mut spare) = self.spare.lock() {
                    spare.push(text);
                }
            }
        }
        Ok(())
    }

    fn problem(&mut self, problem: Problem) {
        self.problems_total += 1;
        if self.problems.len() < MAX_PROBLEMS_KEPT {
            self.problems.push(problem);
        }
    }

    fn record(&mut self, text: &[u8], outcome: &Outcome) -> Result<(), BuildError> {
        let as_str =
            |range: &Range<usize>| std::str::from_utf8(&text[range.clone()]).unwrap_or_default();
        let (module, signature) = (as_str(&outcome.module), as_str(&outcome.signature));
        let stats = self.groups.get(module, signature);
        stats.record(
            outcome.success,
            outcome.latency_ms,
            outcome.cost_usd,
            outcome.adjusted,
        );
        stats.counts.redacted_spans += outcome.spans;
        let (id, example, provenance) = match &outcome.verdict {
            Verdict::Filtered(reason) => {
                stats.counts.filtered.count(*reason);
                return Ok(());
            }
            Verdict::Keep {
                id,
                example,
                provenance,
            } => (id, example, provenance),
        };
        if !self.signatures.contains_key(signature) {
            let opened = Signature::open(self.output_dir, signature)?;
            self.signatures.insert(signature.to_owned(), opened);
        }
        let Some(dataset) = self.signatures.get_mut(signature) else {
            return Ok(());
        };
        let stats = self.groups.get(module, signature);
        match dataset.known.entry(*id) {
            Entry::Occupied(seen) if *seen.get() == Origin::Earlier => {
                stats.counts.duplicates_of_earlier_versions += 1;
            }
            Entry::Occupied(_) => stats.counts.duplicates += 1,
            Entry::Vacant(slot) => {
                slot.insert(Origin::ThisRun);
                if dataset.draft.is_none() {
                    dataset.draft = Some(Draft::create(&dataset.dir, &self.sync)?);
                }
                if let Some(draft) = &mut dataset.draft {
                    draft.examples.write_line(&text[example.clone()])?;
                    draft.provenance.write_line(&text[provenance.clone()])?;
                }
                stats.counts.written += 1;
            }
        }
        Ok(())
    }

    fn finish(
        mut self,
        options: &BuildOptions,
        created_at: &str,
        inputs: Vec<InputFile>,
    ) -> Result<BuildReport, BuildError> {
        let mut names: Vec<String> = self.signatures.keys().cloned().collect();
        names.sort();
        let mut versions = Vec::new();
        for name in names {
            let Some(signature) = self.signatures.remove(&name) else {
                continue;
            };
            if let Some(version) = self.commit(&name, signature, options, created_at, &inputs)? {
                versions.push(version);
            }
        }
        let mut counts = Counts {
            malformed: self.malformed,
            damaged_inputs: self.damaged,
            ..Counts::default()
        };
        let mut groups = Vec::new();
        let mut unchanged = BTreeSet::new();
        for (module, signature, stats) in self.groups.sorted() {
            counts.records.add(&stats.counts);
            groups.push(stats.report(module, signature));
            if !versions
                .iter()
                .any(|v: &VersionWritten| v.signature == signature)
            {
                unchanged.insert(signature.to_owned());
            }
        }
        Ok(BuildReport {
            inputs,
            counts,
            groups,
            versions,
            unchanged: unchanged.into_iter().collect(),
            problems: self.problems,
            problems_total: self.problems_total,
            quantile_relative_error: QUANTILE_RELATIVE_ERROR,
        })
    }

    /// Renames a signature's draft into its next version, under the lock.
    fn commit(
        &mut self,
        name: &str,
        signature: Signature,
        options: &BuildOptions,
        created_at: &str,
        inputs: &[InputFile],
    ) -> Result<Option<VersionWritten>, BuildError> {
        let Some(draft) = signature.draft else {
            return Ok(None);
        };
        let (mut examples, examples_hash) = draft.examples.finish()?;
        let (mut provenance, _) = draft.provenance.finish()?;
        let lock_path = signature.dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(output_error(&lock_path))?;
        lock.lock().map_err(output_error(&lock_path))?;

        let versions = list_versions(&signature.dir)?;
        let mut newer = IdMap::default();
        for version in versions.difference(&signature.versions_read) {
            read_ids(&signature.dir.join(format!("v{version}")), |id, _| {
                newer.insert(id, Origin::Earlier);
            })?;
        }
        let mut examples_hash = examples_hash;
        if !newer.is_empty() {
            let kept = self.drop_examples_of(name, draft.dir.path(), &newer)?;
            (examples, examples_hash, provenance) = kept;
        }
        if examples.lines == 0 {
            // Another build wrote all of it meanwhile; the draft goes.
            return Ok(None);
        }
        let parent_version = versions.last().copied();
        let version = parent_version.map_or(1, |last| last + 1);
        let content_sha256 = content_hash(examples_hash, &draft.dir.path().join(PROVENANCE_FILE))?;
        let mut counts = Counts {
            malformed: self.malformed,
            damaged_inputs: self.damaged,
            records: RecordCounts::default(),
        };
        for (_, stats) in self.groups.of_signature(name) {
            counts.records.add(&stats.counts);
        }
        let manifest = Manifest {
            version,
            signature: name.to_owned(),
            parent_version,
            created_at: created_at.to_owned(),
            source: options.source,
            thresholds: options.filter,
            inputs: inputs.to_vec(),
            counts,
            files: ManifestFiles {
                examples: examples.clone(),
                provenance,
            },
            content_sha256,
        };
        let manifest_path = draft.dir.path().join(MANIFEST_FILE);
        let mut json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        json.push(b'\n');
        write_synced(&manifest_path, &json)?;
        sync_dir(draft.dir.path())?;
        let target = signature.dir.join(format!("v{version}"));
        let temporary = draft.dir.keep();
        std::fs::rename(&temporary, &target).map_err(output_error(&target))?;
        sync_dir(&signature.dir)?;
        drop(lock);
        Ok(Some(VersionWritten {
            signature: name.to_owned(),
            version,
            path: target.display().to_string(),
            examples: examples.lines,
        }))
    }

    /// Rewrites a draft without the examples another build wrote
    /// meanwhile (`newer`), moving their counts from written to
    /// duplicates of earlier versions.
    fn drop_examples_of(
        &mut self,
        name: &str,
        draft: &Path,
        newer: &IdMap,
    ) -> Result<(FileSummary, Sha256, FileSummary), BuildError> {
        let examples_path = draft.join(EXAMPLES_FILE);
        let provenance_path = draft.join(PROVENANCE_FILE);
        let open = |path: &Path| {
            File::open(path)
                .map(|file| BufReader::with_capacity(1 << 20, file))
                .map_err(output_error(path))
        };
        let (mut examples_in, mut provenance_in) = (open(&examples_path)?, open(&provenance_path)?);
        let mut examples_out = HashingWriter::create(draft.join(".examples.jsonl.new"), None)?;
        let mut provenance_out = HashingWriter::create(draft.join(".provenance.jsonl.new"), None)?;
        let (mut example, mut provenance) = (Vec::new(), Vec::new());
        let mut number = 0;
        loop {
            example.clear();
            provenance.clear();
            let read = examples_in
                .read_until(b'\n', &mut example)
                .map_err(output_error(&examples_path))?;
            provenance_in
                .read_until(b'\n', &mut provenance)
                .map_err(output_error(&provenance_path))?;
            if read == 0 {
                break;
            }
            number += 1;
            let parsed: IdLine<'_> =
                serde_json::from_slice(&example).map_err(|_| BuildError::EarlierVersion {
                    path: examples_path.display().to_string(),
                    line: number,
                    reason: parse::diagnose_example(&example),
                })?;
            let id: Option<ExampleId> = parsed.example_id.parse().ok();
            if id.is_some_and(|id| newer.contains_key(&id)) {
                let stats = self.groups.get(&parsed.module_name, name);
                stats.counts.written -= 1;
                stats.counts.duplicates_of_earlier_versions += 1;
            } else {
                examples_out.write_line(&example)?;
                provenance_out.write_line(&provenance)?;
            }
        }
        let (examples, examples_hash) = examples_out.finish()?;
        let (provenance, _) = provenance_out.finish()?;
        for (from, to) in [
            (draft.join(".examples.jsonl.new"), examples_path),
            (draft.join(".provenance.jsonl.new"), provenance_path),
        ] {
            std::fs::rename(&from, &to).map_err(output_error(&to))?;
        }
        Ok((examples, examples_hash, provenance))
    }
}

/// The SHA-256 of examples then provenance, from the hash state after the
/// examples: only the (smaller) provenance file is read back.
fn content_hash(mut hash: Sha256, provenance: &Path) -> Result<String, BuildError> {
    let mut file = File::open(provenance).map_err(output_error(provenance))?;
    io::copy(&mut file, &mut hash).map_err(output_error(provenance))?;
    Ok(hex::encode(hash.finalize()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let mut file = File::create(path).map_err(output_error(path))?;
    file.write_all(bytes).map_err(output_error(path))?;
    file.sync_all().map_err(output_error(path))
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), BuildError> {
    // Windows cannot open a directory as a file; its renames are durable
    // through the file system's own journal.
    if cfg!(windows) {
        return Ok(());
    }
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(output_error(dir))
}
