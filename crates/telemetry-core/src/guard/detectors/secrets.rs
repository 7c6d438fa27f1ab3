//! Secrets with a known shape:
//! [`Detector::SecretPrefix`](crate::guard::Detector::SecretPrefix) (the
//! prefixes of well-known API keys and tokens) and
//! [`Jwt`](crate::guard::Detector::Jwt). Secrets without one are left to
//! [`entropy`](super::entropy).

use super::bytes::{ALNUM, find, is_base64url, kind, run_len};

/// Token characters required after a known secret prefix.
const MIN_SECRET_SUFFIX: usize = 8;
/// Token characters looked at after a known secret prefix.
const MAX_SECRET_SUFFIX: usize = 256;
/// Shortest string in which a known secret prefix can fire: a
/// three-character prefix (`sk-`, `hf_`) and the suffix.
pub(super) const MIN_PREFIXED_LEN: usize = 3 + MIN_SECRET_SUFFIX;
/// Shortest first segment of a JWT: `eyJ` and the rest of a minimal header.
const MIN_JWT_HEADER: usize = 10;
/// Shortest JWT: header, `.`, a two-character payload, `.`.
pub(super) const MIN_JWT_LEN: usize = MIN_JWT_HEADER + 4;

/// Prefixes of well-known API keys and access tokens, case-sensitive,
/// grouped by first byte. Each must be followed by [`MIN_SECRET_SUFFIX`]
/// token characters that look random (see [`random_suffix`]). `xox?-`
/// (Slack) and `AKIA`/`ASIA` (AWS) are matched in [`prefixed_key`].
fn prefixes(first: u8) -> &'static [&'static [u8]] {
    match first {
        // PostHog project and personal keys; PyPI.
        b'p' => &[b"phc_", b"phx_", b"pypi-"],
        // OpenAI, Anthropic (`sk-ant-`) …; Stripe; Shopify.
        b's' => &[b"sk-", b"sk_live_", b"sk_test_", b"shpat_"],
        // Stripe restricted keys.
        b'r' => &[b"rk_live_", b"rk_test_"],
        // Stripe webhook secrets.
        b'w' => &[b"whsec_"],
        // GitHub; GitLab.
        b'g' => &[
            b"ghp_",
            b"gho_",
            b"ghs_",
            b"ghu_",
            b"ghr_",
            b"github_pat_",
            b"glpat-",
        ],
        // Slack apps.
        b'x' => &[b"xapp-"],
        // Hugging Face.
        b'h' => &[b"hf_"],
        // npm.
        b'n' => &[b"npm_"],
        // DigitalOcean.
        b'd' => &[b"dop_v1_"],
        // Google API keys.
        b'A' => &[b"AIza"],
        _ => &[],
    }
}

/// Whether the token characters at the start of `s` look like the random
/// part of a key: at least [`MIN_SECRET_SUFFIX`] of them, with a digit or
/// with both upper- and lowercase letters (so `sk-learn-pipeline` passes).
fn random_suffix(s: &[u8]) -> bool {
    // Real keys are far shorter than the cap, which keeps `sk-sk-sk-…` linear.
    let s = &s[..s.len().min(MAX_SECRET_SUFFIX)];
    let token = &s[..run_len(s, is_base64url)];
    token.len() >= MIN_SECRET_SUFFIX
        && (token.iter().any(u8::is_ascii_digit)
            || (token.iter().any(u8::is_ascii_uppercase)
                && token.iter().any(u8::is_ascii_lowercase)))
}

pub(super) fn secret_prefix(s: &[u8]) -> bool {
    // A prefix must not follow a letter or digit, so only the start of each
    // token is tried: the start of `s`, and the byte after each byte that
    // is neither; and only where a key can start.
    let mut at = 0;
    while at < s.len() {
        if can_start_key(s[at]) && prefixed_key(&s[at..]) {
            return true;
        }
        at += run_len(&s[at..], |b| kind(b) & ALNUM != 0) + 1;
    }
    false
}

/// Whether a key can start with `first`: the first byte of a prefix of
/// [`prefixes`], `AKIA`, `ASIA` or `xox`. A cheap test before
/// [`prefixed_key`].
const fn can_start_key(first: u8) -> bool {
    matches!(
        first,
        b'p' | b's' | b'r' | b'w' | b'g' | b'x' | b'h' | b'n' | b'd' | b'A'
    )
}

/// Whether `rest` starts with a known prefix and the random part of a key.
fn prefixed_key(rest: &[u8]) -> bool {
    // AWS access key id: `AKIA` or `ASIA` and 16 uppercase letters or digits.
    if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
        let id = &rest[4..rest.len().min(20)];
        return run_len(id, |b| b.is_ascii_uppercase() || b.is_ascii_digit()) == 16;
    }
    // Slack: `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`.
    if rest.starts_with(b"xox")
        && rest.get(3).is_some_and(u8::is_ascii_lowercase)
        && rest.get(4) == Some(&b'-')
    {
        return random_suffix(&rest[5..]);
    }
    prefixes(rest[0]).iter().any(|prefix| {
        // The second byte first: a cheap reject before comparing all.
        rest.get(1) == prefix.get(1)
            && rest.starts_with(prefix)
            && random_suffix(&rest[prefix.len()..])
    })
}

/// `eyJ…` (a base64url JSON object), `.`, a second segment, `.`, and an
/// optional third (empty for unsigned tokens).
pub(super) fn jwt(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(e) = find(s, i, b'e') {
        i = e + 1;
        if !s[e..].starts_with(b"eyJ") || (e > 0 && is_base64url(s[e - 1])) {
            continue;
        }
        let header = run_len(&s[e..], is_base64url);
        let dot = e + header;
        if header < MIN_JWT_HEADER || s.get(dot) != Some(&b'.') {
            continue;
        }
        let payload = run_len(&s[dot + 1..], is_base64url);
        if payload >= 2 && s.get(dot + 1 + payload) == Some(&b'.') {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_starts_with_a_byte_that_can_start_a_key() {
        for first in 0..=u8::MAX {
            if !can_start_key(first) {
                assert!(prefixes(first).is_empty(), "{first}");
            }
            for prefix in prefixes(first) {
                assert_eq!(prefix[0], first);
            }
        }
        for special in [b"AKIA", b"ASIA", b"xoxb", b"AIza"] {
            assert!(can_start_key(special[0]));
        }
    }
}
