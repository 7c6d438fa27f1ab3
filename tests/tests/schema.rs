use std::path::PathBuf;

use telemetry_core::schema::{Aggregate, Conversion, Shape};
use telemetry_core::{HashScope, TelemetrySafe, TelemetryValue};

/// Timing of one search session.
///
/// All values are milliseconds.
#[derive(TelemetrySafe)]
struct Timing {
    /// Mean response time.
    #[telemetry(aggregate = "mean")]
    response_ms: Vec<f64>,
}

/// How the tool was started.
#[derive(TelemetryValue)]
#[telemetry(rename_all = "kebab-case")]
#[allow(dead_code, reason = "only its schema is looked at")]
enum Launch {
    CommandLine,
    EditorPlugin,
}

/// One search session, as the data dictionary will describe it.
#[derive(TelemetrySafe)]
#[telemetry(event = "session")]
struct Session {
    /// Searches performed.
    ///
    /// Failed ones included.
    total: u64,
    /// The repository, hashed with the app-wide key.
    #[telemetry(hash(scope = "app"), rename = "repo")]
    repository: Option<PathBuf>,
    #[telemetry(forbidden)]
    token: String,
    timing: Timing,
    launch: Launch,
    #[telemetry(aggregate = "max")]
    tokens: Vec<u32>,
}

#[test]
fn container_metadata_names_the_type_event_and_doc() {
    let schema = Session::SCHEMA;
    assert_eq!(schema.type_name, "Session");
    assert_eq!(schema.event, Some("session"));
    assert_eq!(
        schema.doc,
        "One search session, as the data dictionary will describe it."
    );
    assert_eq!(Timing::SCHEMA.event, None);
    assert_eq!(
        Timing::SCHEMA.doc,
        "Timing of one search session.\n\nAll values are milliseconds."
    );
}

#[test]
fn every_field_is_described_forbidden_ones_included() {
    let fields = Session::SCHEMA.fields;
    let described: Vec<(&str, &str, &str, Conversion, &str)> = fields
        .iter()
        .map(|f| (f.key, f.ident, f.rust_type, f.conversion, f.doc))
        .collect();
    assert_eq!(
        described,
        [
            (
                "total",
                "total",
                "u64",
                Conversion::PassThrough,
                "Searches performed.\n\nFailed ones included."
            ),
            (
                "repo",
                "repository",
                "Option<PathBuf>",
                Conversion::Hash(HashScope::App),
                "The repository, hashed with the app-wide key."
            ),
            ("token", "token", "String", Conversion::Forbidden, ""),
            ("timing", "timing", "Timing", Conversion::PassThrough, ""),
            ("launch", "launch", "Launch", Conversion::PassThrough, ""),
            (
                "tokens",
                "tokens",
                "Vec<u32>",
                Conversion::Aggregate(Aggregate::Max),
                ""
            ),
        ]
    );
    let collected: Vec<&str> = Session::SCHEMA.collected_fields().map(|f| f.key).collect();
    assert_eq!(collected, ["total", "repo", "timing", "launch", "tokens"]);
    assert_eq!(
        Session::SCHEMA.field("repo").map(|f| f.ident),
        Some("repository")
    );
}

#[test]
fn nested_and_label_shapes_point_at_their_schemas() {
    let timing = Session::SCHEMA.field("timing").unwrap();
    let Shape::Object(nested) = timing.shape else {
        panic!("timing is {:?}", timing.shape)
    };
    assert_eq!(nested.type_name, "Timing");
    assert_eq!(
        nested.fields[0].conversion,
        Conversion::Aggregate(Aggregate::Mean)
    );
    assert_eq!(nested.fields[0].doc, "Mean response time.");

    let launch = Session::SCHEMA.field("launch").unwrap();
    let Shape::Label(labels) = launch.shape else {
        panic!("launch is {:?}", launch.shape)
    };
    assert_eq!(labels, ["command-line", "editor-plugin"]);

    assert!(matches!(
        Session::SCHEMA.field("total").unwrap().shape,
        Shape::Scalar
    ));
}

#[test]
fn conversions_display_as_written_in_attributes() {
    let shown: Vec<String> = Session::SCHEMA
        .fields
        .iter()
        .map(|f| f.conversion.to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "pass-through",
            "hash(scope = \"app\")",
            "forbidden",
            "pass-through",
            "pass-through",
            "aggregate = \"max\""
        ]
    );
}
