//! E-mail addresses: [`Detector::Email`](crate::guard::Detector::Email).
//!
//! A local part, `@`, and a domain of two or more labels ending in a TLD of
//! two or more letters, so that `@types/node`, `pkg@1.2.3` and
//! `user@localhost` pass.

use super::bytes::{find, run_len};

/// A byte of the local part of an address (RFC 5322 `atext`, and `.`).
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// A byte of a domain label.
const fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80
}

pub(super) fn email(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(at) = find(s, i, b'@') {
        i = at + 1;
        if at > 0 && is_local(s[at - 1]) && domain(&s[at + 1..]) {
            return true;
        }
    }
    false
}

/// Whether `s` starts with a domain of two or more labels whose last label is
/// a TLD of two or more letters: `example.com`, not `localhost`, not `1.2.3`.
fn domain(s: &[u8]) -> bool {
    let mut i = 0;
    let mut labels = 0;
    let mut tld = false;
    loop {
        let len = run_len(&s[i..], is_domain);
        if len == 0 {
            break;
        }
        let label = &s[i..i + len];
        labels += 1;
        tld = len >= 2 && label.iter().all(|&b| b.is_ascii_alphabetic() || b >= 0x80);
        i += len;
        if s.get(i) == Some(&b'.') {
            i += 1;
        } else {
            break;
        }
    }
    labels >= 2 && tld
}
