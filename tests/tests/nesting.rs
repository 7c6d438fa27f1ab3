use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde_json::json;
use telemetry_core::TelemetrySafe;

use crate::{anonymizer, digest};

/// A project the tool indexed; nested in events, never an event itself.
#[derive(TelemetrySafe)]
struct Project {
    #[telemetry(hash)]
    root: PathBuf,
    #[telemetry(count)]
    files: Vec<PathBuf>,
    #[telemetry(forbidden)]
    owner_email: String,
    indexed: bool,
}

fn project(name: &str) -> Project {
    Project {
        root: PathBuf::from(format!("/home/ana/{name}")),
        files: vec![PathBuf::from(format!("/home/ana/{name}/main.rs"))],
        owner_email: String::from("ana@example.com"),
        indexed: true,
    }
}

fn filtered(name: &str) -> serde_json::Value {
    json!({"root": digest(format!("/home/ana/{name}").as_bytes()), "files": 1, "indexed": true})
}

#[derive(TelemetrySafe)]
#[telemetry(event = "workspace_opened")]
struct WorkspaceOpened {
    main: Project,
    previous: Option<Project>,
    none: Option<Project>,
    others: Vec<Project>,
    by_label: BTreeMap<String, Project>,
    by_hash_label: HashMap<String, Project>,
    boxed: Box<Project>,
    #[telemetry(count)]
    counted: Vec<Project>,
    #[telemetry(boolean)]
    maybe: Option<Project>,
}

#[test]
fn nested_structs_are_filtered_by_their_own_rules_wherever_they_appear() {
    let event = WorkspaceOpened {
        main: project("main"),
        previous: Some(project("prev")),
        none: None,
        others: vec![project("a"), project("b")],
        by_label: BTreeMap::from([("first".to_owned(), project("c"))]),
        by_hash_label: HashMap::from([("second".to_owned(), project("d"))]),
        boxed: Box::new(project("e")),
        counted: vec![project("f")],
        maybe: Some(project("g")),
    };
    let payload = serde_json::to_value(event.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({
            "main": filtered("main"),
            "previous": filtered("prev"),
            "none": null,
            "others": [filtered("a"), filtered("b")],
            "by_label": {"first": filtered("c")},
            "by_hash_label": {"second": filtered("d")},
            "boxed": filtered("e"),
            "counted": 1,
            "maybe": true,
        })
    );
    let text = payload.to_string();
    assert!(
        !text.contains("/home/ana") && !text.contains("example.com"),
        "{text}"
    );
}

/// Three levels deep, the innermost hash still uses the same anonymizer.
#[derive(TelemetrySafe)]
struct Inner {
    #[telemetry(hash)]
    secret: String,
}

#[derive(TelemetrySafe)]
struct Middle {
    inner: Vec<Option<Inner>>,
}

#[derive(TelemetrySafe)]
#[telemetry(event = "deep")]
struct Outer {
    middle: Middle,
}

#[test]
fn filtering_reaches_every_depth() {
    let event = Outer {
        middle: Middle {
            inner: vec![
                Some(Inner {
                    secret: "s3cret".into(),
                }),
                None,
            ],
        },
    };
    let payload = serde_json::to_value(event.telemetry_view(&anonymizer())).unwrap();
    assert_eq!(
        payload,
        json!({"middle": {"inner": [{"secret": digest(b"s3cret")}, null]}})
    );
}
