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
        // `[dependencies]` and every `[target.'…'.dependencies]`, by the
        // package each names (`package = "…"` when renamed).
        let mut tables: Vec<&toml::Table> = toml
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .into_iter()
            .collect();
        if let Some(targets) = toml.get("target").and_then(toml::Value::as_table) {
            tables.extend(
                targets
                    .values()
                    .filter_map(|target| target.get("dependencies"))
                    .filter_map(toml::Value::as_table),
            );
        }
        let dependencies: Vec<String> = tables
            .into_iter()
            .flat_map(|table| table.iter())
            .map(|(key, spec)| {
                spec.get("package")
                    .and_then(toml::Value::as_str)
                    .unwrap_or(key)
                    .to_owned()
            })
            .filter(|dependency| dependency.starts_with("telemetry-"))
            .collect();
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

/// The top-level modules of the crate in `src` and, for each, the other
/// top-level modules its files name through `crate::` in code (comments and
/// unit-test modules left out).
fn module_imports(src: &Path) -> BTreeMap<String, Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![src.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let mut imports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        // Whole text, so that a `use crate::{…}` group over several lines
        // counts.
        let code: String = code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let named = imports.entry(module.clone()).or_default();
        named.extend(crate_paths(&code).filter(|other| *other != module));
    }
    let modules: Vec<String> = imports.keys().cloned().collect();
    for named in imports.values_mut() {
        named.retain(|other| modules.contains(other));
        named.sort();
        named.dedup();
    }
    imports
}

/// The first segment after each `crate::` in `code`, and each lowercase
/// name in a `use crate::{a, b::c}` group.
fn crate_paths(code: &str) -> impl Iterator<Item = String> + '_ {
    code.match_indices("crate::").flat_map(move |(at, _)| {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
            top_level_items(group)
                .into_iter()
                .map(|item| {
                    item.trim()
                        .split("::")
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        } else {
            vec![
                rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ]
        };
        names
            .into_iter()
            .filter(|name| name.starts_with(|c: char| c.is_ascii_lowercase()))
    })
}

/// The comma-separated items of a `use` group that starts after its `{`,
/// up to the matching `}`: `names::{self, X}, policy}` gives two.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0_usize, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..at]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

/// A circle in `imports`, as `a -> b -> a`, if there is one.
fn find_circle(imports: &BTreeMap<String, Vec<String>>) -> Option<String> {
    fn visit(
        module: &str,
        imports: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|seen| seen == module) {
            let mut circle = path[start..].to_vec();
            circle.push(module.to_owned());
            return Some(circle.join(" -> "));
        }
        if done.iter().any(|seen| seen == module) {
            return None;
        }
        path.push(module.to_owned());
        for next in imports.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, imports, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.push(module.to_owned());
        None
    }
    let mut done = Vec::new();
    imports
        .keys()
        .find_map(|module| visit(module, imports, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        if let Some(circle) = find_circle(&module_imports(&src)) {
            circles.push(format!("{}: {circle}", src.display()));
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
    // The check itself finds a circle when there is one.
    let planted: BTreeMap<String, Vec<String>> = [
        ("a".to_owned(), vec!["b".to_owned()]),
        ("b".to_owned(), vec!["c".to_owned()]),
        ("c".to_owned(), vec!["a".to_owned()]),
    ]
    .into_iter()
    .collect();
    assert_eq!(find_circle(&planted).as_deref(), Some("a -> b -> c -> a"));
    assert_eq!(
        crate_paths("use crate::{names::{self, X}, Timestamp,\n    policy};").collect::<Vec<_>>(),
        ["names", "policy"]
    );
}
