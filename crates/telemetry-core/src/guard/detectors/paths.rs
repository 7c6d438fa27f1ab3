//! Paths: [`Detector::UnixPath`](crate::guard::Detector::UnixPath),
//! [`WindowsPath`](crate::guard::Detector::WindowsPath) and
//! [`HomePath`](crate::guard::Detector::HomePath).
//!
//! A path is *rooted*: its separator opens a token (at the start, or after
//! white space, punctuation or a symbol of any script, or after text of a
//! script written without spaces), and two non-empty segments follow, so
//! that `and/or`, `text/plain` and one-segment `/tmp` pass.

use super::bytes::{Side, find, is_ascii_word, run_len, side_at, side_before, word_before};

/// Whether the separator (`/`, `\` or `~`) at `at`, whose run ends at `end`,
/// is part of the token before it (`and/or`, `text/plain`, `./x`,
/// `%APPDATA%\x`, `naïve/x`) rather than the start of a path.
///
/// Between two characters of a script written without spaces
/// (`東京/大阪/名古屋`) a separator joins words, as in `and/or`; before
/// anything else (`文件/home`) it starts a token.
fn continues_token(s: &[u8], at: usize, end: usize) -> bool {
    match at.checked_sub(1).map(|before| s[before]) {
        None => false,
        Some(b) if b.is_ascii() => {
            is_ascii_word(b) || matches!(b, b'-' | b'.' | b'~' | b'+' | b'%' | b'\\' | b'/')
        }
        Some(_) => match side_before(s, at) {
            Side::Word => true,
            Side::Unspaced => side_at(s, end) == Side::Unspaced,
            Side::Boundary => false,
        },
    }
}

/// A byte that can start a path segment: any byte of a non-ASCII
/// character, so that `/home/anaïs` and `/ホーム/x` are paths.
const fn starts_segment(b: u8) -> bool {
    is_ascii_word(b) || b >= 0x80 || matches!(b, b'.' | b'-' | b'~' | b'@' | b'$' | b'+' | b'%')
}

/// A byte that ends a path segment besides its separator: white space,
/// control characters, quotes and brackets.
const fn ends_segment(b: u8) -> bool {
    b <= b' '
        || matches!(
            b,
            b'"' | b'\''
                | b'`'
                | b','
                | b';'
                | b'|'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
        )
}

/// Whether, from `at` (the start of a run of `sep`), the text has two
/// non-empty segments: `/a/b`, `//a//b`, `\a\b`.
fn two_segments(s: &[u8], at: usize, sep: u8) -> bool {
    let mut i = at + run_len(&s[at..], |b| b == sep);
    if !s.get(i).is_some_and(|&b| starts_segment(b)) {
        return false;
    }
    i += run_len(&s[i..], |b| b != sep && !ends_segment(b));
    if s.get(i) != Some(&sep) {
        return false;
    }
    i += run_len(&s[i..], |b| b == sep);
    s.get(i).is_some_and(|&b| starts_segment(b))
}

/// Whether a rooted path of two or more segments, separated by `sep`, starts
/// at a run of `sep` that opens a token.
fn rooted_path(s: &[u8], sep: u8) -> bool {
    let mut i = 0;
    while let Some(at) = find(s, i, sep) {
        let end = at + run_len(&s[at..], |b| b == sep);
        let found = match at.checked_sub(1).map(|before| s[before]) {
            // `scheme://authority/…` is a URL, not a path, unless it is a
            // `file:` URL; `host:/path` and `file:///path` are paths.
            Some(b':') if sep == b'/' && end - at == 2 => file_url_path(s, at - 1, end),
            Some(b':') => two_segments(s, at, sep),
            _ => !continues_token(s, at, end) && two_segments(s, at, sep),
        };
        if found {
            return true;
        }
        i = end;
    }
    false
}

/// Whether the `://` at `colon` (the slashes ending at `end`) belongs to a
/// `file:` URL whose path, after the authority (`localhost`, a server or
/// nothing), has two segments: `file://localhost/etc/hosts`.
fn file_url_path(s: &[u8], colon: usize, end: usize) -> bool {
    let is_file = colon >= 4
        && s[colon - 4..colon].eq_ignore_ascii_case(b"file")
        && (colon == 4 || !is_scheme_byte(s[colon - 5]));
    if !is_file {
        return false;
    }
    let authority = run_len(&s[end..], |b| b != b'/' && !ends_segment(b));
    s.get(end + authority) == Some(&b'/') && two_segments(s, end + authority, b'/')
}

/// A byte of a URL scheme (RFC 3986): a letter, digit, `+`, `-` or `.`.
const fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

pub(super) fn unix_path(s: &[u8]) -> bool {
    rooted_path(s, b'/')
}

pub(super) fn windows_path(s: &[u8]) -> bool {
    // A drive: `C:\x`, `c:/x`, standing alone (not `ab:/x`).
    let mut i = 0;
    while let Some(colon) = find(s, i, b':') {
        let drive = colon >= 1 && s[colon - 1].is_ascii_alphabetic() && !word_before(s, colon - 1);
        if drive {
            let rest = &s[colon + 1..];
            let seps = run_len(rest, |b| b == b'\\' || b == b'/');
            if seps > 0 && rest.get(seps).is_some_and(|&b| starts_segment(b)) {
                return true;
            }
        }
        i = colon + 1;
    }
    // UNC `\\server\share` and rooted `\Users\name`.
    rooted_path(s, b'\\')
}

pub(super) fn home_path(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(tilde) = find(s, i, b'~') {
        i = tilde + 1;
        if tilde > 0 && s[tilde - 1] != b'/' && continues_token(s, tilde, tilde + 1) {
            continue;
        }
        let rest = &s[tilde + 1..];
        match rest.first() {
            // `~/x`, `~\x`: something must follow the separator.
            Some(b'/' | b'\\') if rest.get(1).is_some_and(|&b| starts_segment(b)) => return true,
            // `~user/`: the user name is enough.
            Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                let name = run_len(rest, |b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
                });
                if matches!(rest.get(name), Some(b'/' | b'\\')) {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
