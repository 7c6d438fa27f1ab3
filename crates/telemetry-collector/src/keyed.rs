//! Keyed hashes of client ids: the only form in which the collector keeps
//! them (reference 004's security note: "hash `model_name` + `client_id`
//! together for server-side deduplication").
//!
//! The key is the collector's own, made once and kept in its database
//! (`collector_settings`), so every instance on one database hashes alike
//! and a stored hash cannot be reversed by someone who guesses client ids
//! without the database.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the server's hashing key.
pub const KEY_BYTES: usize = 32;

/// HMAC-SHA256 under the collector's key, cut to 128 bits, as lowercase hex
/// (the width of `telemetry-core`'s keyed hashes).
#[derive(Clone)]
pub struct KeyedHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHasher([key])")
    }
}

impl KeyedHasher {
    /// A hasher under `key`.
    #[must_use]
    pub fn new(key: &[u8; KEY_BYTES]) -> Self {
        Self {
            // HMAC accepts keys of any length, so this cannot fail.
            mac: <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    fn hash(&self, parts: &[&str]) -> String {
        let mut mac = self.mac.clone();
        for (at, part) in parts.iter().enumerate() {
            if at > 0 {
                mac.update(&[0]);
            }
            mac.update(part.as_bytes());
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// A 32-byte key for `purpose` (upload tokens, the trace log's signing
    /// seed), derived from the database's key so that every instance on the
    /// database derives the same, and no two purposes share one.
    #[must_use]
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        // 0xFF starts no UTF-8 text, so no hash of ids (text) equals a key.
        mac.update(&[0xff]);
        mac.update(b"derive-key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The hash under which a client's events are kept.
    #[must_use]
    pub fn client(&self, client_id: &str) -> String {
        self.hash(&[client_id])
    }

    /// The hash of one client's registration of one model: counts distinct
    /// registrants per model without keeping either id.
    #[must_use]
    pub fn registration(&self, model_name: &str, client_id: &str) -> String {
        self.hash(&[model_name, client_id])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_the_key_and_on_every_part() {
        let one = KeyedHasher::new(&[1; KEY_BYTES]);
        let two = KeyedHasher::new(&[2; KEY_BYTES]);
        assert_eq!(one.client("c").len(), 32);
        assert_ne!(one.client("c"), two.client("c"));
        assert_ne!(one.registration("m", "c"), one.registration("m", "d"));
        assert_ne!(one.registration("m", "c"), one.registration("n", "c"));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(one.registration("ab", "c"), one.registration("a", "bc"));
        assert_eq!(one.registration("m", "c"), one.registration("m", "c"));
    }
}
