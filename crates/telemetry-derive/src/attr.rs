//! Reads `#[telemetry(...)]` into plain values, reporting every mistake at the
//! user's tokens. Each parse branch shows the syntax it accepts.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{
    self, AGGREGATE, BOOLEAN, CONVERSIONS, COUNT, CRATE, DISTRIBUTION, ENUM_WORDS, EVENT,
    FORBIDDEN, HASH, RENAME, RENAME_ALL, SCOPE, STRUCT_WORDS, Symbol, TELEMETRY, TEXT_COUNT,
    VARIANT_WORDS,
};

/// How one field's value is turned into what is sent: what core's schema
/// records as `Conversion`, each bounded by a trait of core's `convert` module.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    PassThrough,
    Forbidden,
    Boolean,
    Count,
    TextCount,
    Hash(HashScope),
    Distribution,
    Aggregate(Aggregate),
}

/// Core's `HashScope`: which key a hash is made with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashScope {
    Installation,
    App,
}

/// Core's schema `Aggregate`: the number a collection of numbers is sent as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Mean,
    Min,
    Max,
}

impl Conversion {
    fn word(self) -> Symbol {
        match self {
            Self::PassThrough => Symbol("pass-through"),
            Self::Forbidden => FORBIDDEN,
            Self::Boolean => BOOLEAN,
            Self::Count => COUNT,
            Self::TextCount => TEXT_COUNT,
            Self::Hash(_) => HASH,
            Self::Distribution => DISTRIBUTION,
            Self::Aggregate(_) => AGGREGATE,
        }
    }
}

/// A value that may be given at most once, kept with the tokens it was
/// written as (`rename = "key"`), so that a later error about it can point
/// there. A second value is reported where it stands.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    tokens: TokenStream,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Self {
            cx,
            name,
            tokens: TokenStream::new(),
            value: None,
        }
    }

    fn set<A: ToTokens>(&mut self, object: A, value: T) {
        let tokens = object.into_token_stream();
        if self.value.is_some() {
            self.cx.error_spanned_by(
                tokens,
                format!("duplicate telemetry attribute `{}`", self.name),
            );
        } else {
            self.tokens = tokens;
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }

    fn get_with_tokens(self) -> Option<(TokenStream, T)> {
        let tokens = self.tokens;
        self.value.map(|value| (tokens, value))
    }
}

/// A `rename = "..."` of a field or a variant: the name, and the tokens that
/// gave it, for an error about two fields or variants that end up with the
/// same name.
pub(crate) struct Rename {
    pub(crate) name: String,
    pub(crate) tokens: TokenStream,
}

impl Attr<'_, String> {
    fn get_rename(self) -> Option<Rename> {
        self.get_with_tokens()
            .map(|(tokens, name)| Rename { name, tokens })
    }
}

/// The attributes of a struct deriving `TelemetrySafe`.
pub(crate) struct Struct {
    pub(crate) event: Option<String>,
    pub(crate) krate: Option<syn::Path>,
}

impl Struct {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut event = Attr::none(cx, EVENT);
        let mut krate = Attr::none(cx, CRATE);
        for attr in telemetry_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == EVENT {
                    // #[telemetry(event = "session_summary")]
                    if !meta.input.peek(Token![=]) {
                        cx.error_spanned_by(&meta.path, "missing event name: write #[telemetry(event = \"name\")]");
                        return skip_argument(&meta);
                    }
                    let (tokens, name) = parse_lit_str(&meta)?;
                    if let Some(valid) = event_name(cx, &name) {
                        event.set(tokens, valid);
                    }
                } else if meta.path == CRATE {
                    // #[telemetry(crate = "my_app::telemetry_core")]
                    let (tokens, path) = parse_lit_str(&meta)?;
                    krate.set(tokens, path.parse::<syn::Path>()?);
                } else if let Some(word) = field_word(&meta.path) {
                    cx.error_spanned_by(&meta.path, format!("`{word}` belongs on a field, not on the struct"));
                    skip_argument(&meta)?;
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown telemetry attribute `{}` on a struct; expected `event = \"name\"` or `crate = \"path\"`{}",
                            path_text(&meta.path),
                            did_you_mean(&meta.path, STRUCT_WORDS),
                        ),
                    );
                    skip_argument(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            event: event.get(),
            krate: krate.get(),
        }
    }
}

/// The attributes of one field.
pub(crate) struct Field {
    pub(crate) conversion: Conversion,
    pub(crate) rename: Option<Rename>,
}

impl Field {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut conversion: Option<Conversion> = None;
        let mut rename = Attr::none(cx, RENAME);
        for attr in telemetry_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                let chosen = if meta.path == HASH {
                    // #[telemetry(hash)]
                    // #[telemetry(hash(scope = "installation"))]
                    // #[telemetry(hash(scope = "app"))]
                    Some(Conversion::Hash(parse_hash_scope(cx, &meta)?))
                } else if meta.path == AGGREGATE {
                    // #[telemetry(aggregate)]
                    // #[telemetry(aggregate = "sum" | "mean" | "min" | "max")]
                    parse_aggregate(cx, &meta)?.map(Conversion::Aggregate)
                } else if let Some(plain) = plain_conversion(&meta.path) {
                    // #[telemetry(forbidden)], #[telemetry(boolean)], #[telemetry(count)],
                    // #[telemetry(text_count)], #[telemetry(distribution)]
                    if has_argument(&meta) {
                        cx.error_spanned_by(
                            &meta.path,
                            format!("`{}` takes no arguments", plain.word()),
                        );
                        skip_argument(&meta)?;
                    }
                    Some(plain)
                } else if meta.path == RENAME {
                    // #[telemetry(rename = "key")]
                    if let Some((tokens, key)) = parse_rename(cx, &meta)? {
                        rename.set(tokens, key);
                    }
                    None
                } else if meta.path == EVENT || meta.path == CRATE {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "`{}` belongs on the struct, not on a field",
                            path_text(&meta.path)
                        ),
                    );
                    skip_argument(&meta)?;
                    None
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown telemetry attribute `{}`; expected one of: {}, rename{}",
                            path_text(&meta.path),
                            symbol::list(&CONVERSIONS),
                            did_you_mean(&meta.path, symbol::field_words()),
                        ),
                    );
                    skip_argument(&meta)?;
                    None
                };
                if let Some(chosen) = chosen {
                    match &conversion {
                        Some(first) if first.word().0 == chosen.word().0 => cx.error_spanned_by(
                            &meta.path,
                            format!("duplicate telemetry attribute `{}`", chosen.word()),
                        ),
                        Some(first) => cx.error_spanned_by(
                            &meta.path,
                            format!(
                                "`{}` conflicts with `{}`: a field takes one conversion",
                                chosen.word(),
                                first.word()
                            ),
                        ),
                        None => conversion = Some(chosen),
                    }
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            conversion: conversion.unwrap_or(Conversion::PassThrough),
            rename: rename.get_rename(),
        }
    }
}

/// How labels are derived from variant names: serde's `rename_all` rules.
#[derive(Clone, Copy)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
}

const RENAME_RULES: [(&str, RenameRule); 7] = [
    ("lowercase", RenameRule::Lower),
    ("UPPERCASE", RenameRule::Upper),
    ("PascalCase", RenameRule::Pascal),
    ("camelCase", RenameRule::Camel),
    ("snake_case", RenameRule::Snake),
    ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
    ("kebab-case", RenameRule::Kebab),
];

impl RenameRule {
    /// Applies the rule to a `PascalCase` variant name.
    pub(crate) fn apply(self, variant: &str) -> String {
        let mut snake = String::new();
        for (i, ch) in variant.char_indices() {
            if i > 0 && ch.is_uppercase() {
                snake.push('_');
            }
            snake.extend(ch.to_lowercase());
        }
        match self {
            Self::Lower => variant.to_lowercase(),
            Self::Upper => variant.to_uppercase(),
            Self::Pascal => variant.to_owned(),
            Self::Camel => {
                let mut chars = variant.chars();
                chars
                    .next()
                    .map(|first| first.to_lowercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            Self::Snake => snake,
            Self::ScreamingSnake => snake.to_uppercase(),
            Self::Kebab => snake.replace('_', "-"),
        }
    }
}

/// The attributes of a unit-only enum deriving `TelemetryValue`.
pub(crate) struct Enum {
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) krate: Option<syn::Path>,
}

impl Enum {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename_all = Attr::none(cx, RENAME_ALL);
        let mut krate = Attr::none(cx, CRATE);
        for attr in telemetry_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME_ALL {
                    // #[telemetry(rename_all = "snake_case")]
                    let (tokens, rule) = parse_lit_str(&meta)?;
                    match RENAME_RULES.iter().find(|(name, _)| *name == rule.value()) {
                        Some((_, found)) => rename_all.set(tokens, *found),
                        None => cx.error_spanned_by(
                            &rule,
                            format!(
                                "unknown rename rule `{}`; expected one of: {}",
                                rule.value(),
                                RENAME_RULES.map(|(name, _)| name).join(", ")
                            ),
                        ),
                    }
                } else if meta.path == CRATE {
                    // #[telemetry(crate = "my_app::telemetry_core")]
                    let (tokens, path) = parse_lit_str(&meta)?;
                    krate.set(tokens, path.parse::<syn::Path>()?);
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown telemetry attribute `{}` on an enum; expected `rename_all = \"...\"` or `crate = \"path\"`{}",
                            path_text(&meta.path),
                            did_you_mean(&meta.path, ENUM_WORDS),
                        ),
                    );
                    skip_argument(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            rename_all: rename_all.get(),
            krate: krate.get(),
        }
    }
}

/// The attributes of one enum variant.
pub(crate) struct Variant {
    pub(crate) rename: Option<Rename>,
}

impl Variant {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut rename = Attr::none(cx, RENAME);
        for attr in telemetry_attrs(attrs) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path == RENAME {
                    // #[telemetry(rename = "label")]
                    if let Some((tokens, label)) = parse_rename(cx, &meta)? {
                        rename.set(tokens, label);
                    }
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format!(
                            "unknown telemetry attribute `{}` on a variant; expected `rename = \"label\"`{}",
                            path_text(&meta.path),
                            did_you_mean(&meta.path, VARIANT_WORDS),
                        ),
                    );
                    skip_argument(&meta)?;
                }
                Ok(())
            });
            if let Err(error) = parsed {
                cx.syn_error(error);
            }
        }
        Self {
            rename: rename.get_rename(),
        }
    }
}

fn telemetry_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|attr| *attr.path() == TELEMETRY)
}

fn plain_conversion(path: &syn::Path) -> Option<Conversion> {
    [
        (FORBIDDEN, Conversion::Forbidden),
        (BOOLEAN, Conversion::Boolean),
        (COUNT, Conversion::Count),
        (TEXT_COUNT, Conversion::TextCount),
        (DISTRIBUTION, Conversion::Distribution),
    ]
    .into_iter()
    .find_map(|(word, conversion)| (*path == word).then_some(conversion))
}

fn field_word(path: &syn::Path) -> Option<Symbol> {
    symbol::field_words().find(|word| *path == *word)
}

/// `; did you mean `hash`?` when the unknown `path` looks like a typo of one
/// of `words`, or nothing.
fn did_you_mean(path: &syn::Path, words: impl IntoIterator<Item = Symbol>) -> String {
    symbol::closest(&path_text(path), words)
        .map_or_else(String::new, |word| format!("; did you mean `{word}`?"))
}

fn parse_hash_scope(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<HashScope> {
    let mut scope = HashScope::Installation;
    if meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            "`hash` takes no value; write #[telemetry(hash)] or #[telemetry(hash(scope = \"app\"))]",
        );
        skip_argument(meta)?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.parse_nested_meta(|option| {
            if option.path == SCOPE {
                let value: LitStr = option.value()?.parse()?;
                match value.value().as_str() {
                    "installation" => scope = HashScope::Installation,
                    "app" => scope = HashScope::App,
                    other => cx.error_spanned_by(
                        &value,
                        format!("unknown hash scope `{other}`; expected \"installation\" or \"app\""),
                    ),
                }
                Ok(())
            } else {
                cx.error_spanned_by(
                    &option.path,
                    format!(
                        "unknown hash option `{}`; expected `scope = \"installation\"` or `scope = \"app\"`",
                        path_text(&option.path)
                    ),
                );
                skip_argument(&option)
            }
        })?;
    }
    Ok(scope)
}

fn parse_aggregate(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Aggregate>> {
    if meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            "write #[telemetry(aggregate = \"mean\")], not aggregate(...)",
        );
        skip_argument(meta)?;
        return Ok(None);
    }
    if !meta.input.peek(Token![=]) {
        return Ok(Some(Aggregate::Sum));
    }
    let kind: LitStr = meta.value()?.parse()?;
    Ok(match kind.value().as_str() {
        "sum" => Some(Aggregate::Sum),
        "mean" => Some(Aggregate::Mean),
        "min" => Some(Aggregate::Min),
        "max" => Some(Aggregate::Max),
        "median" | "p50" | "p90" | "p95" | "p99" | "percentile" => {
            cx.error_spanned_by(
                &kind,
                format!(
                    "unsupported aggregate `{}`; expected one of: sum, mean, min, max \
                     (a percentile needs every value kept; compute it before capture and send the number)",
                    kind.value()
                ),
            );
            None
        }
        other => {
            cx.error_spanned_by(
                &kind,
                format!("unknown aggregate `{other}`; expected one of: sum, mean, min, max"),
            );
            None
        }
    })
}

/// `= "text"` after a word, with the tokens of the whole argument
/// (`word = "text"`).
fn parse_lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<(TokenStream, LitStr)> {
    let eq_token: Token![=] = meta.input.parse()?;
    let text: LitStr = meta.input.parse()?;
    let path = &meta.path;
    Ok((quote!(#path #eq_token #text), text))
}

/// `rename = "text"` with non-empty text.
fn parse_rename(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
) -> syn::Result<Option<(TokenStream, String)>> {
    let (tokens, name) = parse_lit_str(meta)?;
    if name.value().is_empty() {
        cx.error_spanned_by(&name, format!("`{RENAME}` needs a non-empty name"));
        return Ok(None);
    }
    Ok(Some((tokens, name.value())))
}

/// Checks an event name: non-empty, at most 200 characters, ASCII letters,
/// digits and `_ - . :`, not starting with `$` (reserved by `PostHog`).
fn event_name(cx: &Ctxt, name: &LitStr) -> Option<String> {
    let text = name.value();
    match event_name_problem(&text) {
        Some(message) => {
            cx.error_spanned_by(name, message);
            None
        }
        None => Some(text),
    }
}

/// What is wrong with an event name, if anything. The rule is
/// `telemetry_core::names::check_event_name`'s, which a proc-macro crate
/// cannot call; a test runs both over one table of names.
fn event_name_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        Some("event name is empty: write #[telemetry(event = \"name\")]".to_owned())
    } else if text.starts_with('$') {
        Some(format!(
            "event name `{text}` starts with `$`, which PostHog reserves for its own events"
        ))
    } else if text.len() > 200 {
        Some(format!(
            "event name is {} characters long; at most 200 are allowed",
            text.len()
        ))
    } else {
        text.chars()
            .find(|ch| !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | ':')))
            .map(|ch| {
                format!("event name `{text}` contains {ch:?}; use ASCII letters, digits, `_`, `-`, `.` or `:`")
            })
    }
}

fn has_argument(meta: &ParseNestedMeta<'_>) -> bool {
    meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren)
}

/// Consumes `= value` or `(...)` after a rejected word, so that parsing goes
/// on and later mistakes are reported too.
fn skip_argument(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn path_text(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

#[cfg(test)]
mod event_name_tests {
    /// The table `telemetry_core::names::check_event_name` is tested on too.
    const NAMES: &[(&str, bool)] = include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/event_names.in"
    ));

    #[test]
    fn the_derive_accepts_and_rejects_the_names_core_does() {
        for (name, valid) in NAMES {
            assert_eq!(
                super::event_name_problem(name).is_none(),
                *valid,
                "{name:?}"
            );
        }
    }
}
