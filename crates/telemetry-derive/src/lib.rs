//! The derives of `telemetry-core`. Use them through that crate
//! (`use telemetry_core::TelemetrySafe;`) or through `telemetry-runtime`,
//! which re-exports them (`use telemetry_runtime::TelemetrySafe;`).
//!
//! Parsing, checking and generating are kept apart: `attr` reads
//! `#[telemetry(...)]` into plain values, `ast` pairs them with the struct and
//! its fields or the enum and its variants they came from (for spans), `check`
//! holds rules that span several fields or variants, and `expand` emits code.
//! Every mistake is collected in a `ctxt::Ctxt` and reported at once, beside
//! a stub impl so the user is not buried in follow-up errors.
//!
//! Each derive has a second, hidden entry point for the `telemetry-runtime`
//! facade, which re-exports core's items. Generated code names the crate by
//! an absolute path (`::telemetry_core::TelemetrySafe`), and an app that
//! depends only on the facade has no `telemetry_core` to name; a procedural
//! macro cannot tell through which crate it was reached (it has no `$crate`).
//! So the facade re-exports `TelemetrySafeViaRuntime as TelemetrySafe` and
//! `TelemetryValueViaRuntime as TelemetryValue`, which differ from the core
//! ones only in naming `::telemetry_runtime` by default. An explicit
//! `#[telemetry(crate = "...")]` wins over either default.

#![forbid(unsafe_code)]

mod ast;
mod attr;
mod check;
mod ctxt;
mod expand;
mod fallback;
mod symbol;
mod ty;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::ast::Derive;
use crate::expand::DefaultCrate;

/// Derives `telemetry_core::TelemetrySafe`; documented there.
#[proc_macro_derive(TelemetrySafe, attributes(telemetry))]
pub fn derive_telemetry_safe(input: TokenStream) -> TokenStream {
    derive(input, Derive::TelemetrySafe, DefaultCrate::Core)
}

/// Derives `telemetry_core::TelemetryValue` for a unit-only enum; documented there.
#[proc_macro_derive(TelemetryValue, attributes(telemetry))]
pub fn derive_telemetry_value(input: TokenStream) -> TokenStream {
    derive(input, Derive::TelemetryValue, DefaultCrate::Core)
}

/// `TelemetrySafe` as `telemetry_runtime` re-exports it: generated code names
/// `::telemetry_runtime` unless `#[telemetry(crate = "...")]` says otherwise.
#[doc(hidden)]
#[proc_macro_derive(TelemetrySafeViaRuntime, attributes(telemetry))]
pub fn derive_telemetry_safe_via_runtime(input: TokenStream) -> TokenStream {
    derive(input, Derive::TelemetrySafe, DefaultCrate::Runtime)
}

/// `TelemetryValue` as `telemetry_runtime` re-exports it: generated code names
/// `::telemetry_runtime` unless `#[telemetry(crate = "...")]` says otherwise.
#[doc(hidden)]
#[proc_macro_derive(TelemetryValueViaRuntime, attributes(telemetry))]
pub fn derive_telemetry_value_via_runtime(input: TokenStream) -> TokenStream {
    derive(input, Derive::TelemetryValue, DefaultCrate::Runtime)
}

fn derive(input: TokenStream, derive: Derive, default_crate: DefaultCrate) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, derive, default_crate).into()
}
