//! The derive input as typed values that keep their `syn` nodes for spans.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, Lit, Meta};

use crate::attr;
use crate::ctxt::Ctxt;

/// Which derive is reading the input.
#[derive(Clone, Copy)]
pub(crate) enum Derive {
    TelemetrySafe,
    TelemetryValue,
}

/// What a derive reads: a struct for `TelemetrySafe`, a unit-only enum for
/// `TelemetryValue`.
pub(crate) enum Input<'a> {
    Struct(Struct<'a>),
    Enum(Enum<'a>),
}

/// A struct deriving `TelemetrySafe`.
pub(crate) struct Struct<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: attr::Struct,
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

/// A unit-only enum deriving `TelemetryValue`.
pub(crate) struct Enum<'a> {
    pub(crate) original: &'a DeriveInput,
    pub(crate) attrs: attr::Enum,
    pub(crate) variants: Vec<Variant<'a>>,
}

/// One unit variant.
pub(crate) struct Variant<'a> {
    pub(crate) original: &'a syn::Variant,
    pub(crate) attrs: attr::Variant,
    /// What is sent: the variant's `rename`, or its name under the enum's
    /// `rename_all`, or its name as written.
    pub(crate) label: String,
}

impl<'a> Input<'a> {
    /// Reads the input for `derive`. An input of the wrong kind is reported
    /// and read as empty (no fields, no variants), so that its attributes are
    /// still checked and the stub impls still name the right crate.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput, derive: Derive) -> Self {
        match derive {
            Derive::TelemetrySafe => Self::Struct(Struct::from_ast(cx, input)),
            Derive::TelemetryValue => Self::Enum(Enum::from_ast(cx, input)),
        }
    }

    /// The path given with `#[telemetry(crate = "...")]`.
    pub(crate) fn krate(&self) -> Option<&syn::Path> {
        match self {
            Self::Struct(input) => input.attrs.krate.as_ref(),
            Self::Enum(input) => input.attrs.krate.as_ref(),
        }
    }
}

impl Field<'_> {
    /// The key in the payload.
    pub(crate) fn key(&self) -> String {
        self.attrs
            .rename
            .as_ref()
            .map_or_else(|| self.ident.unraw_string(), |rename| rename.name.clone())
    }

    /// Where the key was chosen: the `rename = "..."`, or the field's name.
    pub(crate) fn key_tokens(&self) -> TokenStream {
        self.attrs.rename.as_ref().map_or_else(
            || self.ident.to_token_stream(),
            |rename| rename.tokens.clone(),
        )
    }
}

impl Variant<'_> {
    /// Where the label was chosen: the `rename = "..."`, or the variant's
    /// name.
    pub(crate) fn label_tokens(&self) -> TokenStream {
        self.attrs.rename.as_ref().map_or_else(
            || self.original.ident.to_token_stream(),
            |rename| rename.tokens.clone(),
        )
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

impl<'a> Struct<'a> {
    /// Reads a struct, reporting why the input cannot derive `TelemetrySafe`.
    fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::Struct::from_attrs(cx, &input.attrs);
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
            original: input,
            attrs,
            fields,
            doc: doc_comment(&input.attrs),
        }
    }
}

impl<'a> Enum<'a> {
    /// Reads an enum, reporting why the input cannot derive `TelemetryValue`.
    fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::Enum::from_attrs(cx, &input.attrs);
        let variants = match &input.data {
            Data::Enum(data) => data
                .variants
                .iter()
                .filter_map(|variant| Variant::from_ast(cx, variant, attrs.rename_all))
                .collect(),
            Data::Struct(data) => {
                cx.error_spanned_by(
                    data.struct_token,
                    "TelemetryValue is derived for unit-only enums; for a struct, derive TelemetrySafe",
                );
                Vec::new()
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "TelemetryValue is derived for unit-only enums, not unions",
                );
                Vec::new()
            }
        };
        Self {
            original: input,
            attrs,
            variants,
        }
    }
}

impl<'a> Variant<'a> {
    /// Reads a unit variant; a variant with data is reported and left out.
    fn from_ast(
        cx: &Ctxt,
        variant: &'a syn::Variant,
        rename_all: Option<attr::RenameRule>,
    ) -> Option<Self> {
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format!(
                    "TelemetryValue can only be derived for enums whose variants carry no data; \
                     `{}` does",
                    variant.ident
                ),
            );
            return None;
        }
        let attrs = attr::Variant::from_attrs(cx, &variant.attrs);
        let label = match (&attrs.rename, rename_all) {
            (Some(rename), _) => rename.name.clone(),
            (None, Some(rule)) => rule.apply(&variant.ident.to_string()),
            (None, None) => variant.ident.to_string(),
        };
        Some(Self {
            original: variant,
            attrs,
            label,
        })
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
