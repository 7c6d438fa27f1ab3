//! What this workspace reviews: its registered types, its payload files, its
//! planted test values. The checks themselves are `telemetry_core::audit`'s.

use std::path::{Path, PathBuf};

use telemetry_core::Schema;
use telemetry_core::audit;
use telemetry_core::registry::{self, Registered};

/// The committed data dictionary.
pub(crate) const MANIFEST: &str = "docs/telemetry-manifest.md";

/// Reviewed audit findings, each with its reason.
pub(crate) const ALLOW_LIST: &str = "audit-allow.toml";

/// Values the tests and examples plant in events' raw inputs: none may
/// appear in a payload. The guard's detectors catch most paths and keys by
/// their shape; these also catch the ones they cannot (query text, short
/// keys).
pub(crate) const PLANTED: &[&str] = &[
    "/home/ana/secret-project",
    "/home/ana/secret-project/src/main.rs",
    "/home/ana/models/my-finetune",
    "/home/ana/work/invoice-service",
    "/home/ana/.config/search/config.toml",
    "/home/ana/repo",
    "/home/ana/project",
    "~/.ssh/id_ed25519",
    "sk-live-123",
    "sk-live-do-not-send",
    "sk-proj-4f9Xk2LqZ8",
    "fn parse_invoice",
    "where do we round VAT amounts",
];

/// Every type deriving `TelemetrySafe` in the library crates xtask links
/// (see its Cargo.toml); test-only types live in test binaries and are not
/// among them.
pub(crate) fn registered() -> Vec<Registered> {
    registry::registered()
}

/// The schemas of [`registered`].
pub(crate) fn schemas() -> Vec<&'static Schema> {
    registered()
        .iter()
        .map(|registered| registered.schema)
        .collect()
}

/// Every committed snapshot.
pub(crate) fn snapshot_files() -> anyhow::Result<Vec<PathBuf>> {
    Ok(audit::find_files(Path::new("."), &[".snap"])?)
}

/// Every payload the audit reads: the snapshots, and JSON payloads under an
/// `examples` directory.
pub(crate) fn payload_files() -> anyhow::Result<Vec<PathBuf>> {
    let mut files = snapshot_files()?;
    files.extend(
        audit::find_files(Path::new("."), &[".json"])?
            .into_iter()
            .filter(|path| path.components().any(|part| part.as_os_str() == "examples")),
    );
    Ok(files)
}
