//! The derives of `telemetry-core`. Use them through that crate:
//! `use telemetry_core::TelemetrySafe;`.
//!
//! Parsing, checking and generating are kept apart: `attr` reads
//! `#[telemetry(...)]` into plain values, `ast` pairs them with the struct and
//! its fields or the enum and its variants they came from (for spans), `check`
//! holds rules that span several fields or variants, and `expand` emits code.
//! Every mistake is collected in a [`ctxt::Ctxt`] and reported at once, beside
//! a stub impl so the user is not buried in follow-up errors.

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

/// Derives `telemetry_core::TelemetrySafe`; documented there.
#[proc_macro_derive(TelemetrySafe, attributes(telemetry))]
pub fn derive_telemetry_safe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, Derive::TelemetrySafe).into()
}

/// Derives `telemetry_core::TelemetryValue` for a unit-only enum; documented there.
#[proc_macro_derive(TelemetryValue, attributes(telemetry))]
pub fn derive_telemetry_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input, Derive::TelemetryValue).into()
}
