//! Sampled interaction logs that become versioned datasets.
//!
//! - [`record::InteractionLog`]: one module call, as JSON Lines.
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
mod parse;
pub mod read;
pub mod record;
pub mod report;

pub use config::{MonitoringConfig, QualityThresholds};
pub use record::InteractionLog;

pub use build::{BuildError, BuildOptions, Manifest, QualityFilter, Source, build};
pub use canonical::{ExampleId, canonical_json};
pub use check::{Alert, AlertKind, CheckOptions, CheckReport, check, load_thresholds};
pub use read::{ReadError, ReadOptions, expand};
pub use report::BuildReport;
