//! Upload tokens: short-lived, scoped to one trace, and never stored.
//!
//! A token is `ut1.<expiry>.<mac>`: the Unix second it expires at, and the
//! hex HMAC-SHA256, under a key derived from the database's, of the trace
//! id and that expiry. The collector checks it by recomputing the MAC (in
//! constant time), so nothing of it is kept, and any instance on the
//! database can check what another issued.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "ut1";

/// Issues and checks upload tokens.
#[derive(Clone)]
pub struct TokenKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([key])")
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this collector issues.
    #[error("the upload token is malformed")]
    Malformed,
    /// Issued for another trace, or not by this collector.
    #[error("the upload token is not valid for this trace")]
    Wrong,
    /// Past its expiry.
    #[error("the upload token has expired; ask for a new one with POST /v1/traces/{{id}}/token")]
    Expired,
}

impl TokenKey {
    /// A key made from 32 secret bytes.
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            mac: <Hmac<Sha256> as Mac>::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length")),
        }
    }

    fn mac(&self, trace_id: &str, expires: i64) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(b"upload-token\0");
        mac.update(trace_id.as_bytes());
        mac.update(b"\0");
        mac.update(expires.to_string().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A token for `trace_id` that expires at `expires` (Unix seconds).
    #[must_use]
    pub fn issue(&self, trace_id: &str, expires: i64) -> String {
        format!(
            "{PREFIX}.{expires}.{}",
            hex::encode(self.mac(trace_id, expires))
        )
    }

    /// Whether `token` is good for `trace_id` at `now` (Unix seconds).
    pub fn check(&self, token: &str, trace_id: &str, now: i64) -> Result<(), TokenError> {
        let mut parts = token.split('.');
        let (Some(PREFIX), Some(expires), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let mac = hex::decode(mac).map_err(|_| TokenError::Malformed)?;
        if mac.len() != 32 {
            return Err(TokenError::Malformed);
        }
        if !bool::from(mac.ct_eq(&self.mac(trace_id, expires))) {
            return Err(TokenError::Wrong);
        }
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_for_its_trace_until_it_expires() {
        let key = TokenKey::new(&[7; 32]);
        let token = key.issue("trace-a", 1_000);
        assert_eq!(key.check(&token, "trace-a", 999), Ok(()));
        assert_eq!(
            key.check(&token, "trace-a", 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(key.check(&token, "trace-b", 999), Err(TokenError::Wrong));
        assert_eq!(
            TokenKey::new(&[8; 32]).check(&token, "trace-a", 999),
            Err(TokenError::Wrong)
        );
        // A later expiry with the old MAC is not this collector's.
        let forged = token.replacen("1000", "9999", 1);
        assert_eq!(key.check(&forged, "trace-a", 999), Err(TokenError::Wrong));
        for malformed in ["", "ut1", "ut1.x.00", "ut2.1000.00", &format!("{token}.x")] {
            assert_eq!(
                key.check(malformed, "trace-a", 0),
                Err(TokenError::Malformed)
            );
        }
    }
}
