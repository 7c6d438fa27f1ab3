//! The detectors themselves: hand-written scanners over the bytes of one
//! string, one module per family of values. The rules are documented on
//! [`Detector`]; these files are how they run.
//!
//! - [`paths`]: Unix, Windows and home-directory paths;
//! - [`url`]: URLs with user info or a credential parameter;
//! - [`credentials`]: `Authorization` headers and password assignments;
//! - [`email`]: e-mail addresses;
//! - [`network`]: IPv4, IPv6 and MAC addresses;
//! - [`secrets`]: known API key prefixes and JSON Web Tokens;
//! - [`payment`]: card numbers and IBANs;
//! - [`entropy`]: random-looking tokens, and the digests and UUIDs that pass;
//! - [`bytes`]: what they share: what counts as part of a word (the boundary
//!   every detector checks before and after a match), the base64url
//!   alphabet, and finding and measuring runs of bytes.
//!
//! A first pass ORs together the classes of the string's bytes (is there a
//! `/`, an `@`, a `:`, a digit …); a detector runs only when the bytes it
//! needs are present and the string is long enough for it to fire, so that a
//! short label (`"rust"`, `"dot_product"`) costs that one pass.

mod bytes;
mod credentials;
mod email;
mod entropy;
mod network;
mod paths;
mod payment;
mod secrets;
mod url;

pub use entropy::is_hash_digest;

use super::Detector;

/// Byte classes, as bit flags: the byte kinds of [`bytes`] (letters,
/// digits, vowels, base64 punctuation) in the low five bits, above them
/// the punctuation and letters that single detectors look for, and
/// [`ESCAPED`], which no detector needs.
const DIGIT: u32 = bytes::DIGIT as u32;
const UPPER: u32 = bytes::UPPER as u32;
const SLASH: u32 = 1 << 8;
const BACKSLASH: u32 = 1 << 9;
const TILDE: u32 = 1 << 10;
const AT: u32 = 1 << 11;
const DOT: u32 = 1 << 12;
const COLON: u32 = 1 << 13;
/// `?`, `&`, `#`, `;`: what comes before a query parameter.
const QUERY: u32 = 1 << 14;
const EQUALS: u32 = 1 << 15;
/// `"` and the control characters (below U+0020): with `\`, the bytes that
/// JSON writes escaped inside a string. Not a trigger: the writer of
/// [`write_json`](super::write_json) learns from the same pass whether a
/// string can be copied as it is.
const ESCAPED: u32 = 1 << 16;

/// `_`, `-`, `+` and `/`, one of which every lowercase secret prefix holds.
const TOKEN_PUNCTUATION: u32 = bytes::TOKEN_PUNCTUATION as u32;
/// `-`, which a MAC address of lowercase letters holds (`ab-cd-ef-…`).
const DASH: u32 = 1 << 5;
/// `w` and `W`, which `password`, `passwd` and `pwd` hold.
const LETTER_W: u32 = 1 << 6;
/// `z` and `Z`, which `authorization` holds, and few other words do.
const LETTER_Z: u32 = 1 << 7;

/// Every class some detector needs besides length (`LETTER_Z` only with the
/// length of an `Authorization` header, see [`detect`]).
const TRIGGERS: u32 = SLASH | BACKSLASH | TILDE | AT | DOT | COLON | QUERY | EQUALS | DIGIT | UPPER;

/// The class of every byte.
static CLASSES: [u32; 256] = classes();

const fn classes() -> [u32; 256] {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        #[allow(clippy::cast_possible_truncation, reason = "b < 256")]
        let byte = b as u8;
        let punctuation = match byte {
            b'/' => SLASH,
            b'\\' => BACKSLASH,
            b'~' => TILDE,
            b'@' => AT,
            b'.' => DOT,
            b':' => COLON,
            b'?' | b'&' | b'#' | b';' => QUERY,
            b'=' => EQUALS,
            b'-' => DASH,
            b'w' | b'W' => LETTER_W,
            b'z' | b'Z' => LETTER_Z,
            b'"' | 0x00..=0x1f => ESCAPED,
            _ => 0,
        };
        table[b] = bytes::KIND_TABLE[b] as u32 | punctuation;
        b += 1;
    }
    table
}

/// The classes of the bytes of `s`, combined.
fn classify(s: &[u8]) -> u32 {
    let class = |seen, &b: &u8| seen | CLASSES[usize::from(b)];
    // Eight bytes a step, which the compiler unrolls.
    let mut chunks = s.chunks_exact(8);
    let seen = (&mut chunks).fold(0, |seen, chunk| chunk.iter().fold(seen, class));
    chunks.remainder().iter().fold(seen, class)
}

/// The first detector, in [`Detector::ALL`] order, that fires on `text`.
#[inline]
pub(super) fn detect(text: &str) -> Option<Detector> {
    detect_classified(text, classify(text.as_bytes()))
}

/// [`detect`], and whether `text` holds a byte that a JSON string writes
/// escaped (`"`, `\`, a control character), from the same pass over it.
#[inline]
pub(super) fn detect_json_string(text: &str) -> (Option<Detector>, bool) {
    let seen = classify(text.as_bytes());
    (
        detect_classified(text, seen),
        seen & (ESCAPED | BACKSLASH) != 0,
    )
}

/// [`detect`], given the classes of `text`'s bytes.
#[inline]
fn detect_classified(text: &str, seen: u32) -> Option<Detector> {
    // Most keys and labels (`dot_product`, `median_response_ms`, `size`):
    // no byte any detector needs, and too short for the entropy detector,
    // for a MAC address of lowercase letters and dashes
    // (`ab-cd-ef-ab-cd-ef`), or for an `Authorization` header.
    let len = text.len();
    if seen & TRIGGERS == 0
        && (seen & LETTER_Z == 0 || len < credentials::MIN_AUTHORIZATION_LEN)
        && (len < network::MAC_LEN || (seen & DASH == 0 && len < entropy::MIN_RUN))
    {
        return None;
    }
    detect_slow(text, seen)
}

fn detect_slow(text: &str, seen: u32) -> Option<Detector> {
    let has = |flags: u32| seen & flags == flags;
    let s = text.as_bytes();
    let len = s.len();
    // The most common long strings of a payload, which nothing can match.
    if (len == 32 || len == 36) && (is_hash_digest(text) || entropy::is_uuid(s)) {
        return None;
    }

    if (has(COLON | SLASH | AT) && url::userinfo(s))
        || (has(QUERY | EQUALS) && url::secret_query(s))
    {
        return Some(Detector::UrlCredentials);
    }
    if has(LETTER_Z) && len >= credentials::MIN_AUTHORIZATION_LEN && credentials::authorization(s) {
        return Some(Detector::Authorization);
    }
    if has(LETTER_W)
        && seen & (EQUALS | COLON) != 0
        && len >= credentials::MIN_PASSWORD_LEN
        && credentials::password(s)
    {
        return Some(Detector::Password);
    }
    if has(AT | DOT) && email::email(s) {
        return Some(Detector::Email);
    }
    if (has(BACKSLASH) || has(COLON | SLASH)) && paths::windows_path(s) {
        return Some(Detector::WindowsPath);
    }
    if has(SLASH) && paths::unix_path(s) {
        return Some(Detector::UnixPath);
    }
    if has(TILDE) && seen & (SLASH | BACKSLASH) != 0 && paths::home_path(s) {
        return Some(Detector::HomePath);
    }
    if has(DOT | UPPER) && len >= secrets::MIN_JWT_LEN && secrets::jwt(s) {
        return Some(Detector::Jwt);
    }
    // A key needs an uppercase prefix (`AKIA`), or a prefix with `_` or `-`
    // and a digit or uppercase letter after it.
    let secret_bytes = has(UPPER) || (has(TOKEN_PUNCTUATION) && has(DIGIT));
    if secret_bytes && len >= secrets::MIN_PREFIXED_LEN && secrets::secret_prefix(s) {
        return Some(Detector::SecretPrefix);
    }
    if has(DIGIT) && len >= payment::MIN_CARD_LEN && payment::credit_card(s) {
        return Some(Detector::CreditCard);
    }
    if has(DIGIT) && len >= payment::MIN_IBAN_LEN && payment::iban(s) {
        return Some(Detector::Iban);
    }
    if has(DOT | DIGIT) && len >= network::MIN_IPV4_LEN && network::ipv4(s) {
        return Some(Detector::Ipv4);
    }
    if has(COLON | DIGIT) && len >= network::MIN_IPV6_LEN && network::ipv6(s) {
        return Some(Detector::Ipv6);
    }
    if seen & (COLON | DASH) != 0 && len >= network::MAC_LEN && network::mac_address(s) {
        return Some(Detector::MacAddress);
    }
    if len >= entropy::MIN_RUN && entropy::high_entropy(text) {
        return Some(Detector::HighEntropy);
    }
    None
}
