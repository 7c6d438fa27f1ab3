//! Which registered types an application reviews: its own, and the events of
//! other crates (the toolkit's catalogue, say) that it says it sends.
//!
//! The registry lists every type deriving `TelemetrySafe` in the program, the
//! toolkit's own catalogue included; an application that never sends
//! `session_summary` must neither be asked to snapshot it nor list it in its
//! data dictionary. A [`Scope`] keeps the types declared in the named crates,
//! plus each event named with [`sends`](Scope::sends) and the structs nested
//! in it.
//!
//! Schemas are compared by value (a `const` schema may sit at a different
//! address in each crate that names it), so two types with the same name,
//! event, doc comments and fields count as one.

use telemetry_core::registry::{self, Registered};
use telemetry_core::schema::{Schema, Shape};
use telemetry_core::{TelemetryEvent, TelemetrySafe};

/// The types one review covers: those declared in the named crates, and
/// each event of another crate that the application sends, with the structs
/// nested in it.
///
/// ```
/// use telemetry_audit::Scope;
/// use telemetry_core::SessionSummary;
///
/// // In an application's tests: its own crate's types (by the crate's name,
/// // not the test's), and the one catalogue event it sends.
/// let scope = Scope::crates(["myapp"]).sends::<SessionSummary>();
/// let events: Vec<_> = scope.schemas().iter().filter_map(|schema| schema.event).collect();
/// assert_eq!(events, ["session_summary"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Scope {
    crates: Vec<String>,
    sent: Vec<&'static Schema>,
}

impl Scope {
    /// The types declared in these crates (by crate name, `my_app`: the
    /// `CARGO_CRATE_NAME` of each, with `_` for `-`), in any of their
    /// modules.
    #[must_use]
    pub fn crates<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        Self {
            crates: names
                .into_iter()
                .map(|name| name.into().replace('-', "_"))
                .collect(),
            sent: Vec::new(),
        }
    }

    /// Adds an event declared elsewhere that the application sends (such as
    /// the catalogue's `SessionSummary`), with the structs nested in it.
    #[must_use]
    pub fn sends<E: TelemetryEvent>(mut self) -> Self {
        self.sent.push(<E as TelemetrySafe>::SCHEMA);
        self
    }

    /// The registered types in scope, sorted as
    /// [`registry::registered`] sorts them.
    #[must_use]
    pub fn registered(&self) -> Vec<Registered> {
        let mut nested = Vec::new();
        for schema in &self.sent {
            collect_nested(schema, &mut nested);
        }
        registry::registered()
            .into_iter()
            .filter(|registered| {
                self.declares(registered.module_path) || nested.contains(&registered.schema)
            })
            .collect()
    }

    /// The schemas of [`registered`](Self::registered): what the audit and
    /// the manifest take.
    #[must_use]
    pub fn schemas(&self) -> Vec<&'static Schema> {
        self.registered()
            .iter()
            .map(|registered| registered.schema)
            .collect()
    }

    /// Whether `module_path` lies in one of the crates.
    fn declares(&self, module_path: &str) -> bool {
        let krate = module_path.split("::").next().unwrap_or(module_path);
        self.crates.iter().any(|name| name == krate)
    }
}

/// `schema` and every struct nested in it, at any depth, each once.
///
/// Schemas are compared by value: a `const` schema may sit at a different
/// address in each crate (or codegen unit) that names it.
pub(crate) fn collect_nested(schema: &'static Schema, found: &mut Vec<&'static Schema>) {
    if found.contains(&schema) {
        return;
    }
    found.push(schema);
    for field in schema.collected_fields() {
        if let Shape::Object(nested) = field.shape {
            collect_nested(nested, found);
        }
    }
}
