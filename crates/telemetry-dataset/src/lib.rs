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

pub mod config;
pub mod files;
pub mod log;
pub mod record;
pub mod redact;
pub mod simulate;
pub mod wrap;

pub use config::{MonitoringConfig, QualityThresholds};
pub use log::{InteractionLogger, LogCounters, LogError};
pub use record::InteractionLog;
pub use wrap::{ModuleCall, ModuleOutput};
