//! Payload snapshots: what an event looks like on the wire, with a fixed key
//! and the envelope's changing fields redacted; and the check that every
//! registered type has one.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::AuditError;
use crate::document::Document;
use telemetry_core::registry::Registered;
use telemetry_core::schema::Schema;
use telemetry_core::{Anonymizer, HashKey, TelemetryEvent};
use telemetry_runtime::queue::Envelope;

/// The installation key of [`snapshot_anonymizer`]: fixed, so that a hashed
/// field has the same digest on every run.
pub const SNAPSHOT_INSTALLATION_KEY: [u8; 32] = [0x5e; 32];

/// The application-wide key of [`snapshot_anonymizer`], for fields hashed
/// with `scope = "app"`.
pub const SNAPSHOT_APP_KEY: [u8; 32] = [0xa9; 32];

/// What [`snapshot`] writes for the envelope's `uuid` (a UUID v7, new for
/// every event).
pub const REDACTED_UUID: &str = "[uuid v7]";
/// What [`snapshot`] writes for `distinct_id` (the random client id).
pub const REDACTED_DISTINCT_ID: &str = "[client id]";
/// What [`snapshot`] writes for `timestamp` (the capture time).
pub const REDACTED_TIMESTAMP: &str = "[rfc 3339 utc]";

/// The anonymizer snapshots use: both keys fixed.
#[must_use]
pub fn snapshot_anonymizer() -> Anonymizer {
    Anonymizer::new(&HashKey::from_bytes(SNAPSHOT_INSTALLATION_KEY))
        .with_app_key(&HashKey::from_bytes(SNAPSHOT_APP_KEY))
}

/// The envelope `event` would be queued and sent in, as JSON to snapshot:
/// filtered with [`snapshot_anonymizer`], and with `uuid`, `distinct_id`
/// and `timestamp` redacted so that the snapshot changes only when the
/// payload's shape or values do.
///
/// ```
/// use telemetry_audit as audit;
/// use telemetry_core::TelemetrySafe;
///
/// /// A search.
/// #[derive(TelemetrySafe)]
/// #[telemetry(event = "search")]
/// struct Search {
///     /// Results returned.
///     results: u32,
///     /// The query's length.
///     #[telemetry(text_count)]
///     query: String,
/// }
///
/// let value = audit::snapshot(&Search { results: 3, query: "fn main".into() });
/// assert_eq!(value, serde_json::json!({
///     "uuid": "[uuid v7]",
///     "event": "search",
///     "distinct_id": "[client id]",
///     "timestamp": "[rfc 3339 utc]",
///     "properties": {"results": 3, "query": 7},
/// }));
/// // In a test: insta::assert_json_snapshot!(audit::snapshot(&event));
/// ```
///
/// # Panics
///
/// When the event's serializer fails, which a derived one does only for a
/// field hashed with `scope = "app"` without an app-wide key (this
/// anonymizer has one).
#[must_use]
pub fn snapshot<E: TelemetryEvent>(event: &E) -> Value {
    // Straight to a `Value`: reading floats back from text could change
    // their last digit.
    let properties = serde_json::to_value(event.telemetry_view(&snapshot_anonymizer()))
        .unwrap_or_else(|error| panic!("`{}` failed to serialize: {error}", E::EVENT));
    // The envelope the queue writes, so that a field it gains shows here.
    let empty = RawValue::from_string("{}".to_owned()).expect("`{}` is JSON");
    let envelope = Envelope::new(E::EVENT, REDACTED_DISTINCT_ID, empty);
    let mut value = serde_json::to_value(&envelope).expect("an envelope serializes to JSON");
    if let Value::Object(fields) = &mut value {
        fields.insert("uuid".to_owned(), REDACTED_UUID.into());
        fields.insert("timestamp".to_owned(), REDACTED_TIMESTAMP.into());
        fields.insert("properties".to_owned(), properties);
    }
    value
}

/// Registered types that no snapshot shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSnapshots {
    /// Each type, as `module::Type` with its event name if it has one.
    pub types: Vec<String>,
}

impl fmt::Display for MissingSnapshots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} type{} deriving TelemetrySafe ha{} no snapshot; snapshot an event that shows \
             each with insta::assert_json_snapshot!(telemetry_audit::snapshot(&event)):",
            self.types.len(),
            if self.types.len() == 1 { "" } else { "s" },
            if self.types.len() == 1 { "s" } else { "ve" },
        )?;
        for name in &self.types {
            write!(f, "\n  {name}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MissingSnapshots {}

/// Checks that every registered type appears in a snapshot: an event has a
/// snapshot of its envelope (as [`snapshot`] writes it) among
/// `snapshot_files`, and a nested struct is a field of such an event, at any
/// depth. Files that are not envelopes are ignored here.
pub fn check_coverage<P: AsRef<Path>>(
    registered: &[Registered],
    snapshot_files: &[P],
) -> Result<(), AuditError> {
    let mut events = BTreeSet::new();
    for file in snapshot_files {
        if let Some(event) = Document::read(file.as_ref())?.event() {
            events.insert(event.to_owned());
        }
    }
    let mut shown: Vec<&'static Schema> = Vec::new();
    for registered in registered {
        if registered
            .schema
            .event
            .is_some_and(|event| events.contains(event))
        {
            crate::scope::collect_nested(registered.schema, &mut shown);
        }
    }
    let types: Vec<String> = registered
        .iter()
        .filter(|registered| !shown.contains(&registered.schema))
        .map(|registered| match registered.schema.event {
            Some(event) => format!("{} (event `{event}`)", registered.qualified_name()),
            None => format!(
                "{} (not an event, and no snapshotted event contains it)",
                registered.qualified_name()
            ),
        })
        .collect();
    if types.is_empty() {
        Ok(())
    } else {
        Err(AuditError::MissingSnapshots(MissingSnapshots { types }))
    }
}

/// Every file under `root` whose name ends with one of `suffixes`
/// (`".snap"`), sorted, as paths that start with `root` (or relative ones
/// for `"."`). Walks as git would see the tree (the `ignore` crate): hidden
/// files and directories are skipped, and so is what `.gitignore` excludes
/// inside a git repository (and `.ignore` anywhere), so an unpacked copy
/// outside git may list more; `target` is always skipped.
pub fn find_files(root: impl AsRef<Path>, suffixes: &[&str]) -> Result<Vec<PathBuf>, AuditError> {
    let root = root.as_ref();
    let mut found = Vec::new();
    let walk = ignore::WalkBuilder::new(root)
        .filter_entry(|entry| entry.file_name() != "target")
        .build();
    for entry in walk {
        let entry = entry.map_err(|error| AuditError::Io {
            path: root.to_owned(),
            source: error
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("walk failed")),
        })?;
        let name = entry.file_name().to_string_lossy();
        let is_file = entry.file_type().is_some_and(|kind| kind.is_file());
        if is_file && suffixes.iter().any(|suffix| name.ends_with(suffix)) {
            let path = entry.path();
            found.push(match path.strip_prefix(".") {
                Ok(relative) if root == Path::new(".") => relative.to_owned(),
                _ => path.to_owned(),
            });
        }
    }
    found.sort();
    Ok(found)
}
