//! This workspace's privacy review, run by `cargo xtask` as tests so that
//! they build with the same features as every other test and share their
//! artifacts: every registered type has a snapshot, every payload passes
//! the PII audit, and the data dictionary is current. The checks are
//! `telemetry_audit`'s; this file says only what to review.
//!
//! The types reviewed are those that the library crates linked here
//! register (see this crate's dev-dependencies); test-only types live in
//! test binaries and are not among them.

use std::path::{Path, PathBuf};
use std::sync::Once;

use telemetry_audit::{self as audit, AllowList, Audit, Manifest};
use telemetry_core::registry::registered;

/// The committed data dictionary.
const MANIFEST: &str = "docs/telemetry-manifest.md";

/// What the manifest calls this project.
const TITLE: &str = "the telemetry toolkit";

/// Set to `1` to write the manifest rather than check it.
const WRITE_MANIFEST: &str = "XTASK_WRITE_MANIFEST";

/// Reviewed audit findings, each with its reason.
const ALLOW_LIST: &str = "audit-allow.toml";

/// Values the tests and examples plant in events' raw inputs: none may
/// appear in a payload. The guard's detectors catch most paths and keys by
/// their shape; these also catch what they cannot (query text, short keys).
const PLANTED: &[&str] = &[
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

/// Works from the workspace root, so that files are named from there. Every
/// test sets the same directory, so running them in parallel is fine.
fn at_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        std::env::set_current_dir(root).unwrap();
    });
}

fn snapshot_files() -> Vec<PathBuf> {
    audit::find_files(".", &[".snap"]).unwrap()
}

/// Fails with the review's own message, not a `Debug` dump.
fn ensure(result: Result<(), impl std::fmt::Display>) {
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn every_registered_type_has_a_snapshot() {
    at_root();
    let files = snapshot_files();
    ensure(audit::check_coverage(&registered(), &files));
    println!(
        "{} registered types, each shown in one of {} snapshots",
        registered().len(),
        files.len()
    );
}

#[test]
fn every_payload_passes_the_audit() {
    at_root();
    // The snapshots, and JSON payloads under an `examples` directory. The
    // example developer traces (`examples/traces`) are not event payloads:
    // they hold hashes and free text by design, and their own test
    // (`telemetry-cli`'s `example_traces`) checks that the text is redacted
    // and that nothing the guard flags is left in it.
    let mut files = snapshot_files();
    files.extend(
        audit::find_files(".", &[".json"])
            .unwrap()
            .into_iter()
            .filter(|path| path.components().any(|part| part.as_os_str() == "examples"))
            .filter(|path| !path.starts_with("examples/traces")),
    );
    let allow = AllowList::load(ALLOW_LIST).unwrap_or_else(|error| panic!("{error}"));
    let report = Audit::new(audit::registered_schemas())
        .planted(PLANTED.iter().copied())
        .allow(allow)
        .run(&files)
        .unwrap_or_else(|error| panic!("{error}"));
    println!("{report}");
    assert!(
        report.is_clean(),
        "payloads look personal or secret; fix the field's conversion, or add a reviewed \
         entry with its reason to {ALLOW_LIST}"
    );
}

#[test]
fn the_manifest_is_current() {
    at_root();
    let manifest = Manifest::new(TITLE, audit::registered_schemas());
    if std::env::var_os(WRITE_MANIFEST).is_some_and(|value| value == "1") {
        ensure(manifest.write(MANIFEST));
        println!("wrote {MANIFEST}");
    } else {
        ensure(
            manifest
                .check(MANIFEST)
                .map_err(|error| format!("{error}: run `cargo xtask manifest` and commit it")),
        );
    }
}
