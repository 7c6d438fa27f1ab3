//! The interaction logger: decides on the caller's thread whether a call is
//! kept (the [`Sampler`]), redacts and serializes the record there, and
//! hands the line to a background writer through the runtime's
//! [`Pipe`]: a full channel drops the record
//! and counts it, so logging never blocks the caller. The writer appends,
//! rotates, compresses and deletes as [`files`](crate::files) describes.
//!
//! While disabled (the default; `telemetry.enabled = false`, or an explicit
//! "off" in the environment: `DO_NOT_TRACK`, `{PREFIX}TELEMETRY_ENABLED=false`)
//! there is no thread and no file, and a wrapped call costs one branch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use telemetry_runtime::consent::{ConsentPolicy, Decision, Mode};
use telemetry_runtime::pipe::{Drain, Pipe, PipeCounters, PipeError};
use telemetry_runtime::policy;
use telemetry_runtime::sampling::{Sampler, Threshold};

use crate::config::{AllowedKeys, TelemetryConfig};
use crate::files::LiveFile;
use crate::record::InteractionLog;
use crate::redact;

/// The logger could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A sampling percentage is out of range.
    #[error("`{key}`: {source}")]
    Sampling {
        /// The configuration key.
        key: String,
        /// What was wrong.
        source: telemetry_runtime::sampling::SamplingError,
    },
    /// The log file or its directory could not be opened.
    #[error("interaction log {path}: {source}")]
    Open {
        /// The log file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What the logger has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounters {
    /// Calls the sampler kept.
    pub kept: u64,
    /// Calls the sampler left out.
    pub sampled_out: u64,
    /// Spans redacted in kept records.
    pub redacted_spans: u64,
    /// Records that could not be serialized (a map key that is not a
    /// string cannot happen; kept for what serde may refuse).
    pub unserializable: u64,
    /// Records dropped because they were larger than
    /// [`MAX_RECORD_BYTES`], or because the records waiting for the writer
    /// already held [`MAX_IN_FLIGHT_BYTES`].
    pub dropped_too_large: u64,
    /// Records handed to the writer, dropped on a full channel, written.
    pub pipe: PipeCounters,
    /// Batches the writer could not append (a full disk); their records are
    /// lost and logged through `tracing`.
    pub write_errors: u64,
}

/// Logs sampled module calls as JSON Lines; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct InteractionLogger {
    active: Option<Arc<Active>>,
}

#[derive(Debug)]
struct Active {
    sampler: Sampler,
    allowed: BTreeMap<String, AllowedKeys>,
    pipe: Pipe<Vec<u8>>,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    kept: AtomicU64,
    sampled_out: AtomicU64,
    redacted_spans: AtomicU64,
    unserializable: AtomicU64,
    dropped_too_large: AtomicU64,
    write_errors: AtomicU64,
    /// Bytes handed to the writer and not yet written.
    in_flight: AtomicU64,
}

/// The largest record logged, serialized: 8 MiB.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes of records waiting for the writer: 64 MiB. Past it a
/// record is dropped and counted, as on a full channel, so that large
/// inputs cannot make the channel hold gigabytes.
pub const MAX_IN_FLIGHT_BYTES: u64 = 64 * 1024 * 1024;

impl InteractionLogger {
    /// A logger that logs nothing.
    #[must_use]
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Starts logging as `config` says, unless it is disabled or the
    /// process environment says "off" for the application whose
    /// environment prefix is `env_prefix` (`MYAPP_`).
    pub fn open(config: &TelemetryConfig, env_prefix: &str) -> Result<Self, LogError> {
        Self::open_with_env(config, env_prefix, |name| std::env::var(name).ok())
    }

    /// [`open`](Self::open), reading the environment through `env`.
    pub fn open_with_env(
        config: &TelemetryConfig,
        env_prefix: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, LogError> {
        let refused =
            Decision::decide(env, env_prefix, None, ConsentPolicy::OptOut).mode == Mode::Off;
        if !config.enabled || refused {
            return Ok(Self::disabled());
        }
        let sampler = sampler(config)?;
        let live =
            LiveFile::open(&config.log_file_path, config.rotation.clone()).map_err(|source| {
                LogError::Open {
                    path: config.log_file_path.display().to_string(),
                    source,
                }
            })?;
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            live,
            counters: Arc::clone(&counters),
            buffer: Vec::new(),
            last_sync: Instant::now(),
        };
        let pipe = Pipe::spawn("telemetry-dataset-log", policy::CHANNEL_CAPACITY, writer).map_err(
            |source| LogError::Open {
                path: config.log_file_path.display().to_string(),
                source,
            },
        )?;
        Ok(Self {
            active: Some(Arc::new(Active {
                sampler,
                allowed: config.allowed_keys.clone(),
                pipe,
                counters,
            })),
        })
    }

    /// Whether anything is logged.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.active.is_some()
    }

    /// The sampler, while enabled.
    #[must_use]
    pub fn sampler(&self) -> Option<&Sampler> {
        self.active.as_deref().map(|active| &active.sampler)
    }

    /// Logs `record` if the sampler keeps the call `request_id` of its
    /// module: stamps the sampling fields, keeps the signature's allowed
    /// keys, redacts `input`, `output` and `error`, and hands the line to
    /// the writer. `true` when the line was handed over.
    #[allow(
        clippy::must_use_candidate,
        reason = "a record not handed over is counted; most callers need not look"
    )]
    pub fn log(&self, request_id: &str, record: InteractionLog) -> bool {
        match self.keeps(&record.module_name, request_id, record.success) {
            Some(threshold) => self.write_kept(record, threshold),
            None => false,
        }
    }

    /// The threshold the call is kept at, or `None` (counted) when the
    /// sampler leaves it out or the logger is disabled. No allocation.
    pub(crate) fn keeps(&self, module: &str, request_id: &str, success: bool) -> Option<Threshold> {
        let active = self.active.as_deref()?;
        let decision = active.sampler.decide(module, request_id, success);
        let counter = if decision.keep {
            &active.counters.kept
        } else {
            &active.counters.sampled_out
        };
        counter.fetch_add(1, Ordering::Relaxed);
        decision.keep.then_some(decision.threshold)
    }

    /// Writes a record [`keeps`](Self::keeps) kept.
    pub(crate) fn write_kept(&self, record: InteractionLog, threshold: Threshold) -> bool {
        self.active
            .as_deref()
            .is_some_and(|active| active.write(record, Some(threshold)))
    }

    /// Logs `record` as it is, sampled already by the caller (its `th` and
    /// `adjusted_count` kept as they are, or absent): redacts and writes.
    #[allow(
        clippy::must_use_candidate,
        reason = "a record not handed over is counted; most callers need not look"
    )]
    pub fn log_sampled(&self, record: InteractionLog) -> bool {
        let Some(active) = &self.active else {
            return false;
        };
        active.counters.kept.fetch_add(1, Ordering::Relaxed);
        active.write(record, None)
    }

    /// Waits, at most `timeout`, until every record handed over is written
    /// and synced.
    pub fn flush(&self, timeout: Duration) -> Result<(), PipeError> {
        match &self.active {
            Some(active) => active.pipe.flush(timeout),
            None => Ok(()),
        }
    }

    /// Writes what was handed over and stops the writer, waiting at most
    /// `timeout`; later records are not logged.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PipeError> {
        match &self.active {
            Some(active) => active.pipe.shutdown(timeout),
            None => Ok(()),
        }
    }

    /// The counters so far (zero while disabled).
    #[must_use]
    pub fn counters(&self) -> LogCounters {
        let Some(active) = &self.active else {
            return LogCounters::default();
        };
        let counters = &active.counters;
        LogCounters {
            kept: counters.kept.load(Ordering::Relaxed),
            sampled_out: counters.sampled_out.load(Ordering::Relaxed),
            redacted_spans: counters.redacted_spans.load(Ordering::Relaxed),
            unserializable: counters.unserializable.load(Ordering::Relaxed),
            dropped_too_large: counters.dropped_too_large.load(Ordering::Relaxed),
            pipe: active.pipe.counters(),
            write_errors: counters.write_errors.load(Ordering::Relaxed),
        }
    }
}

impl Active {
    fn write(&self, mut record: InteractionLog, threshold: Option<Threshold>) -> bool {
        if let Some(threshold) = threshold {
            record.th = Some(threshold.th().to_string());
            record.adjusted_count = Some(threshold.adjusted_count());
        }
        if let Some(allowed) = self.allowed.get(&record.signature) {
            redact::retain_keys(&mut record.input, &allowed.input);
            redact::retain_keys(&mut record.output, &allowed.output);
        }
        let spans = redact_record(&mut record);
        if spans > 0 {
            self.counters
                .redacted_spans
                .fetch_add(u64::from(spans), Ordering::Relaxed);
        }
        let mut line = Vec::with_capacity(1024);
        if serde_json::to_writer(&mut line, &record).is_err() {
            self.counters.unserializable.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        line.push(b'\n');
        let bytes = line.len() as u64;
        let waiting = self.counters.in_flight.fetch_add(bytes, Ordering::Relaxed);
        if line.len() > MAX_RECORD_BYTES || waiting + bytes > MAX_IN_FLIGHT_BYTES {
            self.counters.in_flight.fetch_sub(bytes, Ordering::Relaxed);
            self.counters
                .dropped_too_large
                .fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.pipe.offer(line) {
            true
        } else {
            self.counters.in_flight.fetch_sub(bytes, Ordering::Relaxed);
            false
        }
    }
}

/// Redacts the user content of `record` (`input`, `output`, `error`, and
/// the names, which may come from anywhere) and adds the spans to its
/// count; returns the spans redacted now.
pub fn redact_record(record: &mut InteractionLog) -> u32 {
    let mut spans = redact::redact_map(&mut record.input) + redact::redact_map(&mut record.output);
    if let Some(error) = &mut record.error {
        spans += redact::redact_string(error);
    }
    for name in [
        &mut record.module_name,
        &mut record.module_version,
        &mut record.signature,
    ] {
        spans += redact::redact_string(name);
    }
    if let Some(model) = &mut record.model {
        spans += redact::redact_string(model);
    }
    record.redactions = record.redactions.saturating_add(spans);
    spans
}

/// The sampler `config` describes.
pub fn sampler(config: &TelemetryConfig) -> Result<Sampler, LogError> {
    let threshold = |key: String, pct: f64| {
        Threshold::from_percent(pct).map_err(|source| LogError::Sampling { key, source })
    };
    let mut sampler = Sampler::new(
        config.sampling_salt.as_bytes(),
        threshold(
            "telemetry.sampling_rate_pct".to_owned(),
            config.sampling_rate_pct,
        )?,
    )
    .failures(threshold(
        "telemetry.failure_sampling_rate_pct".to_owned(),
        config.failure_sampling_rate_pct,
    )?);
    for (module, &pct) in &config.modules {
        sampler = sampler.module(
            module.clone(),
            threshold(format!("telemetry.modules.{module}"), pct)?,
        );
    }
    Ok(sampler)
}

/// The pipe's drain: batches of lines into the live file.
struct Writer {
    live: LiveFile,
    counters: Arc<Counters>,
    buffer: Vec<u8>,
    last_sync: Instant,
}

impl Drain<Vec<u8>> for Writer {
    fn write(&mut self, batch: &mut Vec<Vec<u8>>) {
        self.buffer.clear();
        for line in batch.drain(..) {
            self.buffer.extend_from_slice(&line);
        }
        let bytes = self.buffer.len() as u64;
        if let Err(error) = self.live.append(&self.buffer) {
            self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "interaction log: a batch of records could not be written");
        }
        self.counters.in_flight.fetch_sub(bytes, Ordering::Relaxed);
        if let Err(error) = self.live.rotate_if_full() {
            tracing::warn!(%error, "interaction log: could not rotate");
        }
    }

    fn idle(&mut self) {
        if self.last_sync.elapsed() >= policy::WRITER_SYNC_INTERVAL {
            self.sync();
        }
        if let Err(error) = self.live.tick() {
            tracing::warn!(%error, "interaction log: could not rotate by age or apply retention");
        }
    }

    fn sync(&mut self) {
        self.last_sync = Instant::now();
        if let Err(error) = self.live.sync() {
            tracing::warn!(%error, "interaction log: could not sync");
        }
    }
}

/// A record of a call, for [`InteractionLogger::log`]: the required fields,
/// the rest empty.
#[must_use]
pub fn record(
    module_name: &str,
    module_version: &str,
    signature: &str,
    input: Map<String, Value>,
    timestamp_ms: u64,
) -> InteractionLog {
    InteractionLog {
        module_name: module_name.to_owned(),
        module_version: module_version.to_owned(),
        signature: signature.to_owned(),
        input,
        output: Map::new(),
        timestamp_ms,
        success: true,
        latency_ms: None,
        tokens: None,
        cost_usd: None,
        model: None,
        error: None,
        quality_score: None,
        th: None,
        adjusted_count: None,
        redactions: 0,
    }
}
