//! The README's "Reviewing your own events" recipe, followed by a new crate
//! outside this workspace exactly as an app author would: path dependencies
//! on `telemetry-runtime` (one line to define and record events) and
//! `telemetry-audit` (a dev-dependency), its own event, one catalogue event
//! it sends, and the three review steps in its own test.
//!
//! What this guards: the coverage check and the data dictionary list the
//! app's types and the catalogue events it says it sends, nothing else; a
//! missing data dictionary says how to create it; and the snapshot, audit
//! and manifest steps pass once the app has done what they ask.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

const LIB: &str = r#"//! An app that records searches.

use telemetry_runtime::TelemetrySafe;

/// A search finished.
#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
pub struct Search {
    /// Results returned.
    pub results: u32,
    /// The query's length in characters.
    #[telemetry(text_count)]
    pub query: String,
}
"#;

const REVIEW: &str = r#"//! The README recipe, word for word apart from the app's names.

use std::time::Duration;

use myapp::Search;
use telemetry_audit::{self as audit, Audit, Manifest, Scope};
use telemetry_runtime::{SessionAggregator, SessionSummary};

/// The types this app reviews: its own, and the catalogue event it sends.
fn scope() -> Scope {
    Scope::crates(["myapp"]).sends::<SessionSummary>()
}

#[test]
fn search_payload() {
    let event = Search { results: 3, query: "fn main".into() };
    insta::assert_json_snapshot!(audit::snapshot(&event));
}

#[test]
fn session_summary_payload() {
    let summary = SessionAggregator::new()
        .summary_with_duration(Duration::from_secs(30))
        .unwrap();
    insta::assert_json_snapshot!(audit::snapshot(&summary));
}

#[test]
fn review() {
    // Display, not Debug: each error says what to do.
    if let Err(error) = run_review() {
        panic!("{error}");
    }
}

fn run_review() -> Result<(), Box<dyn std::error::Error>> {
    let scope = scope();
    let snapshots = audit::find_files(".", &[".snap"])?;
    audit::check_coverage(&scope.registered(), &snapshots)?;
    Audit::new(scope.schemas()).run(&snapshots)?.ensure_clean()?;
    let manifest = Manifest::new("myapp", scope.schemas());
    if std::env::var_os("WRITE_MANIFEST").is_some() {
        manifest.write("telemetry-manifest.md")?;
    }
    manifest.check("telemetry-manifest.md")?;
    Ok(())
}
"#;

/// Writes the app into `dir`: manifest, library, review test, and this
/// workspace's lock file, so that it resolves the same versions offline.
fn write_app(dir: &Path) {
    let root = root();
    let crate_path = |name: &str| root.join("crates").join(name).display().to_string();
    let manifest = format!(
        r#"[package]
name = "myapp"
version = "0.1.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
telemetry-runtime = {{ path = "{runtime}" }}

[dev-dependencies]
insta = {{ version = "1", features = ["json"] }}
telemetry-audit = {{ path = "{audit}" }}
"#,
        runtime = crate_path("telemetry-runtime"),
        audit = crate_path("telemetry-audit"),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), LIB).unwrap();
    std::fs::write(dir.join("tests/review.rs"), REVIEW).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

/// `cargo test` in the app, with `env` set; its artifacts are kept in this
/// workspace's target directory so that a second run builds only the app.
fn cargo_test(dir: &Path, env: &[(&str, &str)]) -> Output {
    let target = root().join("target").join("outside-app");
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["test", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("INSTA_UPDATE")
        .env_remove("INSTA_FORCE_PASS")
        .env_remove("CI");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_readme_recipe_works_in_an_outside_crate() {
    let app = tempfile::tempdir().unwrap();
    write_app(app.path());

    // First run: no snapshots and no data dictionary yet. The snapshot tests
    // fail with new snapshots to review (accepted here as a reviewer would
    // after reading them), and the review names only what the app has.
    let first = cargo_test(app.path(), &[("INSTA_UPDATE", "always")]);
    let first_text = text(&first);
    assert!(!first.status.success(), "{first_text}");
    let snapshots = app.path().join("tests/snapshots");
    let mut written: Vec<String> = std::fs::read_dir(&snapshots)
        .unwrap_or_else(|error| panic!("no snapshots written ({error}):\n{first_text}"))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "review__search_payload.snap",
            "review__session_summary_payload.snap"
        ],
        "{first_text}"
    );
    let search = std::fs::read_to_string(snapshots.join("review__search_payload.snap")).unwrap();
    assert!(search.contains(r#""event": "search""#), "{search}");
    assert!(search.contains(r#""query": 7"#), "{search}");

    // Snapshots present, manifest missing: the review says how to create it.
    let second = cargo_test(app.path(), &[("INSTA_UPDATE", "no")]);
    let second_text = text(&second);
    assert!(!second.status.success(), "{second_text}");
    assert!(
        second_text.contains("the data dictionary is missing; create it with `Manifest::write`"),
        "{second_text}"
    );
    assert!(!second_text.contains("have no snapshot"), "{second_text}");
    assert!(!second_text.contains("has no snapshot"), "{second_text}");

    // Written once, the manifest lists exactly the app's event and the one
    // catalogue event it sends.
    let third = cargo_test(
        app.path(),
        &[("INSTA_UPDATE", "no"), ("WRITE_MANIFEST", "1")],
    );
    assert!(third.status.success(), "{}", text(&third));
    let manifest = std::fs::read_to_string(app.path().join("telemetry-manifest.md")).unwrap();
    assert!(manifest.contains("### `search`"), "{manifest}");
    assert!(manifest.contains("### `session_summary`"), "{manifest}");
    for other in [
        "model_registration",
        "performance_benchmark",
        "semantic_validation",
    ] {
        assert!(!manifest.contains(other), "{other} listed:\n{manifest}");
    }

    // From then on the review passes as it stands, as it would in the app's CI.
    let fourth = cargo_test(app.path(), &[("INSTA_UPDATE", "no")]);
    assert!(fourth.status.success(), "{}", text(&fourth));
}
