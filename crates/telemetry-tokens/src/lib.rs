//! Token-usage telemetry: record what each LLM call was estimated to need
//! and actually used, in an embedded SQLite database; calibrate the
//! output-token estimator per category and complexity with confidence
//! gates; review the Markdown report; apply the JSON patch by hand.
//!
//! ```
//! use telemetry_tokens::{Estimator, TokenCounts, TokenRecorder, TokenUsage};
//! use telemetry_runtime::Timestamp;
//!
//! # let dir = tempfile::tempdir()?;
//! # let db = dir.path().join("tokens.db");
//! // Off unless MYAPP_TELEMETRY_DB_ENABLED=1; the database from
//! // MYAPP_TELEMETRY_DATABASE_URL or DATABASE_URL (sqlite:///tokens.db).
//! let recorder = TokenRecorder::builder("myapp")?
//! #   .env(move |name| (name == "MYAPP_TELEMETRY_DB_ENABLED").then(|| "1".to_owned()))
//! #   .database(&db)
//!     .build();
//! let estimate = Estimator::default().estimate("implementation", "low");
//! // … call the provider with max_tokens = estimate.budget …
//! recorder.record(TokenUsage {
//!     timestamp: Timestamp::now(),
//!     run_id: "telemetry-collection-v4".into(),
//!     phase_id: "telemetry-p1-string-util".into(),
//!     provider: "anthropic".into(),
//!     model: "claude-sonnet-4".into(),
//!     category: "implementation".into(),
//!     complexity: "low".into(),
//!     deliverable_count: 2,
//!     estimated_output_tokens: estimate.output_tokens,
//!     selected_budget: estimate.budget,
//!     actual_max_tokens: estimate.budget,
//!     counts: TokenCounts::prefer_reported(Some(TokenCounts::reported(1830, 2410)), TokenCounts::estimated(1800, 2300)),
//!     success: true,
//!     truncated: false,
//! })?;
//! # recorder.flush(std::time::Duration::from_secs(5))?;
//! # assert_eq!(recorder.counters().written, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `telemetry tokens check`, `calibrate` and `apply` (in `telemetry-cli`)
//! run the rest of the workflow; `docs/tokens.md` walks through it.
//!
//! Inside the crate, modules import only downwards: `usage` and `location`
//! stand alone; `store` keeps `usage` records; `recorder` feeds the store;
//! `stats` is plain math; `calibrate` reads the store with `stats` and the
//! `estimator`'s coefficients; `patch` applies coefficients; `report`
//! writes a calibration as Markdown and as a patch; `check` reads the store.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calibrate;
pub mod check;
pub mod estimator;
pub mod location;
pub mod patch;
mod recorder;
pub mod report;
pub mod simulate;
pub mod stats;
pub mod store;
mod usage;

pub use calibrate::{Calibration, Options, calibrate};
pub use estimator::{Coefficients, Estimate, Estimator};
pub use location::{Location, LocationError, Switch};
pub use recorder::{FlushError, RecorderBuilder, RecorderCounters, TokenRecorder};
pub use store::{Create, Store, StoreError};
pub use usage::{CountsSource, MAX_LABEL_BYTES, RecordError, TokenCounts, TokenUsage};
