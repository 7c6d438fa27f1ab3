//! URLs that carry a credential:
//! [`Detector::UrlCredentials`](crate::guard::Detector::UrlCredentials).
//!
//! A plain URL passes; one with user info before the host, or with a
//! parameter whose name says it is a credential, does not.

use super::bytes::{find, run_len};

/// `scheme://user@host`, `scheme://user:password@host`.
pub(super) fn userinfo(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(colon) = find(s, i, b':') {
        i = colon + 1;
        let scheme = colon > 0 && s[colon - 1].is_ascii_alphanumeric();
        if !scheme || !s[colon + 1..].starts_with(b"//") {
            continue;
        }
        let authority = &s[colon + 3..];
        let len = run_len(authority, |b| {
            !matches!(b, b'/' | b'?' | b'#' | b'\\') && !b.is_ascii_whitespace()
        });
        if authority[..len].iter().skip(1).any(|&b| b == b'@') {
            return true;
        }
    }
    false
}

/// Query parameter names that carry a credential, compared without case.
const SECRET_PARAMS: &[&[u8]] = &[
    b"key",
    b"sig",
    b"auth",
    b"authorization",
    b"pwd",
    b"jwt",
    b"credentials",
];

/// Suffixes of query parameter names that carry a credential, compared
/// without case: the whole name, or the end of it after `_`, `-` or `.`
/// (`access_token`, `X-Amz-Signature`, `client_secret`).
const SECRET_PARAM_SUFFIXES: &[&[u8]] = &[
    b"token",
    b"secret",
    b"password",
    b"passwd",
    b"signature",
    b"credential",
    b"apikey",
    b"api_key",
    b"api-key",
    b"access_key",
    b"secret_key",
    b"private_key",
];

fn is_secret_param(name: &[u8]) -> bool {
    if SECRET_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p)) {
        return true;
    }
    SECRET_PARAM_SUFFIXES.iter().any(|suffix| {
        name.len() >= suffix.len() && {
            let (head, tail) = name.split_at(name.len() - suffix.len());
            tail.eq_ignore_ascii_case(suffix)
                && head.last().is_none_or(|b| matches!(b, b'_' | b'-' | b'.'))
        }
    })
}

/// `?token=…`, `&api_key=…`, `#access_token=…` with a non-empty value.
pub(super) fn secret_query(s: &[u8]) -> bool {
    for (at, &b) in s.iter().enumerate() {
        if !matches!(b, b'?' | b'&' | b'#' | b';') {
            continue;
        }
        let rest = &s[at + 1..];
        let name = run_len(rest, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
        });
        let value = rest
            .get(name + 1)
            .is_some_and(|&b| !matches!(b, b'&' | b'#' | b';') && !b.is_ascii_whitespace());
        if name > 0 && rest.get(name) == Some(&b'=') && value && is_secret_param(&rest[..name]) {
            return true;
        }
    }
    false
}
