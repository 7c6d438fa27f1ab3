//! Every type deriving `TelemetrySafe` in the program, collected at link time
//! (feature `registry`).
//!
//! With the feature on, `#[derive(TelemetrySafe)]` submits the schema of each
//! non-generic struct to an [`inventory`] registry, in this crate and in
//! every crate of the program that derives it; [`registered`] lists them.
//! With the feature off (the default) the derive emits nothing more, so an
//! application pays nothing for it.
//!
//! Generic structs are not registered (their schema depends on the type
//! arguments); they are reached through the concrete events that contain
//! them ([`Shape::Object`](crate::schema::Shape::Object)). Types defined in
//! test binaries are registered in those binaries only: a program sees the
//! types of the crates it links.
//!
//! ```
//! # #[cfg(feature = "registry")] {
//! let events: Vec<&str> = telemetry_core::registry::registered()
//!     .iter()
//!     .filter_map(|registered| registered.schema.event)
//!     .collect();
//! assert!(events.contains(&"session_summary"));
//! # }
//! ```

use crate::Schema;

/// One registered type: its schema and the module that declares it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Registered {
    /// What the derive recorded.
    pub schema: &'static Schema,
    /// The module that declares the type (`telemetry_core::catalogue::session`).
    pub module_path: &'static str,
}

impl Registered {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(schema: &'static Schema, module_path: &'static str) -> Self {
        Self {
            schema,
            module_path,
        }
    }

    /// `module::Type`, the name a reviewer can look up.
    #[must_use]
    pub fn qualified_name(&self) -> String {
        format!("{}::{}", self.module_path, self.schema.type_name)
    }
}

inventory::collect!(Registered);

/// Every registered type, sorted by module and type name.
#[must_use]
pub fn registered() -> Vec<Registered> {
    let mut all: Vec<Registered> = inventory::iter::<Registered>.into_iter().copied().collect();
    all.sort_by(|a, b| {
        (a.module_path, a.schema.type_name).cmp(&(b.module_path, b.schema.type_name))
    });
    all
}
