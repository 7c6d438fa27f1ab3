//! Sampled interaction logs that become versioned datasets.
//!
//! - [`record::InteractionLog`]: one module call, as JSON Lines.
//! - [`config::MonitoringConfig`]: `monitoring_config.json`, or the same
//!   keys in TOML.

pub mod config;
pub mod record;

pub use config::{MonitoringConfig, QualityThresholds};
pub use record::InteractionLog;
