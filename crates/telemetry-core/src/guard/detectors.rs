//! The detectors themselves: hand-written scanners over the bytes of one
//! string. The rules are documented on [`Detector`]; this file is how they run.
//!
//! A first pass ORs together the classes of the string's bytes (is there a
//! `/`, an `@`, a `:`, a digit …); a detector runs only when the bytes it
//! needs are present and the string is long enough for it to fire, so that a
//! short label (`"rust"`, `"dot_product"`) costs that one pass.

use super::Detector;

/// Byte classes, as bit flags.
const SLASH: u16 = 1;
const BACKSLASH: u16 = 1 << 1;
const TILDE: u16 = 1 << 2;
const AT: u16 = 1 << 3;
const DOT: u16 = 1 << 4;
const COLON: u16 = 1 << 5;
/// `?`, `&`, `#`, `;`: what comes before a query parameter.
const QUERY: u16 = 1 << 6;
const EQUALS: u16 = 1 << 7;
const DIGIT: u16 = 1 << 8;
const UPPER: u16 = 1 << 9;
/// `_` and `-`, which every lowercase secret prefix holds.
const JOINER: u16 = 1 << 10;

/// The class of every byte.
static CLASSES: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation, reason = "b < 256")]
        let byte = b as u8;
        table[b] = match byte {
            b'/' => SLASH,
            b'\\' => BACKSLASH,
            b'~' => TILDE,
            b'@' => AT,
            b'.' => DOT,
            b':' => COLON,
            b'?' | b'&' | b'#' | b';' => QUERY,
            b'=' => EQUALS,
            b'0'..=b'9' => DIGIT,
            b'A'..=b'Z' => UPPER,
            b'_' | b'-' => JOINER,
            _ => 0,
        };
        b += 1;
    }
    table
}

/// Token characters required after a known secret prefix.
const MIN_SECRET_SUFFIX: usize = 8;
/// Token characters looked at after a known secret prefix.
const MAX_SECRET_SUFFIX: usize = 256;
/// Shortest string in which a known secret prefix can fire: a
/// three-character prefix (`sk-`, `hf_`) and the suffix.
const MIN_SECRET_LEN: usize = 3 + MIN_SECRET_SUFFIX;
/// Shortest first segment of a JWT: `eyJ` and the rest of a minimal header.
const MIN_JWT_HEADER: usize = 10;
/// Shortest JWT: header, `.`, a two-character payload, `.`.
const MIN_JWT_LEN: usize = MIN_JWT_HEADER + 4;
/// Shortest run judged by the entropy detector.
const MIN_ENTROPY_RUN: usize = 32;

/// The classes of the bytes of `s`, combined.
fn classify(s: &[u8]) -> u16 {
    s.iter().fold(0, |seen, &b| seen | CLASSES[usize::from(b)])
}

/// The first detector, in [`Detector::ALL`] order, that fires on `s`.
#[inline]
pub(super) fn detect(s: &[u8]) -> Option<Detector> {
    let seen = classify(s);
    // Most keys and labels (`dot_product`, `gpu`): no byte any detector
    // needs, and too short for the entropy detector.
    if seen & TRIGGERS == 0 && s.len() < MIN_ENTROPY_RUN {
        return None;
    }
    detect_slow(s, seen)
}

/// Every class some detector needs besides length.
const TRIGGERS: u16 = SLASH | BACKSLASH | TILDE | AT | DOT | COLON | QUERY | EQUALS | DIGIT | UPPER;

fn detect_slow(s: &[u8], seen: u16) -> Option<Detector> {
    let has = |flags: u16| seen & flags == flags;
    let len = s.len();
    // The most common long strings of a payload, which nothing can match.
    if (len == 32 || len == 36) && (is_digest(s) || is_uuid(s)) {
        return None;
    }

    if (has(COLON | SLASH | AT) && url_userinfo(s)) || (has(QUERY | EQUALS) && secret_query(s)) {
        return Some(Detector::UrlCredentials);
    }
    if has(AT | DOT) && email(s) {
        return Some(Detector::Email);
    }
    if (has(BACKSLASH) || has(COLON | SLASH)) && windows_path(s) {
        return Some(Detector::WindowsPath);
    }
    if has(SLASH) && unix_path(s) {
        return Some(Detector::UnixPath);
    }
    if has(TILDE) && seen & (SLASH | BACKSLASH) != 0 && home_path(s) {
        return Some(Detector::HomePath);
    }
    if has(DOT | UPPER) && len >= MIN_JWT_LEN && jwt(s) {
        return Some(Detector::Jwt);
    }
    // A key needs an uppercase prefix (`AKIA`), or a prefix with `_` or `-`
    // and a digit or uppercase letter after it.
    let secret_bytes = has(UPPER) || (has(JOINER) && has(DIGIT));
    if secret_bytes && len >= MIN_SECRET_LEN && secret_prefix(s) {
        return Some(Detector::SecretPrefix);
    }
    if has(DOT | DIGIT) && len >= 7 && ipv4(s) {
        return Some(Detector::Ipv4);
    }
    if has(COLON | DIGIT) && len >= 3 && ipv6(s) {
        return Some(Detector::Ipv6);
    }
    if len >= MIN_ENTROPY_RUN && high_entropy(s) {
        return Some(Detector::HighEntropy);
    }
    None
}

// ---------------------------------------------------------------------------
// Byte predicates.

/// Part of a word: an ASCII letter or digit, `_`, or any byte of a non-ASCII
/// character.
const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// A byte that, right before a `/`, `\` or `~`, makes it part of a larger
/// token (`and/or`, `text/plain`, `./x`, `%APPDATA%\x`) rather than the start
/// of a path.
const fn continues_token(b: u8) -> bool {
    is_word(b) || matches!(b, b'-' | b'.' | b'~' | b'+' | b'%' | b'\\' | b'/')
}

/// A byte that can start a path segment.
const fn starts_segment(b: u8) -> bool {
    is_word(b) || matches!(b, b'.' | b'-' | b'~' | b'@' | b'$' | b'+' | b'%')
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

/// The alphabet of a token run: base64 and base64url without padding.
const fn is_token(b: u8) -> bool {
    is_base64url(b) || b == b'+' || b == b'/'
}

/// base64url: ASCII letters, digits, `_`, `-`.
const fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Position of the first `byte` in `s` at or after `from`.
fn find(s: &[u8], from: usize, byte: u8) -> Option<usize> {
    s.get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|at| at + from)
}

/// Length of the run at the start of `s` whose bytes satisfy `pred`.
fn run_len(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| pred(b)).count()
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
        let opens = match at.checked_sub(1).map(|before| s[before]) {
            None => true,
            // `scheme://authority/…` is a URL, not a path; `host:/path` and
            // `file:///path` are paths.
            Some(b':') => sep != b'/' || end - at != 2,
            Some(b) => !continues_token(b),
        };
        if opens && two_segments(s, at, sep) {
            return true;
        }
        i = end;
    }
    false
}

// ---------------------------------------------------------------------------
// Paths.

fn unix_path(s: &[u8]) -> bool {
    rooted_path(s, b'/')
}

fn windows_path(s: &[u8]) -> bool {
    // A drive: `C:\x`, `c:/x`, standing alone (not `ab:/x`).
    let mut i = 0;
    while let Some(colon) = find(s, i, b':') {
        let drive = colon >= 1
            && s[colon - 1].is_ascii_alphabetic()
            && (colon == 1 || !is_word(s[colon - 2]));
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

fn home_path(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(tilde) = find(s, i, b'~') {
        i = tilde + 1;
        if tilde > 0 && continues_token(s[tilde - 1]) && s[tilde - 1] != b'/' {
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

// ---------------------------------------------------------------------------
// E-mail, URLs.

/// A byte of the local part of an address (RFC 5322 `atext`, and `.`).
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// A byte of a domain label.
const fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80
}

fn email(s: &[u8]) -> bool {
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

/// `scheme://user@host`, `scheme://user:password@host`.
fn url_userinfo(s: &[u8]) -> bool {
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
fn secret_query(s: &[u8]) -> bool {
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

// ---------------------------------------------------------------------------
// Secrets.

/// Prefixes of well-known API keys and access tokens, case-sensitive,
/// grouped by first byte. Each must be followed by [`MIN_SECRET_SUFFIX`]
/// token characters that look random (see [`random_suffix`]). `xox?-`
/// (Slack) and `AKIA`/`ASIA` (AWS) are matched in [`secret_prefix`].
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

fn secret_prefix(s: &[u8]) -> bool {
    (0..s.len()).any(|at| {
        if at > 0 && s[at - 1].is_ascii_alphanumeric() {
            return false;
        }
        let rest = &s[at..];
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
    })
}

/// `eyJ…` (a base64url JSON object), `.`, a second segment, `.`, and an
/// optional third (empty for unsigned tokens).
fn jwt(s: &[u8]) -> bool {
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

// ---------------------------------------------------------------------------
// IP addresses.

fn ipv4(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let opens = i == 0 || !(is_word(s[i - 1]) || s[i - 1] == b'.');
        if opens && dotted_quad(&s[i..]) {
            return true;
        }
        i += run_len(&s[i..], |b| b.is_ascii_digit());
    }
    false
}

/// Whether `s` starts with four decimal numbers of 1 to 3 digits, each at
/// most 255, joined by dots, and not followed by a word byte or a fifth part.
fn dotted_quad(s: &[u8]) -> bool {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if s.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
        let digits = run_len(&s[i..], |b| b.is_ascii_digit());
        if !(1..=3).contains(&digits) {
            return false;
        }
        let octet = s[i..i + digits]
            .iter()
            .fold(0_u16, |n, &d| n * 10 + u16::from(d - b'0'));
        if octet > 255 {
            return false;
        }
        i += digits;
    }
    match s.get(i) {
        None => true,
        Some(b'.') => !s.get(i + 1).is_some_and(u8::is_ascii_digit),
        Some(&b) => !is_word(b),
    }
}

const fn is_hex_or_colon(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':'
}

fn ipv6(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if !is_hex_or_colon(s[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut colons = 0;
        while let Some(&b) = s.get(i).filter(|&&b| is_hex_or_colon(b)) {
            colons += usize::from(b == b':');
            i += 1;
        }
        let run = &s[start..i];
        let bounded = (start == 0 || !is_word(s[start - 1]))
            && s.get(i).is_none_or(|&b| !is_word(b) && b != b'.');
        if bounded && colons >= 2 && run.iter().any(u8::is_ascii_digit) && ipv6_groups(run) {
            return true;
        }
    }
    false
}

/// Whether `run` (hex digits and colons) is an IPv6 address: eight groups of
/// 1 to 4 hex digits, or at most seven around a single `::`.
fn ipv6_groups(run: &[u8]) -> bool {
    match run.windows(2).position(|pair| pair == b"::") {
        Some(at) => match (groups(&run[..at]), groups(&run[at + 2..])) {
            (Some(left), Some(right)) => left + right <= 7,
            _ => false,
        },
        None => groups(run) == Some(8),
    }
}

/// The number of `:`-separated groups of 1 to 4 hex digits in `part`, or
/// `None` when a group is empty or too long.
fn groups(part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    for group in part.split(|&b| b == b':') {
        if !(1..=4).contains(&group.len()) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

// ---------------------------------------------------------------------------
// High entropy.

fn high_entropy(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let len = run_len(&s[i..], is_token);
        if len >= MIN_ENTROPY_RUN && looks_random(&s[i..i + len]) {
            return true;
        }
        i += len.max(1);
    }
    false
}

/// Whether `run` is exactly a keyed digest as this crate writes it:
/// 32 lowercase hex digits.
fn is_digest(run: &[u8]) -> bool {
    run.len() == 32 && run.iter().all(|&b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `run` is exactly a UUID in its hyphenated form (8-4-4-4-12 hex).
fn is_uuid(run: &[u8]) -> bool {
    run.len() == 36
        && run.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Shannon entropy of `run`, in bits per byte.
fn entropy(run: &[u8]) -> f64 {
    let mut counts = [0_u32; 128];
    for &b in run {
        let count = &mut counts[usize::from(b & 0x7f)];
        *count = count.saturating_add(1);
    }
    #[allow(clippy::cast_precision_loss, reason = "lengths far below 2^52")]
    let n = run.len() as f64;
    let sum: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            c * c.log2()
        })
        .sum();
    n.log2() - sum / n
}

/// Whether a run of 32 or more token characters looks like a random token
/// rather than words; the thresholds are explained on [`Detector::HighEntropy`].
fn looks_random(run: &[u8]) -> bool {
    if is_digest(run) || is_uuid(run) {
        return false;
    }
    if run.iter().all(u8::is_ascii_hexdigit) {
        return entropy(run) >= 3.0;
    }
    // Words split into few, long pieces and hold vowels; random text splits
    // into many short pieces (at separators, lower-to-upper case and
    // letter-to-digit changes) and has few vowels. Checked before the
    // entropy, which costs more.
    let mut pieces = 0_usize;
    let mut alnum = 0_usize;
    let mut letters = 0_usize;
    let mut vowels = 0_usize;
    let mut previous: Option<u8> = None;
    for &b in run {
        if !b.is_ascii_alphanumeric() {
            previous = None;
            continue;
        }
        alnum += 1;
        if b.is_ascii_alphabetic() {
            letters += 1;
            vowels += usize::from(matches!(
                b.to_ascii_lowercase(),
                b'a' | b'e' | b'i' | b'o' | b'u'
            ));
        }
        let new_piece = previous.is_none_or(|p| {
            (p.is_ascii_lowercase() && b.is_ascii_uppercase())
                || p.is_ascii_digit() != b.is_ascii_digit()
        });
        pieces += usize::from(new_piece);
        previous = Some(b);
    }
    (alnum <= 3 * pieces || 4 * vowels < letters) && entropy(run) >= 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_simple_runs() {
        assert!(entropy(b"aaaa").abs() < 1e-12);
        assert!((entropy(b"abab") - 1.0).abs() < 1e-12);
        assert!((entropy(b"0123456789abcdef") - 4.0).abs() < 1e-12);
    }

    #[test]
    fn ipv6_group_counting() {
        assert!(ipv6_groups(b"::1"));
        assert!(ipv6_groups(b"1:2:3:4:5:6:7:8"));
        assert!(!ipv6_groups(b"1:2:3:4:5:6:7"));
        assert!(!ipv6_groups(b"1:2:3:4:5:6:7:8:9"));
        assert!(!ipv6_groups(b"1::2::3"));
        assert!(!ipv6_groups(b":::1"));
        assert!(!ipv6_groups(b"1:2:3:4::5:6:7:8"));
        assert!(!ipv6_groups(b"12345::1"));
    }

    #[test]
    fn digest_and_uuid_shapes() {
        assert!(is_digest(b"d04b64e508b084d7952a0f23f1e4c705"));
        assert!(!is_digest(b"D04B64E508B084D7952A0F23F1E4C705"));
        assert!(is_uuid(b"550e8400-e29b-41d4-a716-446655440000"));
        assert!(!is_uuid(b"550e8400e29b-41d4-a716-446655440000-"));
    }
}
