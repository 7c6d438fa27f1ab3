//! Sampled interaction logs that become versioned datasets.
//!
//! - [`InteractionLogger`] and its wrapper
//!   [`call_module_with_sampling`](InteractionLogger::call_module_with_sampling):
//!   deterministic sampling by request id, span redaction of inputs and
//!   outputs, JSON Lines written off the caller's thread, rotated,
//!   compressed and deleted by age and size ([`files`]).
//! - [`record::InteractionLog`]: one module call, one line of the log.
//! - [`config::MonitoringConfig`]: `monitoring_config.json`, or the same
//!   keys in TOML.
//! - [`build::build`]: logs into versioned, deduplicated datasets with
//!   provenance (`telemetry dataset build`), reported per module and
//!   signature ([`report::BuildReport`]).
//! - [`check::check`]: alerts on success rate, p99 latency and p99 cost
//!   (`telemetry dataset check`).
//! - [`read`]: which files a `--log-file` names, read in parallel batches;
//!   [`canonical::ExampleId`]: an example's id.

pub mod build;
pub mod canonical;
pub mod check;
pub mod config;
pub mod files;
pub mod log;
mod parse;
pub mod read;
pub mod record;
pub mod redact;
pub mod report;
pub mod simulate;
pub mod wrap;

pub use config::{MonitoringConfig, QualityThresholds};
pub use log::{InteractionLogger, LogCounters, LogError};
pub use record::InteractionLog;
pub use wrap::{ModuleCall, ModuleOutput};

pub use build::{BuildError, BuildOptions, Manifest, QualityFilter, Source, build};
pub use canonical::{ExampleId, canonical_json};
pub use check::{Alert, AlertKind, CheckOptions, CheckReport, check, load_thresholds};
pub use read::{ReadError, ReadOptions, expand};
pub use report::BuildReport;
