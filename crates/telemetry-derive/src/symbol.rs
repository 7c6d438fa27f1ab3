//! Every word the attributes accept, named once.

use std::fmt::{self, Display};

use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub(crate) struct Symbol(pub(crate) &'static str);

pub(crate) const TELEMETRY: Symbol = Symbol("telemetry");

// Container.
pub(crate) const EVENT: Symbol = Symbol("event");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");

// Field conversions.
pub(crate) const HASH: Symbol = Symbol("hash");
pub(crate) const SCOPE: Symbol = Symbol("scope");
pub(crate) const FORBIDDEN: Symbol = Symbol("forbidden");
pub(crate) const BOOLEAN: Symbol = Symbol("boolean");
pub(crate) const COUNT: Symbol = Symbol("count");
pub(crate) const TEXT_COUNT: Symbol = Symbol("text_count");
pub(crate) const DISTRIBUTION: Symbol = Symbol("distribution");
pub(crate) const AGGREGATE: Symbol = Symbol("aggregate");

// Fields and variants.
pub(crate) const RENAME: Symbol = Symbol("rename");

/// The conversions, in the order error messages list them.
pub(crate) const CONVERSIONS: [Symbol; 7] = [
    HASH,
    FORBIDDEN,
    BOOLEAN,
    COUNT,
    TEXT_COUNT,
    DISTRIBUTION,
    AGGREGATE,
];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}

/// `hash, forbidden, ...` for error messages.
pub(crate) fn list(words: &[Symbol]) -> String {
    words
        .iter()
        .map(|word| word.0)
        .collect::<Vec<_>>()
        .join(", ")
}
