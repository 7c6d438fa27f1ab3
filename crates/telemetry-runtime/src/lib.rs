//! Records and sends the events that `telemetry-core` defines.
//!
//! `Telemetry::builder("myapp")` decides consent, loads the installation's
//! identity, opens the durable queue and starts the background threads; the
//! handle's `capture` filters, guards and hands an event off without I/O.
//!
//! This crate re-exports all of `telemetry-core` and its derives, so an app
//! that records and sends events depends on this crate alone:
//!
//! ```
//! use telemetry_runtime::{Telemetry, TelemetrySafe};
//!
//! /// A search finished.
//! #[derive(TelemetrySafe)]
//! #[telemetry(event = "search")]
//! struct Search {
//!     /// Results returned.
//!     hits: u64,
//! }
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let telemetry = Telemetry::builder("myapp").data_dir(dir.path()).build()?;
//! telemetry.capture(&Search { hits: 3 });
//! # Ok::<(), telemetry_runtime::names::InvalidAppName>(())
//! ```
//!
//! See [`consent`] for who decides whether anything is recorded, [`queue`]
//! for the files on disk, [`delivery`] and [`policy`] for how queued events
//! reach a [`Sink`](sink::Sink), [`config`] for the `[telemetry]` table every
//! sink's configuration reads, and [`control`] for what a user can see and
//! change.
//!
//! Inside the crate, each file owns one idea and imports only downwards:
//! `builder` starts `handle` and `worker`; `worker` knows the queue, the
//! delivery rules and the counters, never the handle; `control` reads the
//! plain `config` the builder filled.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
pub mod config;
pub mod consent;
pub mod control;
mod counters;
pub mod custom;
pub mod delivery;
mod fs;
mod handle;
mod pace;
pub mod pipe;
pub mod policy;
pub mod queue;
pub mod settings;
pub mod sink;
mod worker;

pub use builder::TelemetryBuilder;
pub use config::{EnvReader, Sampler};
pub use counters::CaptureCounters;
pub use handle::{FlushError, Telemetry};
pub use telemetry_core::*;
// The derives again, shadowing the glob's: these name this crate in the code
// they generate, so that an app depending on `telemetry-runtime` alone needs
// no `telemetry-core` line of its own.
/// Derives [`TelemetrySafe`](trait@TelemetrySafe); every attribute is
/// documented at [`telemetry_core::TelemetrySafe`](derive@telemetry_core::TelemetrySafe).
#[doc(inline)]
pub use telemetry_derive::TelemetrySafeViaRuntime as TelemetrySafe;
/// Derives [`TelemetryValue`](trait@TelemetryValue) for a unit-only enum; see
/// [`telemetry_core::TelemetryValue`](derive@telemetry_core::TelemetryValue).
#[doc(inline)]
pub use telemetry_derive::TelemetryValueViaRuntime as TelemetryValue;
