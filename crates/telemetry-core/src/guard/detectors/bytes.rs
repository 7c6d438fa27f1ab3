//! What the detectors share: where a word ends, the base64url alphabet, the
//! kinds of bytes, and finding and measuring runs of bytes.
//!
//! Every detector decides whether a match stands alone by looking at the
//! byte before and after it: [`is_word`] is that boundary, in one place, so
//! that `v1.2.3.4`, `std::fmt` and `xsk-…` are told apart from `1.2.3.4`,
//! `::1` and `sk-…` by the same rule.

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

static KINDS: [u8; 256] = kinds();

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

/// Part of a word: an ASCII letter or digit, `_`, or any byte of a non-ASCII
/// character.
pub(super) const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
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
