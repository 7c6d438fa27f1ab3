//! Review tools for the events an application sends: payload snapshots,
//! the PII audit of snapshots and example payloads, and the generated data
//! dictionary. A dev-dependency: nothing here belongs in a release build.
//!
//! An application runs the same review as this workspace does, in its own
//! tests or xtask, with `telemetry-audit` and `insta` (feature `json`) among
//! its dev-dependencies:
//!
//! ```no_run
//! # fn main() -> Result<(), telemetry_audit::AuditError> {
//! # /// A search.
//! # #[derive(telemetry_core::TelemetrySafe)]
//! # #[telemetry(event = "search")]
//! # struct Search {
//! #     /// Results.
//! #     results: u32,
//! # }
//! # let event = Search { results: 3 };
//! use telemetry_audit::{self as audit, Audit, Manifest, Scope};
//! use telemetry_core::SessionSummary;
//!
//! // The types to review: the app's own, and the catalogue events it sends.
//! let scope = Scope::crates(["myapp"]).sends::<SessionSummary>();
//! // 1. In a test: the event as sent, with fixed hashing keys and the
//! //    envelope's changing fields redacted.
//! insta::assert_json_snapshot!(audit::snapshot(&event));
//! // 2. Every type in scope has a snapshot, and every snapshot passes the
//! //    audit; an error lists `file:line: field: reason`.
//! let snapshots = audit::find_files(".", &[".snap"])?;
//! audit::check_coverage(&scope.registered(), &snapshots)?;
//! Audit::new(scope.schemas()).run(&snapshots)?.ensure_clean()?;
//! // 3. Check the data dictionary (`write` generates it).
//! Manifest::new("myapp", scope.schemas()).check("docs/telemetry-manifest.md")?;
//! # Ok(()) }
//! ```
//!
//! - [`Scope`] picks the registered types one review covers: those declared
//!   in the named crates, and each event of another crate that the app says
//!   it sends (with the structs nested in it). The registry itself
//!   ([`telemetry_core::registry`]) lists every non-generic struct deriving
//!   `TelemetrySafe` in the program, the toolkit's catalogue included.
//! - [`snapshot`] turns an event into the envelope it would be sent in,
//!   filtered with fixed keys ([`snapshot_anonymizer`]), with `uuid`,
//!   `distinct_id` and `timestamp` redacted. [`check_coverage`] fails when a
//!   type in scope appears in no snapshot.
//! - [`Audit`] runs the run-time guard's detectors
//!   ([`guard::detect`](telemetry_core::guard::detect)) on every string and
//!   key of every payload file, plus review-time checks: raw-content field
//!   names sent pass-through ([`RAW_CONTENT_WORDS`]), strings longer than
//!   [`MAX_STRING_CHARS`], and values planted by the tests. Each [`Finding`]
//!   prints as `file:line: field: reason`; an [`AllowList`] silences
//!   reviewed ones, each with its reason.
//! - [`Manifest`] renders the data dictionary: one table per event (field,
//!   type, conversion, hash scope, doc comment), the envelope, and what is
//!   never collected; [`Manifest::check`] fails when the committed file is
//!   stale, and says how to create it when it is missing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod allow;
mod document;
mod finding;
mod manifest;
mod payload;
mod scope;
mod snapshot;

use std::path::PathBuf;

use telemetry_core::Schema;

pub use allow::{AllowList, Allowed};
pub use finding::{Finding, MAX_STRING_CHARS, RAW_CONTENT_WORDS, Reason};
pub use manifest::Manifest;
pub use payload::{Audit, Report};
pub use scope::Scope;
pub use snapshot::{
    MissingSnapshots, REDACTED_DISTINCT_ID, REDACTED_TIMESTAMP, REDACTED_UUID, SNAPSHOT_APP_KEY,
    SNAPSHOT_INSTALLATION_KEY, check_coverage, find_files, snapshot, snapshot_anonymizer,
};

/// The schemas of every registered type in the program
/// ([`registry::registered`](telemetry_core::registry::registered)), for a
/// review of everything linked (this workspace's own); an application
/// reviews a [`Scope`].
#[must_use]
pub fn registered_schemas() -> Vec<&'static Schema> {
    telemetry_core::registry::registered()
        .iter()
        .map(|registered| registered.schema)
        .collect()
}

/// Why a review step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A payload file or the allow-list could not be read as what it should be.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The audit found values that no allow-list entry covers, or stale
    /// entries.
    #[error("{0}")]
    Findings(Box<Report>),
    /// Registered types appear in no snapshot.
    #[error("{0}")]
    MissingSnapshots(MissingSnapshots),
    /// The data dictionary to check does not exist yet.
    #[error(
        "{}: the data dictionary is missing; create it with `Manifest::write` (in this workspace: `cargo xtask manifest`)",
        path.display()
    )]
    MissingManifest {
        /// The file.
        path: PathBuf,
    },
    /// The committed data dictionary differs from the generated one.
    #[error(
        "{}:{line} is stale: expected `{expected}`, found `{actual}`; regenerate it",
        path.display()
    )]
    StaleManifest {
        /// The file.
        path: PathBuf,
        /// The first line that differs, from 1.
        line: usize,
        /// That line as generated (empty past the end).
        expected: String,
        /// That line in the file (empty past the end).
        actual: String,
    },
}
