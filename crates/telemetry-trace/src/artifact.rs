//! References to content stored apart from a trace: test reports, command
//! output, diffs, workspace snapshots, QA logs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A reference to content stored apart from the trace, by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRef {
    /// Where it is stored: `artifact://sha256/<hex>`.
    pub uri: String,
    /// Its SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type (`text/plain`, `application/junit+xml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl ArtifactRef {
    /// The URI scheme and prefix every artifact URI starts with.
    pub const URI_PREFIX: &'static str = "artifact://sha256/";

    /// The reference to `bytes`: their SHA-256, size and content-addressed
    /// URI.
    ///
    /// ```
    /// use telemetry_trace::ArtifactRef;
    ///
    /// let artifact = ArtifactRef::for_bytes(b"", Some("text/plain"));
    /// let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /// assert_eq!(artifact.sha256, empty);
    /// assert_eq!(artifact.uri, format!("artifact://sha256/{empty}"));
    /// assert_eq!(artifact.size, 0);
    /// ```
    #[must_use]
    pub fn for_bytes(bytes: &[u8], media_type: Option<&str>) -> Self {
        let sha256 = hex::encode(Sha256::digest(bytes));
        Self {
            uri: format!("{}{sha256}", Self::URI_PREFIX),
            sha256,
            size: bytes.len() as u64,
            media_type: media_type.map(str::to_owned),
        }
    }
}
