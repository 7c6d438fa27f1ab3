//! A completed trace as a leaf of the collector's Merkle log.
//!
//! The leaf is small and self-describing, so that deleting a trace's
//! content under retention keeps its leaf, and proofs for other traces
//! still verify:
//!
//! ```text
//! leaf_hash = SHA-256(0x00 ‖ JCS({"content_sha256", "event_hash_chain", "num_events", "trace_id"}))
//! ```
//!
//! `content_sha256` is the SHA-256 of the canonical trace less what is added
//! after logging (`qa`, and `integrity.log`), so the leaf commits to every
//! event, the task and the environment, not only to the chain's head.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::canonical_json;
use crate::merkle::{self, Hash};
use crate::model::Trace;

/// What the log commits to for one trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeafData {
    /// The trace.
    pub trace_id: String,
    /// The head of its hash chain.
    pub event_hash_chain: String,
    /// Its number of events.
    pub num_events: u64,
    /// [`Trace::content_sha256`].
    pub content_sha256: String,
}

impl LeafData {
    /// The Merkle leaf hash of this leaf: `SHA-256(0x00 ‖ JCS(self))`.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        merkle::leaf_hash(&canonical_json(self))
    }
}

impl Trace {
    /// The SHA-256 (hex) of the canonical JSON of the trace with `qa` and
    /// `integrity.log` left out: what the trace was when it was logged.
    #[must_use]
    pub fn content_sha256(&self) -> String {
        let mut logged = self.clone();
        logged.qa = None;
        logged.integrity.log = None;
        hex::encode(Sha256::digest(canonical_json(&logged)))
    }

    /// The trace's [`LeafData`].
    #[must_use]
    pub fn leaf_data(&self) -> LeafData {
        LeafData {
            trace_id: self.trace_id.clone(),
            event_hash_chain: self.integrity.event_hash_chain.clone(),
            num_events: self.events.len() as u64,
            content_sha256: self.content_sha256(),
        }
    }

    /// The trace's Merkle leaf hash: [`LeafData::leaf_hash`] of
    /// [`leaf_data`](Self::leaf_data).
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        self.leaf_data().leaf_hash()
    }
}
