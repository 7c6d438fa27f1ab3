//! Rules that look at more than one attribute at a time.

use std::collections::BTreeMap;

use crate::ast::Container;
use crate::attr::Conversion;
use crate::ctxt::Ctxt;
use crate::ty;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    check_personal_types(cx, container);
    check_duplicate_keys(cx, container);
}

/// A personal type with no conversion would be sent raw. The trait bound
/// catches it too; this gives the precise message first, at the type.
fn check_personal_types(cx: &Ctxt, container: &Container<'_>) {
    for field in &container.fields {
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
fn check_duplicate_keys(cx: &Ctxt, container: &Container<'_>) {
    let mut seen = BTreeMap::new();
    for field in &container.fields {
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
