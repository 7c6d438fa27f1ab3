//! Keyed hashing: the `Anonymizer` behind `#[telemetry(hash)]`.
//!
//! A plain SHA-256 of a path or a model name can be reversed by guessing the
//! input, so every hash is an HMAC-SHA256 keyed with a secret the server never
//! sees. Two scopes exist:
//!
//! - [`HashScope::Installation`] (the default): a random key per installation.
//!   The same value hashes the same within one installation and to unrelated
//!   digests elsewhere, so a server can count distinct repositories per user
//!   but cannot match them across users.
//! - [`HashScope::App`]: a key the application chooses and ships, for values
//!   that must match across installations (a public model name, say).
//!
//! Digests are truncated to 128 bits and rendered as 32 lowercase hex digits.
//! The keyed HMAC state is computed once per key, so hashing a short value
//! costs one SHA-256 compression more than a plain SHA-256 of it.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A 32-byte secret key for keyed hashing.
///
/// `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey([u8; HashKey::LEN]);

impl HashKey {
    /// Length of a key in bytes.
    pub const LEN: usize = 32;

    /// Wraps existing key bytes, for a key loaded from storage or chosen by the
    /// application.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Draws a fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, KeyGenerationError> {
        let mut bytes = [0u8; Self::LEN];
        getrandom::fill(&mut bytes).map_err(KeyGenerationError)?;
        Ok(Self(bytes))
    }

    /// The key bytes, for persisting the key. Handle with care.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The key as 64 lowercase hex digits, for persisting it. Handle with
    /// care.
    #[must_use]
    pub fn to_hex(&self) -> String {
        let mut out = [0u8; Self::LEN * 2];
        encode_hex(&self.0, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reads a key written by [`to_hex`](Self::to_hex): exactly 64 hex
    /// digits, either case.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != Self::LEN * 2 {
            return None;
        }
        let mut key = [0u8; Self::LEN];
        for (byte, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16);
            #[allow(clippy::cast_possible_truncation, reason = "two hex digits fit a byte")]
            let value = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
            *byte = value;
        }
        Some(Self(key))
    }
}

/// Writes `bytes` as lowercase hex into `out`, two digits a byte; `out` is
/// twice as long as `bytes`. The one hex encoder of the toolkit: digests and
/// keys both use it, and it allocates nothing.
fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

/// The two hex digits of every byte: one table read a byte.
static HEX_PAIRS: [[u8; 2]; 256] = hex_pairs();

const fn hex_pairs() -> [[u8; 2]; 256] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0; 2]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [DIGITS[b >> 4], DIGITS[b & 0x0f]];
        b += 1;
    }
    table
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey([redacted])")
    }
}

/// The operating system's random number generator failed.
#[derive(Debug)]
pub struct KeyGenerationError(getrandom::Error);

impl fmt::Display for KeyGenerationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not draw a hashing key from the OS random number generator: {}",
            self.0
        )
    }
}

impl std::error::Error for KeyGenerationError {}

/// Which key a `#[telemetry(hash)]` field is hashed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashScope {
    /// The per-installation key: digests match only within one installation.
    /// Written `#[telemetry(hash)]` or `#[telemetry(hash(scope = "installation"))]`.
    Installation,
    /// The application-wide key: digests match across installations.
    /// Written `#[telemetry(hash(scope = "app"))]`.
    App,
}

impl HashScope {
    /// The name used in attributes and in the data dictionary.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Installation => "installation",
            Self::App => "app",
        }
    }
}

impl fmt::Display for HashScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value was to be hashed with the application-wide key, but the
/// [`Anonymizer`] has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingAppKey;

impl fmt::Display for MissingAppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "hash scope `app` needs an application-wide key; set one with Anonymizer::with_app_key",
        )
    }
}

impl std::error::Error for MissingAppKey {}

/// A truncated (128-bit) keyed digest. Serializes as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashDigest([u8; HashDigest::LEN]);

impl HashDigest {
    /// Length of a digest in bytes.
    pub const LEN: usize = 16;

    /// The digest bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// Hex-encodes into a stack buffer, so serializing a digest allocates nothing.
    fn hex(&self) -> HexBuf {
        let mut out = [0u8; Self::LEN * 2];
        encode_hex(&self.0, &mut out);
        HexBuf(out)
    }
}

struct HexBuf([u8; HashDigest::LEN * 2]);

impl HexBuf {
    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for HashDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex().as_str())
    }
}

impl fmt::Debug for HashDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashDigest({self})")
    }
}

impl serde::Serialize for HashDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.hex().as_str())
    }
}

/// Hashes values with the installation key and, when set, the app-wide key.
///
/// Build one per installation and reuse it: the keyed HMAC state is computed
/// once here, not per value. `Debug` never shows a key.
///
/// ```
/// use telemetry_core::{Anonymizer, HashKey, HashScope};
///
/// let anonymizer = Anonymizer::new(&HashKey::from_bytes([7; 32]));
/// let a = anonymizer.hash(HashScope::Installation, b"/home/ana/project").unwrap();
/// let b = anonymizer.hash(HashScope::Installation, b"/home/ana/project").unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_string().len(), 32);
/// ```
#[derive(Clone)]
pub struct Anonymizer {
    installation: HmacSha256,
    app: Option<HmacSha256>,
}

impl Anonymizer {
    /// An anonymizer keyed with the per-installation key.
    #[must_use]
    pub fn new(installation_key: &HashKey) -> Self {
        Self {
            installation: keyed(installation_key),
            app: None,
        }
    }

    /// Adds the application-wide key used by `#[telemetry(hash(scope = "app"))]`.
    #[must_use]
    pub fn with_app_key(mut self, app_key: &HashKey) -> Self {
        self.app = Some(keyed(app_key));
        self
    }

    /// Whether an application-wide key is set.
    #[must_use]
    pub const fn has_app_key(&self) -> bool {
        self.app.is_some()
    }

    /// Hashes `bytes` with the key of `scope`.
    pub fn hash(&self, scope: HashScope, bytes: &[u8]) -> Result<HashDigest, MissingAppKey> {
        let state = match scope {
            HashScope::Installation => &self.installation,
            HashScope::App => self.app.as_ref().ok_or(MissingAppKey)?,
        };
        let mut mac = state.clone();
        mac.update(bytes);
        let full = mac.finalize().into_bytes();
        let mut digest = [0u8; HashDigest::LEN];
        digest.copy_from_slice(&full[..HashDigest::LEN]);
        Ok(HashDigest(digest))
    }
}

fn keyed(key: &HashKey) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail for 32 bytes.
    <HmacSha256 as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "the keyed states are shown redacted"
)]
impl fmt::Debug for Anonymizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anonymizer")
            .field("installation_key", &"[redacted]")
            .field("app_key", &self.app.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_hex_and_bad_hex_is_refused() {
        let key = HashKey::from_bytes(std::array::from_fn(|i| u8::try_from(i * 7).unwrap()));
        let hex = key.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.starts_with("00070e15"), "{hex}");
        assert_eq!(HashKey::from_hex(&hex), Some(key.clone()));
        assert_eq!(HashKey::from_hex(&hex.to_uppercase()), Some(key));
        for bad in [
            "",
            &hex[..62],
            &format!("{}zz", &hex[..62]),
            &format!("{hex}00"),
        ] {
            assert_eq!(HashKey::from_hex(bad), None, "{bad:?}");
        }
        assert_eq!(HashKey::from_hex(&"é".repeat(32)), None);
    }

    fn anonymizer(byte: u8) -> Anonymizer {
        Anonymizer::new(&HashKey::from_bytes([byte; 32]))
    }

    #[test]
    fn same_input_and_key_give_the_same_digest() {
        let a = anonymizer(1)
            .hash(HashScope::Installation, b"repo")
            .unwrap();
        let b = anonymizer(1)
            .hash(HashScope::Installation, b"repo")
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn different_keys_give_unrelated_digests() {
        let a = anonymizer(1)
            .hash(HashScope::Installation, b"repo")
            .unwrap();
        let b = anonymizer(2)
            .hash(HashScope::Installation, b"repo")
            .unwrap();
        assert_ne!(a, b);
        let shared = a
            .as_bytes()
            .iter()
            .zip(b.as_bytes())
            .filter(|(x, y)| x == y)
            .count();
        assert!(
            shared < 8,
            "digests under different keys share {shared} of 16 bytes"
        );
    }

    #[test]
    fn digest_is_the_truncated_hmac_sha256() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        // HashKey is 32 bytes, so pad the key with zeros, which HMAC does itself.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let digest = Anonymizer::new(&HashKey::from_bytes(key))
            .hash(HashScope::Installation, b"what do ya want for nothing?")
            .unwrap();
        assert_eq!(digest.to_string(), "5bdcc146bf60754e6a042426089575c7");
    }

    #[test]
    fn app_scope_uses_the_app_key_and_fails_without_one() {
        let plain = anonymizer(1);
        assert_eq!(plain.hash(HashScope::App, b"model"), Err(MissingAppKey));

        let app_key = HashKey::from_bytes([9; 32]);
        let one = anonymizer(1).with_app_key(&app_key);
        let two = anonymizer(2).with_app_key(&app_key);
        assert_eq!(
            one.hash(HashScope::App, b"model"),
            two.hash(HashScope::App, b"model")
        );
        assert_ne!(
            one.hash(HashScope::App, b"model"),
            one.hash(HashScope::Installation, b"model")
        );
    }

    #[test]
    fn debug_never_shows_a_key() {
        let key = HashKey::from_bytes([0xab; 32]);
        let anonymizer = Anonymizer::new(&key).with_app_key(&key);
        for text in [format!("{key:?}"), format!("{anonymizer:?}")] {
            assert!(!text.contains("ab"), "{text}");
            assert!(!text.contains("171"), "{text}");
            assert!(text.contains("redacted"), "{text}");
        }
    }

    #[test]
    fn generated_keys_differ() {
        let a = HashKey::generate().unwrap();
        let b = HashKey::generate().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn digest_serializes_as_hex() {
        let digest = anonymizer(3).hash(HashScope::Installation, b"x").unwrap();
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{digest}\""));
        assert!(
            digest
                .to_string()
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
