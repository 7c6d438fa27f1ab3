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
/// digits, vowels, base64 punctuation) in the low five bits, and above them
/// the punctuation and letters that single detectors look for.
const DIGIT: u16 = bytes::DIGIT as u16;
const UPPER: u16 = bytes::UPPER as u16;
const SLASH: u16 = 1 << 8;
const BACKSLASH: u16 = 1 << 9;
const TILDE: u16 = 1 << 10;
const AT: u16 = 1 << 11;
const DOT: u16 = 1 << 12;
const COLON: u16 = 1 << 13;
/// `?`, `&`, `#`, `;`: what comes before a query parameter.
const QUERY: u16 = 1 << 14;
const EQUALS: u16 = 1 << 15;

/// `_`, `-`, `+` and `/`, one of which every lowercase secret prefix holds.
const TOKEN_PUNCTUATION: u16 = bytes::TOKEN_PUNCTUATION as u16;
/// `-`, which a MAC address of lowercase letters holds (`ab-cd-ef-…`).
const DASH: u16 = 1 << 5;
/// `w` and `W`, which `password`, `passwd` and `pwd` hold.
const LETTER_W: u16 = 1 << 6;
/// `z` and `Z`, which `authorization` holds, and few other words do.
const LETTER_Z: u16 = 1 << 7;

/// Every class some detector needs besides length (`LETTER_Z` only with the
/// length of an `Authorization` header, see [`detect`]).
const TRIGGERS: u16 = SLASH | BACKSLASH | TILDE | AT | DOT | COLON | QUERY | EQUALS | DIGIT | UPPER;

/// The class of every byte.
static CLASSES: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
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
            _ => 0,
        };
        table[b] = bytes::KIND_TABLE[b] as u16 | punctuation;
        b += 1;
    }
    table
}

/// The classes of the bytes of `s`, combined.
fn classify(s: &[u8]) -> u16 {
    let class = |seen, &b: &u8| seen | CLASSES[usize::from(b)];
    // Eight bytes a step, which the compiler unrolls.
    let mut chunks = s.chunks_exact(8);
    let seen = (&mut chunks).fold(0, |seen, chunk| chunk.iter().fold(seen, class));
    chunks.remainder().iter().fold(seen, class)
}

/// The first detector, in [`Detector::ALL`] order, that fires on `text`.
#[inline]
pub(super) fn detect(text: &str) -> Option<Detector> {
    let seen = classify(text.as_bytes());
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

fn detect_slow(text: &str, seen: u16) -> Option<Detector> {
    let has = |flags: u16| seen & flags == flags;
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
