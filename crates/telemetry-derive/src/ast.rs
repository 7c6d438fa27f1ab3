//! The derive input as typed values that keep their `syn` nodes for spans.

use syn::{Attribute, Data, DeriveInput, Expr, Fields, Lit, Meta};

use crate::attr;
use crate::ctxt::Ctxt;

/// A struct deriving `TelemetrySafe`.
pub(crate) struct Container<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) doc: String,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) ident: &'a syn::Ident,
    pub(crate) attrs: attr::Field,
    pub(crate) doc: String,
}

impl Field<'_> {
    /// The key in the payload.
    pub(crate) fn key(&self) -> String {
        self.attrs
            .rename
            .clone()
            .unwrap_or_else(|| self.ident.unraw_string())
    }
}

trait Unraw {
    fn unraw_string(&self) -> String;
}

impl Unraw for syn::Ident {
    /// `r#type` is sent as `type`.
    fn unraw_string(&self) -> String {
        let text = self.to_string();
        text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
    }
}

impl<'a> Container<'a> {
    /// Reads the input, reporting why it cannot derive `TelemetrySafe`. An
    /// input that is not a struct with named fields is read as having none,
    /// so that its attributes are still checked and the stub impls still
    /// name the right crate.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::Container::from_attrs(cx, &input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named
                    .named
                    .iter()
                    .filter_map(|field| {
                        // Every field of `Fields::Named` has a name.
                        let ident = field.ident.as_ref()?;
                        Some(Field {
                            original: field,
                            ident,
                            attrs: attr::Field::from_attrs(cx, &field.attrs),
                            doc: doc_comment(&field.attrs),
                        })
                    })
                    .collect(),
                Fields::Unit => Vec::new(),
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(
                        unnamed,
                        "TelemetrySafe needs named fields: their names are the keys of the payload; \
                         write `struct Name { field: Type }`",
                    );
                    Vec::new()
                }
            },
            Data::Enum(data) => {
                let unit_only = data
                    .variants
                    .iter()
                    .all(|variant| matches!(variant.fields, Fields::Unit));
                let hint = if unit_only {
                    "; for a unit-only enum, derive TelemetryValue to send it as a label"
                } else {
                    "; an enum with data would send different fields per variant, so make it a struct \
                     (or split it into events)"
                };
                cx.error_spanned_by(
                    data.enum_token,
                    format!(
                        "TelemetrySafe can only be derived for structs with named fields{hint}"
                    ),
                );
                Vec::new()
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "TelemetrySafe cannot be derived for a union: which field is set is unknown",
                );
                Vec::new()
            }
        };
        Self {
            input,
            attrs,
            fields,
            doc: doc_comment(&input.attrs),
        }
    }
}

/// The `///` lines of an item, each without its leading space, trimmed as a
/// whole.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(pair) => match &pair.value {
                Expr::Lit(expr) => match &expr.lit {
                    Lit::Str(text) => Some(text.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .flat_map(|text| {
            // `split`, not `lines`: an empty `///` line is a paragraph break to keep.
            text.split('\n')
                .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    lines.join("\n").trim().to_owned()
}
