//! Tidy checks, run by `cargo test` like every other test (as
//! rust-analyzer's `xtask/src/tidy.rs` does): the crates keep to the layers
//! of `DESIGN.md`, and the minimum Rust version is stated once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers of `DESIGN.md`, bottom first: a crate's `[dependencies]` may
/// name only workspace crates in layers below its own.
const LAYERS: &[(&str, &[&str])] = &[
    ("proc macro", &["telemetry-derive"]),
    ("model", &["telemetry-core"]),
    ("runtime", &["telemetry-runtime"]),
    (
        "jobs",
        &["telemetry-dataset", "telemetry-tokens", "telemetry-trace"],
    ),
    (
        "sinks",
        &["telemetry-posthog", "telemetry-collector-client"],
    ),
    ("binaries", &["telemetry-cli", "telemetry-collector"]),
];

/// Crates outside the stack: what each may depend on, and that no shipped
/// crate may depend on them (they are dev-dependencies of apps and tests).
const BESIDE: &[(&str, &[&str])] = &[
    (
        "telemetry-audit",
        &["telemetry-core", "telemetry-derive", "telemetry-runtime"],
    ),
    (
        "telemetry-test-support",
        &["telemetry-core", "telemetry-derive", "telemetry-runtime"],
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn read_toml(path: &Path) -> toml::Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.parse()
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every crate under `crates/`: its name and the workspace crates among its
/// normal dependencies.
fn crates() -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let toml = read_toml(&manifest);
        let name = toml["package"]["name"].as_str().unwrap().to_owned();
        let dependencies = toml
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|table| {
                table
                    .keys()
                    .filter(|dependency| dependency.starts_with("telemetry-"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        found.insert(name, dependencies);
    }
    found
}

fn layer_of(name: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, members)| members.contains(&name))
}

/// What `name` may depend on, in words for the error, or `None` if it is in
/// no layer at all.
fn check(name: &str, dependency: &str) -> Option<Result<(), String>> {
    if let Some((_, allowed)) = BESIDE.iter().find(|(beside, _)| *beside == name) {
        return Some(if allowed.contains(&dependency) {
            Ok(())
        } else {
            Err(format!(
                "{name} depends on {dependency}; it may use only {}",
                allowed.join(", ")
            ))
        });
    }
    let own = layer_of(name)?;
    Some(match layer_of(dependency) {
        Some(below) if below < own => Ok(()),
        Some(other) => Err(format!(
            "{name} ({}) depends on {dependency} ({}): a crate uses only crates in layers below its own",
            LAYERS[own].0, LAYERS[other].0
        )),
        None => Err(format!(
            "{name} ({}) depends on {dependency}, which is a dev-dependency only (review or test support)",
            LAYERS[own].0
        )),
    })
}

#[test]
fn crates_depend_only_on_layers_below_their_own() {
    let crates = crates();
    let mut problems = Vec::new();
    for (name, dependencies) in &crates {
        for dependency in dependencies {
            match check(name, dependency) {
                Some(Ok(())) => {}
                Some(Err(problem)) => problems.push(problem),
                None => problems.push(format!(
                    "{name} is in no layer: add it to LAYERS or BESIDE in xtask/tests/tidy.rs, as DESIGN.md places it"
                )),
            }
        }
        if dependencies.is_empty() && layer_of(name).is_none() && check(name, "").is_none() {
            problems.push(format!(
                "{name} is in no layer: add it to LAYERS or BESIDE in xtask/tests/tidy.rs"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check itself: an upward or sideways dependency is refused.
    assert!(
        check("telemetry-core", "telemetry-runtime")
            .unwrap()
            .is_err()
    );
    assert!(
        check("telemetry-posthog", "telemetry-collector-client")
            .unwrap()
            .is_err()
    );
    assert!(
        check("telemetry-runtime", "telemetry-audit")
            .unwrap()
            .is_err()
    );
    assert!(
        check("telemetry-audit", "telemetry-posthog")
            .unwrap()
            .is_err()
    );
    assert!(check("telemetry-cli", "telemetry-core").unwrap().is_ok());
}

#[test]
fn the_readme_states_the_msrv_of_cargo_toml() {
    let root = root();
    let manifest = read_toml(&root.join("Cargo.toml"));
    let msrv = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let stated = format!("Rust {msrv} or newer");
    assert!(
        readme.contains(&stated),
        "README.md does not say `{stated}`, the rust-version of Cargo.toml"
    );
    let mentions = readme.matches("or newer").count();
    assert_eq!(
        mentions, 1,
        "README.md states a minimum Rust version {mentions} times; say it once"
    );
}
