//! API keys: kept only as SHA-256 hashes, compared in constant time.
//! Ingest keys and read keys are separate sets. Without a key configured
//! for a side, that side is open to loopback clients only.

use std::net::IpAddr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of an API key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash([hidden])")
    }
}

impl KeyHash {
    /// The hash of a key presented by a client.
    #[must_use]
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// A configured key: the key itself, or `sha256:` and its hex hash.
    pub fn parse(configured: &str) -> Result<Self, String> {
        if let Some(hex_hash) = configured.strip_prefix("sha256:") {
            let bytes = hex::decode(hex_hash)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| "a `sha256:` key must be followed by 64 hex digits".to_owned())?;
            return Ok(Self(bytes));
        }
        if configured.len() < 16 {
            return Err("a key must be at least 16 characters".to_owned());
        }
        Ok(Self::of(configured))
    }
}

/// One side's keys.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    hashes: Vec<KeyHash>,
}

/// Who a request is, once let in: the key it used, or the loopback client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A configured key.
    Key(KeyHash),
    /// A client on loopback, where no key is configured.
    Loopback(IpAddr),
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No key was presented (401).
    Missing,
    /// The key is not one of the configured keys (401).
    Wrong,
    /// No key is configured and the client is not on loopback (403).
    NotLoopback,
}

impl Denied {
    /// The answer's words.
    #[must_use]
    pub fn message(self, side: &str) -> String {
        match self {
            Self::Missing => {
                format!("an API key is required for {side}: send `Authorization: Bearer <key>`")
            }
            Self::Wrong => format!("the API key is not valid for {side}"),
            Self::NotLoopback => format!(
                "no {side} key is configured, so this collector takes {side} requests from loopback only"
            ),
        }
    }
}

impl Keys {
    /// The keys as configured (each checked by [`KeyHash::parse`]).
    pub fn new(configured: &[String]) -> Result<Self, String> {
        Ok(Self {
            hashes: configured
                .iter()
                .map(|key| KeyHash::parse(key))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether any key is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Lets a request in, or says why not. `client` is the client's address
    /// (after trusted proxies).
    pub fn admit(&self, presented: Option<&str>, client: IpAddr) -> Result<Principal, Denied> {
        if self.hashes.is_empty() {
            return if client.is_loopback() {
                Ok(Principal::Loopback(client))
            } else {
                Err(Denied::NotLoopback)
            };
        }
        let presented = KeyHash::of(presented.ok_or(Denied::Missing)?);
        // Every configured key is compared, each in constant time, so the
        // time taken says nothing of which matched or how much of one.
        let mut found = subtle::Choice::from(0);
        for hash in &self.hashes {
            found |= hash.0.ct_eq(&presented.0);
        }
        if bool::from(found) {
            Ok(Principal::Key(presented))
        } else {
            Err(Denied::Wrong)
        }
    }
}

/// The key a request presents: `Authorization: Bearer KEY`, or `X-API-Key`.
#[must_use]
pub fn presented(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        let value = value.trim();
        return value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim);
    }
    headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn without_keys_only_loopback_is_admitted() {
        let keys = Keys::default();
        assert_eq!(
            keys.admit(None, LOOPBACK),
            Ok(Principal::Loopback(LOOPBACK))
        );
        assert_eq!(
            keys.admit(Some("anything"), REMOTE),
            Err(Denied::NotLoopback)
        );
    }

    #[test]
    fn keys_are_matched_by_hash_whatever_the_address() {
        let hashed = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(b"second-key-0123456789"))
        );
        let keys = Keys::new(&["first-key-0123456789".to_owned(), hashed]).unwrap();
        assert!(matches!(
            keys.admit(Some("first-key-0123456789"), REMOTE),
            Ok(Principal::Key(_))
        ));
        assert!(matches!(
            keys.admit(Some("second-key-0123456789"), REMOTE),
            Ok(Principal::Key(_))
        ));
        assert_eq!(
            keys.admit(Some("first-key-012345678"), LOOPBACK),
            Err(Denied::Wrong)
        );
        assert_eq!(keys.admit(None, LOOPBACK), Err(Denied::Missing));
    }

    #[test]
    fn short_keys_and_bad_hashes_are_refused() {
        assert!(KeyHash::parse("short").is_err());
        assert!(KeyHash::parse("sha256:abcd").is_err());
    }
}
