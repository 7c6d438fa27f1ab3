//! What the detectors share: where a word ends, the base64url alphabet, and
//! finding and measuring runs of bytes.
//!
//! Every detector decides whether a match stands alone by looking at the
//! byte before and after it: [`is_word`] is that boundary, in one place, so
//! that `v1.2.3.4`, `std::fmt` and `xsk-…` are told apart from `1.2.3.4`,
//! `::1` and `sk-…` by the same rule.

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
