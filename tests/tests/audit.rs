//! The review tools of `telemetry_audit` on planted problems: a leak in
//! a test-only event, a reviewed finding, a type without a snapshot, a stale
//! manifest. Files are written to temporary directories as `insta` writes them.

use std::path::{Path, PathBuf};

use telemetry_audit::{self as audit, AllowList, Audit, AuditError, Manifest, Scope};
use telemetry_core::SessionSummary;
use telemetry_core::registry::{Registered, registered};
use telemetry_core::{Schema, TelemetryEvent, TelemetrySafe};

/// The planted leak: a home directory in a pass-through string.
const HOME_PATH: &str = "/home/ana/secret-project";

/// A test-only event with a deliberate leak.
#[derive(TelemetrySafe)]
#[telemetry(event = "planted_leak")]
struct PlantedLeak {
    /// The project's directory, sent raw: the mistake the audit exists for.
    project_path: String,
    /// Counts, nested.
    details: Details,
    /// Never sent.
    #[telemetry(forbidden)]
    api_key: String,
}

/// Nested in `PlantedLeak`, so shown by its snapshot.
#[derive(TelemetrySafe)]
struct Details {
    /// Searches performed.
    searches: u64,
}

/// The same field done right: hashed.
#[derive(TelemetrySafe)]
#[telemetry(event = "hashed_path")]
struct HashedPath {
    /// The project's directory, as a keyed hash.
    #[telemetry(hash)]
    project_path: PathBuf,
    /// A free-text note that is far too long.
    note: String,
}

/// An event that no test snapshots.
#[derive(TelemetrySafe)]
#[telemetry(event = "unsnapshotted")]
struct Unsnapshotted {
    /// Anything.
    count: u32,
}

/// Not an event, and in no event.
#[derive(TelemetrySafe)]
struct Orphan {
    /// Anything.
    count: u32,
}

fn leak() -> PlantedLeak {
    PlantedLeak {
        project_path: HOME_PATH.to_owned(),
        details: Details { searches: 3 },
        api_key: "sk-live-123".to_owned(),
    }
}

/// The types this module declares, as the registry lists them.
fn registered_here() -> Vec<Registered> {
    registered()
        .into_iter()
        .filter(|registered| registered.module_path == module_path!())
        .collect()
}

fn schemas_here() -> Vec<&'static Schema> {
    registered_here()
        .iter()
        .map(|registered| registered.schema)
        .collect()
}

/// Writes `event`'s snapshot into `dir` as `insta::assert_json_snapshot!`
/// would, and returns its path and text.
fn write_snapshot<E: TelemetryEvent>(dir: &Path, name: &str, event: &E) -> (PathBuf, String) {
    let text = format!(
        "---\nsource: tests/tests/audit.rs\nexpression: audit::snapshot(&event)\n---\n{}\n",
        serde_json::to_string_pretty(&audit::snapshot(event)).unwrap()
    );
    let path = dir.join(format!("integration__audit__{name}.snap"));
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// The line (from 1) of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|line| line.contains(needle)).unwrap() + 1
}

#[test]
fn the_registry_lists_every_concrete_type_of_this_module() {
    let names: Vec<&str> = registered_here()
        .iter()
        .map(|registered| registered.schema.type_name)
        .collect();
    assert_eq!(
        names,
        [
            "Details",
            "HashedPath",
            "Orphan",
            "PlantedLeak",
            "Unsnapshotted"
        ]
    );
}

#[test]
fn the_audit_reports_the_planted_home_path_at_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (file, text) = write_snapshot(dir.path(), "planted_leak", &leak());
    let line = line_of(&text, HOME_PATH);
    assert_eq!(line, 12, "{text}");

    let report = Audit::new(schemas_here())
        .planted([HOME_PATH])
        .run(&[&file])
        .unwrap();
    let found: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    let at = format!("{}:12: properties.project_path", file.display());
    assert_eq!(
        found,
        [
            format!("{at}: looks like an absolute path (unix_path)"),
            format!("{at}: equals a secret or home path planted by the tests (planted_value)"),
            format!(
                "{at}: the name suggests raw content (`path`) and the value is sent as is \
                 (pass-through) (raw_content_name)"
            ),
        ]
    );
    assert!(!report.is_clean());
    let error = report.ensure_clean().unwrap_err();
    assert!(matches!(error, AuditError::Findings(_)));
    assert!(
        error
            .to_string()
            .ends_with("audited 1 file: 3 findings, 0 allowed, 0 stale allow-list entries")
    );
}

#[test]
fn a_hashed_path_passes_and_a_long_string_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let event = HashedPath {
        project_path: PathBuf::from(HOME_PATH),
        note: "word ".repeat(21),
    };
    let (file, text) = write_snapshot(dir.path(), "hashed_path", &event);
    let report = Audit::new(schemas_here())
        .planted([HOME_PATH])
        .run(&[&file])
        .unwrap();
    let found: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [format!(
            "{}:{}: properties.note: a string of 105 characters, more than 100: free text? \
             (long_string)",
            file.display(),
            line_of(&text, "word word"),
        )]
    );
}

#[test]
fn a_bare_json_payload_is_audited_by_field_names_alone() {
    let payload = "{\n  \"query\": \"fn parse_invoice\",\n  \"hits\": 3,\n  \"user_email\": \"ana@example.com\",\n  \"repo_hash\": \"0123456789abcdef0123456789abcdef\"\n}\n";
    let findings = Audit::default()
        .scan_text(Path::new("examples/search.json"), payload)
        .unwrap();
    let found: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let unknown = "no registered schema says how it is converted (raw_content_name)";
    assert_eq!(
        found,
        [
            format!(
                "examples/search.json:2: query: the name suggests raw content (`query`) and {unknown}"
            ),
            "examples/search.json:4: user_email: looks like an e-mail address (email)".to_owned(),
            format!(
                "examples/search.json:4: user_email: the name suggests raw content (`user`) and {unknown}"
            ),
        ]
    );
}

#[test]
fn an_allow_list_entry_silences_a_reviewed_finding_and_a_stale_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = write_snapshot(dir.path(), "planted_leak", &leak());
    let allow = format!(
        r#"
[[allow]]
file = "{file}"
field = "properties.project_path"
check = "unix_path"
reason = "reviewed: a test fixture"

[[allow]]
file = "{file}"
field = "properties.gone"
reason = "a field that no longer exists"
"#,
        file = file.display()
    );
    let allow = AllowList::parse(Path::new("audit-allow.toml"), &allow).unwrap();
    let report = Audit::new(schemas_here())
        .allow(allow)
        .run(&[&file])
        .unwrap();
    assert_eq!(report.allowed.len(), 1);
    assert_eq!(report.allowed[0].reason.code(), "unix_path");
    let codes: Vec<&str> = report
        .findings
        .iter()
        .map(|finding| finding.reason.code())
        .collect();
    assert_eq!(codes, ["raw_content_name"]);
    assert_eq!(report.unused.len(), 1);
    assert_eq!(report.unused[0].field, "properties.gone");
    assert!(!report.is_clean());

    let no_reason = "[[allow]]\nfile = \"a.snap\"\nfield = \"x\"\nreason = \" \"\n";
    let error = AllowList::parse(Path::new("audit-allow.toml"), no_reason).unwrap_err();
    assert_eq!(
        error.to_string(),
        "audit-allow.toml:1: the entry for a.snap (x) has no reason; say why the finding is fine"
    );
}

#[test]
fn coverage_names_each_registered_type_that_no_snapshot_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (leak_file, _) = write_snapshot(dir.path(), "planted_leak", &leak());
    let error = audit::check_coverage(&registered_here(), &[&leak_file]).unwrap_err();
    let AuditError::MissingSnapshots(missing) = &error else {
        panic!("{error}");
    };
    let here = module_path!();
    assert_eq!(
        missing.types,
        [
            format!("{here}::HashedPath (event `hashed_path`)"),
            format!("{here}::Orphan (not an event, and no snapshotted event contains it)"),
            format!("{here}::Unsnapshotted (event `unsnapshotted`)"),
        ],
        "`Details` is shown inside `planted_leak`"
    );

    let (hashed, _) = write_snapshot(
        dir.path(),
        "hashed_path",
        &HashedPath {
            project_path: PathBuf::new(),
            note: String::new(),
        },
    );
    let (unsnapshotted, _) =
        write_snapshot(dir.path(), "unsnapshotted", &Unsnapshotted { count: 1 });
    let events_only: Vec<Registered> = registered_here()
        .into_iter()
        .filter(|registered| registered.schema.type_name != "Orphan")
        .collect();
    audit::check_coverage(&events_only, &[leak_file, hashed, unsnapshotted]).unwrap();
}

#[test]
fn a_stale_manifest_fails_the_check_at_the_first_changed_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("telemetry-manifest.md");
    let old = Manifest::new("the test app", [PlantedLeak::SCHEMA]);
    let missing = old.check(&path).unwrap_err();
    assert!(
        matches!(&missing, AuditError::MissingManifest { path: named } if *named == path),
        "{missing:?}"
    );
    assert!(
        missing
            .to_string()
            .ends_with("the data dictionary is missing; create it with `Manifest::write` (in this workspace: `cargo xtask manifest`)"),
        "{missing}"
    );
    old.write(&path).unwrap();
    old.check(&path).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(
        "| `project_path` | `String` | pass-through |  | The project's directory, sent raw: the mistake the audit exists for. |"
    ));
    assert!(
        text.contains("| `details.searches` | `u64` | pass-through |  | Searches performed. |")
    );
    assert!(text.contains("  - `planted_leak`: `api_key` (`String`): Never sent."));
    assert!(!text.contains("| `api_key`"));

    let new = Manifest::new("the test app", [PlantedLeak::SCHEMA, HashedPath::SCHEMA]);
    let error = new.check(&path).unwrap_err();
    let AuditError::StaleManifest { line, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(
        text.lines().nth(line - 1),
        old.render().lines().nth(line - 1)
    );
    assert_ne!(
        Some(text.lines().nth(line - 1).unwrap()),
        new.render().lines().nth(line - 1)
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:{line} is stale: expected `", path.display())),
        "{error}"
    );
}

#[test]
fn a_scope_holds_the_crate_s_own_types_and_the_events_it_sends() {
    let names = |scope: &Scope| -> Vec<&'static str> {
        scope
            .registered()
            .iter()
            .map(|registered| registered.schema.type_name)
            .collect()
    };
    let own = Scope::crates([env!("CARGO_CRATE_NAME")]);
    let own_names = names(&own);
    assert!(own_names.contains(&"PlantedLeak"), "{own_names:?}");
    assert!(
        !own_names.contains(&"SessionSummary"),
        "the catalogue is not this crate's: {own_names:?}"
    );
    let sending = names(&own.clone().sends::<SessionSummary>());
    for catalogue in ["SessionSummary", "SessionTiming", "SessionTokens"] {
        assert!(
            sending.contains(&catalogue),
            "{catalogue} missing: {sending:?}"
        );
    }
    assert!(!sending.contains(&"ModelRegistration"), "{sending:?}");
    assert_eq!(sending.len(), own_names.len() + 3, "{sending:?}");
    assert!(names(&Scope::crates(["no_such_crate"])).is_empty());
}
