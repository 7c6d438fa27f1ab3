//! Every word the attributes accept, named once.

use std::fmt::{self, Display};

use syn::{Ident, Path};

#[derive(Copy, Clone)]
pub(crate) struct Symbol(pub(crate) &'static str);

pub(crate) const TELEMETRY: Symbol = Symbol("telemetry");

// Structs and enums.
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

/// Every word a field accepts: a conversion or `rename`.
pub(crate) fn field_words() -> impl Iterator<Item = Symbol> {
    CONVERSIONS.into_iter().chain([RENAME])
}

/// The words a struct accepts.
pub(crate) const STRUCT_WORDS: [Symbol; 2] = [EVENT, CRATE];

/// The words a unit-only enum accepts.
pub(crate) const ENUM_WORDS: [Symbol; 2] = [RENAME_ALL, CRATE];

/// The words a variant accepts.
pub(crate) const VARIANT_WORDS: [Symbol; 1] = [RENAME];

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

/// The word of `words` that `typed` is most likely a typo of: the nearest,
/// if it is at most one edit away per three characters typed (rustc's rule
/// for its suggestions), where an edit inserts, deletes or replaces a
/// character or swaps two neighbours (`hahs` is one edit from `hash`).
pub(crate) fn closest(typed: &str, words: impl IntoIterator<Item = Symbol>) -> Option<Symbol> {
    let limit = typed.chars().count().max(3) / 3;
    words
        .into_iter()
        .map(|word| (edit_distance(typed, word.0), word))
        .filter(|(distance, _)| *distance <= limit)
        // The first of equally near words, in the order given.
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, word)| word)
}

/// The optimal string alignment distance between `from` and `to`.
fn edit_distance(from: &str, to: &str) -> usize {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    // `rows[i][j]`: the distance between the first `i` characters of `from`
    // and the first `j` of `to`.
    let mut rows: Vec<Vec<usize>> = (0..=from.len())
        .map(|i| (0..=to.len()).map(|j| if i == 0 { j } else { i }).collect())
        .collect();
    for i in 1..=from.len() {
        for j in 1..=to.len() {
            let replace = rows[i - 1][j - 1] + usize::from(from[i - 1] != to[j - 1]);
            let mut distance = replace.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && from[i - 1] == to[j - 2] && from[i - 2] == to[j - 1] {
                distance = distance.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = distance;
        }
    }
    rows[from.len()][to.len()]
}

/// `hash, forbidden, ...` for error messages.
pub(crate) fn list(words: &[Symbol]) -> String {
    words
        .iter()
        .map(|word| word.0)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{
        ENUM_WORDS, STRUCT_WORDS, Symbol, VARIANT_WORDS, closest, edit_distance, field_words,
    };

    #[test]
    fn counts_insertions_deletions_replacements_and_swaps() {
        assert_eq!(edit_distance("hash", "hash"), 0);
        assert_eq!(edit_distance("hahs", "hash"), 1);
        assert_eq!(edit_distance("hashed", "hash"), 2);
        assert_eq!(edit_distance("cont", "count"), 1);
        assert_eq!(edit_distance("boolen", "boolean"), 1);
        assert_eq!(edit_distance("", "crate"), 5);
    }

    #[test]
    fn suggests_only_a_near_word() {
        let field: Vec<Symbol> = field_words().collect();
        let suggested = |typed: &str, words: &[Symbol]| {
            closest(typed, words.iter().copied()).map(|word| word.0)
        };
        assert_eq!(suggested("hahs", &field), Some("hash"));
        assert_eq!(suggested("hashed", &field), Some("hash"));
        assert_eq!(suggested("textcount", &field), Some("text_count"));
        assert_eq!(suggested("renam", &field), Some("rename"));
        assert_eq!(suggested("evnet", &STRUCT_WORDS), Some("event"));
        assert_eq!(suggested("rename_al", &ENUM_WORDS), Some("rename_all"));
        assert_eq!(suggested("renmae", &VARIANT_WORDS), Some("rename"));
        // Too far from every word to be a typo of one.
        assert_eq!(suggested("salt", &field), None);
        assert_eq!(suggested("name", &STRUCT_WORDS), None);
        assert_eq!(suggested("event", &ENUM_WORDS), None);
        assert_eq!(suggested("label", &VARIANT_WORDS), None);
        assert_eq!(suggested("x", &field), None);
    }
}
