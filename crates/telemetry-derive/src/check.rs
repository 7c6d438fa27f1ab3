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

/// Two fields must not write the same payload key. The error points at the
/// `rename` that made the keys meet: the later field's, or else the earlier
/// one's.
fn check_duplicate_keys(cx: &Ctxt, input: &Struct<'_>) {
    let mut seen = BTreeMap::new();
    for field in &input.fields {
        if field.attrs.conversion == Conversion::Forbidden {
            continue;
        }
        let key = field.key();
        let Some(earlier) = seen.insert(key.clone(), field) else {
            continue;
        };
        if field.attrs.rename.is_none() && earlier.attrs.rename.is_some() {
            cx.error_spanned_by(
                earlier.key_tokens(),
                format!(
                    "field `{}` writes payload key `{key}`, which field `{}` writes too",
                    earlier.ident, field.ident
                ),
            );
        } else {
            cx.error_spanned_by(
                field.key_tokens(),
                format!(
                    "field `{}` writes payload key `{key}`, which field `{}` already writes",
                    field.ident, earlier.ident
                ),
            );
        }
    }
}

/// Two variants must not send the same label. The error names the first
/// variant with the label, and points at the `rename` that made the labels
/// meet: the later variant's, or else the first one's.
fn check_duplicate_labels(cx: &Ctxt, input: &Enum<'_>) {
    let mut seen = BTreeMap::new();
    for variant in &input.variants {
        let first = match seen.entry(variant.label.as_str()) {
            Entry::Occupied(first) => *first.get(),
            Entry::Vacant(slot) => {
                slot.insert(variant);
                continue;
            }
        };
        let (blamed, other) = if variant.attrs.rename.is_none() && first.attrs.rename.is_some() {
            (first, variant)
        } else {
            (variant, first)
        };
        cx.error_spanned_by(
            blamed.label_tokens(),
            format!(
                "variant `{}` has label `{}`, like variant `{}`",
                blamed.original.ident, variant.label, other.original.ident
            ),
        );
    }
}
