//! What the detectors share: where a word ends, the base64url alphabet, the
//! kinds of bytes, and finding and measuring runs of bytes.
//!
//! Every detector decides whether a match stands alone by looking at the
//! character before and after it: [`word_before`] and [`word_at`] are that
//! boundary, in one place, so that `v1.2.3.4`, `std::fmt` and `xsk-…` are
//! told apart from `1.2.3.4`, `::1` and `sk-…` by the same rule, in any
//! script.
//!
//! # Where a word ends
//!
//! A word is made of letters, digits and `_`, and of the letters, digits
//! and combining marks of any script written with spaces between words
//! (`anaïs`, `версия`, `αβγ`). Everything else ends one: white space,
//! punctuation and symbols of every script (`‘’ «» — → ： 「」 。`), and the
//! characters of the scripts written without spaces between words, where a
//! Latin token or a number is a word of its own even when nothing separates
//! it from the text: Chinese and Japanese (Han, Hiragana, Katakana,
//! Bopomofo), Thai, Lao, Khmer and Myanmar, and Korean. Korean is written
//! with spaces, but its particles attach to the word before them
//! (`10.0.0.1에서`, "from 10.0.0.1"), so a Hangul syllable never continues
//! a Latin token or a number either.
//!
//! The ranges of those scripts are Unicode blocks, written out in
//! [`is_unspaced`]; letters, digits and white space come from `char`'s own
//! methods. An ASCII byte is judged from a table; a character is decoded
//! only when the byte next to a candidate is not ASCII.

/// Kinds of bytes, as bit flags: see [`kind`].
pub(super) const LOWER: u8 = 1;
pub(super) const UPPER: u8 = 1 << 1;
pub(super) const DIGIT: u8 = 1 << 2;
/// `a e i o u`, in either case.
pub(super) const VOWEL: u8 = 1 << 3;
/// `_ - + /`: with letters and digits, the alphabet of base64 and
/// base64url.
pub(super) const TOKEN_PUNCTUATION: u8 = 1 << 4;
/// An ASCII letter or digit.
pub(super) const ALNUM: u8 = LOWER | UPPER | DIGIT;

/// The kind of every byte; also the low bits of the detectors' byte classes
/// (`detectors::classes`), so that what is a letter or a digit is said once.
pub(super) const KIND_TABLE: [u8; 256] = kinds();

static KINDS: [u8; 256] = KIND_TABLE;

const fn kinds() -> [u8; 256] {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation, reason = "b < 256")]
        let byte = b as u8;
        table[b] = match byte {
            b'a' | b'e' | b'i' | b'o' | b'u' => LOWER | VOWEL,
            b'A' | b'E' | b'I' | b'O' | b'U' => UPPER | VOWEL,
            b'a'..=b'z' => LOWER,
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            b'_' | b'-' | b'+' | b'/' => TOKEN_PUNCTUATION,
            _ => 0,
        };
        b += 1;
    }
    table
}

/// The kind of `b`, from one table: for the loops that look at every byte
/// of a long run, where a table read is cheaper than a chain of tests.
#[inline]
pub(super) fn kind(b: u8) -> u8 {
    KINDS[usize::from(b)]
}

/// Part of a word, for an ASCII byte: a letter, a digit or `_`.
pub(super) const fn is_ascii_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// What a character is to the boundary of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The start or the end of the text, white space, punctuation, a
    /// symbol, or bytes that are not UTF-8.
    Boundary,
    /// A letter, digit, `_` or combining mark of a script written with
    /// spaces: the match goes on into it.
    Word,
    /// A character of a script written without spaces between words: a
    /// boundary to everything but text of such a script.
    Unspaced,
}

impl Side {
    fn of(c: char) -> Self {
        if let Some(b) = u8::try_from(c).ok().filter(u8::is_ascii) {
            ascii_side(b)
        } else if is_unspaced(c) {
            Self::Unspaced
        } else if c.is_alphanumeric() || is_combining_mark(c) {
            Self::Word
        } else {
            Self::Boundary
        }
    }
}

/// What ends right before `at`: the last character of `s[..at]`.
#[inline]
pub(super) fn side_before(s: &[u8], at: usize) -> Side {
    match at.checked_sub(1).map(|i| s[i]) {
        None => Side::Boundary,
        Some(b) if b.is_ascii() => ascii_side(b),
        Some(_) => char_before(s, at).map_or(Side::Boundary, Side::of),
    }
}

/// What starts at `at`: the first character of `s[at..]`.
#[inline]
pub(super) fn side_at(s: &[u8], at: usize) -> Side {
    match s.get(at) {
        None => Side::Boundary,
        Some(&b) if b.is_ascii() => ascii_side(b),
        Some(_) => char_at(s, at).map_or(Side::Boundary, Side::of),
    }
}

/// Whether a word goes on right before `at`, so that a match starting
/// there is part of it.
#[inline]
pub(super) fn word_before(s: &[u8], at: usize) -> bool {
    side_before(s, at) == Side::Word
}

/// Whether a word starts at `at`, so that a match ending there runs on
/// into it.
#[inline]
pub(super) fn word_at(s: &[u8], at: usize) -> bool {
    side_at(s, at) == Side::Word
}

const fn ascii_side(b: u8) -> Side {
    if is_ascii_word(b) {
        Side::Word
    } else {
        Side::Boundary
    }
}

const fn is_continuation(b: u8) -> bool {
    b & 0xc0 == 0x80
}

/// The character that ends at `at`, if `s[..at]` ends with a whole one.
fn char_before(s: &[u8], at: usize) -> Option<char> {
    let start = (at.saturating_sub(4)..at)
        .rev()
        .find(|&i| !is_continuation(s[i]))?;
    std::str::from_utf8(&s[start..at]).ok()?.chars().next()
}

/// The character that starts at `at`, if a whole one does.
fn char_at(s: &[u8], at: usize) -> Option<char> {
    let width = match s[at] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    std::str::from_utf8(s.get(at..at + width)?)
        .ok()?
        .chars()
        .next()
}

/// Combining marks that `char::is_alphanumeric` leaves out (the accents of
/// Latin, Greek and Cyrillic, written after their letter), and the zero
/// width joiners that Indic and Persian text writes inside words. The
/// vowel signs of Indic and Arabic scripts are alphabetic already.
const fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036f}'
            | '\u{0483}'..='\u{0489}'
            | '\u{1ab0}'..='\u{1aff}'
            | '\u{1dc0}'..='\u{1dff}'
            | '\u{200c}'..='\u{200d}'
            | '\u{20d0}'..='\u{20ff}'
            | '\u{fe20}'..='\u{fe2f}'
    )
}

/// A character of a script written without spaces between words, by
/// Unicode block: a Latin token or a number right next to it is a word of
/// its own.
pub(super) const fn is_unspaced(c: char) -> bool {
    matches!(
        c,
        // Thai, Lao.
        '\u{0e00}'..='\u{0eff}'
            // Myanmar.
            | '\u{1000}'..='\u{109f}'
            // Hangul Jamo.
            | '\u{1100}'..='\u{11ff}'
            // Khmer.
            | '\u{1780}'..='\u{17ff}'
            // The letters among CJK Symbols and Punctuation: 々 〆 〇, the
            // Hangzhou numerals, the kana repeat marks, 〻 〼.
            | '\u{3005}'..='\u{3007}'
            | '\u{3021}'..='\u{3029}'
            | '\u{3031}'..='\u{3035}'
            | '\u{303b}'..='\u{303c}'
            // Hiragana, Katakana, Bopomofo, Hangul Compatibility Jamo,
            // Kanbun, Bopomofo Extended, CJK Strokes, Katakana Phonetic
            // Extensions.
            | '\u{3040}'..='\u{31ff}'
            // CJK Unified Ideographs Extension A.
            | '\u{3400}'..='\u{4dbf}'
            // CJK Unified Ideographs.
            | '\u{4e00}'..='\u{9fff}'
            // Hangul Jamo Extended-A.
            | '\u{a960}'..='\u{a97f}'
            // Hangul Syllables, Hangul Jamo Extended-B.
            | '\u{ac00}'..='\u{d7ff}'
            // CJK Compatibility Ideographs.
            | '\u{f900}'..='\u{faff}'
            // Halfwidth Katakana and Hangul.
            | '\u{ff66}'..='\u{ffdc}'
            // Kana Supplement, Kana Extended-A, Small Kana Extension.
            | '\u{1b000}'..='\u{1b16f}'
            // CJK Unified Ideographs Extensions B to H, CJK Compatibility
            // Ideographs Supplement.
            | '\u{20000}'..='\u{323af}'
    )
}

/// base64url: ASCII letters, digits, `_`, `-`.
pub(super) const fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Position of the first `byte` in `s` at or after `from`.
pub(super) fn find(s: &[u8], from: usize, byte: u8) -> Option<usize> {
    s.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|at| at + from)
}

/// Length of the run at the start of `s` whose bytes satisfy `pred`.
pub(super) fn run_len(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| pred(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn before(text: &str) -> Side {
        side_before(text.as_bytes(), text.len())
    }

    fn at(text: &str) -> Side {
        side_at(text.as_bytes(), 0)
    }

    #[test]
    fn sides_of_characters() {
        for text in [
            "a", "Z", "7", "_", "é", "ï", "я", "α", "ß", "e\u{301}", "٣", "क", "कि",
        ] {
            assert_eq!(before(text), Side::Word, "{text:?}");
        }
        for text in [
            "", " ", ".", "/", "-", "\u{a0}", "\u{3000}", "‘", "’", "«", "—", "→", "：", "「",
            "。", "、", "（", "•", "🎉", "€",
        ] {
            assert_eq!(before(text), Side::Boundary, "{text:?}");
        }
        for text in [
            "東", "の", "カ", "ｶ", "한", "ㄱ", "ไ", "ລ", "က", "ក", "々", "𠀋",
        ] {
            assert_eq!(before(text), Side::Unspaced, "{text:?}");
        }
        assert_eq!(at("ana"), Side::Word);
        assert_eq!(at("東京"), Side::Unspaced);
        assert_eq!(at("’x"), Side::Boundary);
        assert_eq!(at(""), Side::Boundary);
    }

    #[test]
    fn broken_utf8_is_a_boundary() {
        assert_eq!(side_before(b"a\xa9", 2), Side::Boundary);
        assert_eq!(side_before(b"\xe2\x80", 2), Side::Boundary);
        assert_eq!(side_at(b"\xe2\x80", 0), Side::Boundary);
        assert_eq!(side_at(b"\xff", 0), Side::Boundary);
    }
}
