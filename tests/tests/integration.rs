//! Workspace-level behaviour tests, in one binary. Each module is one concern.

/// The README's review recipe in a new crate outside the workspace.
mod app_review;
/// The review tools (snapshots, PII audit, manifest) on planted problems.
mod audit;
/// The event catalogue: constructors' validation and reviewed payload snapshots.
mod catalogue;
/// The derive as an app author uses it: every conversion through real structs.
mod derive;
/// No raw value leaks through a converted field, for random inputs.
mod leaks;
/// The naming rules, on the table the derive is tested on too.
mod names;
/// Nested structs are filtered by their own rules wherever they appear.
mod nesting;
/// Schema metadata, doc comments included.
mod schema;

/// A fixed installation key, so digests are stable across runs.
pub(crate) fn anonymizer() -> telemetry_core::Anonymizer {
    telemetry_core::Anonymizer::new(&telemetry_core::HashKey::from_bytes([42; 32]))
}

/// The digest the test key gives for `bytes`, as sent.
pub(crate) fn digest(bytes: &[u8]) -> String {
    anonymizer()
        .hash(telemetry_core::HashScope::Installation, bytes)
        .unwrap()
        .to_string()
}
