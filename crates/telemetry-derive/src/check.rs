//! Rules that look at more than one attribute at a time.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::ast::{Enum, Input, Struct};
use crate::attr::Conversion;
use crate::ctxt::Ctxt;
use crate::ty;

pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    match input {
        Input::Struct(input) => {
            check_personal_types(cx, input);
            check_duplicate_keys(cx, input);
        }
        Input::Enum(input) => check_duplicate_labels(cx, input),
    }
}

/// A personal type with no conversion would be sent raw. The trait bound
/// catches it too; this gives the precise message first, at the type.
fn check_personal_types(cx: &Ctxt, input: &Struct<'_>) {
    for field in &input.fields {
        if field.attrs.conversion != Conversion::PassThrough {
            continue;
        }
        if let Some(personal) = ty::find_personal(&field.original.ty) {
            cx.error_spanned_by(
                personal,
                format!(
                    "`{personal}` may identify a person or a machine and cannot be sent raw; \
                     add #[telemetry(hash)], #[telemetry(boolean)] or #[telemetry(forbidden)] \
                     to field `{}`",
                    field.ident
                ),
            );
        }
    }
}

/// Two fields must not write the same payload key.
fn check_duplicate_keys(cx: &Ctxt, input: &Struct<'_>) {
    let mut seen = BTreeMap::new();
    for field in &input.fields {
        if field.attrs.conversion == Conversion::Forbidden {
            continue;
        }
        let key = field.key();
        if let Some(first) = seen.insert(key.clone(), field.ident) {
            cx.error_spanned_by(
                field.ident,
                format!(
                    "field `{}` writes payload key `{key}`, which field `{first}` already writes",
                    field.ident
                ),
            );
        }
    }
}

/// Two variants must not send the same label.
fn check_duplicate_labels(cx: &Ctxt, input: &Enum<'_>) {
    let mut seen = BTreeMap::new();
    for variant in &input.variants {
        let ident = &variant.original.ident;
        match seen.entry(variant.label.as_str()) {
            // The message names the first variant with the label.
            Entry::Occupied(first) => cx.error_spanned_by(
                ident,
                format!(
                    "variant `{ident}` has label `{}`, like variant `{}`",
                    variant.label,
                    first.get()
                ),
            ),
            Entry::Vacant(slot) => {
                slot.insert(ident);
            }
        }
    }
}
