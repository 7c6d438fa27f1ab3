//! The log of completed traces: an RFC 9162 Merkle tree over their leaf
//! hashes, kept in the database (`trace_log`) and mirrored in memory, with
//! signed checkpoints in the C2SP format.
//!
//! The log is append-only in the database, so the in-memory tree is never
//! wrong, only behind: before answering, it reads the leaves appended since
//! (by this instance or another on the same database) and appends them.

use telemetry_trace::merkle::{Hash, MerkleTree};
use telemetry_trace::note::{Checkpoint, LogSigner, NoteError};
use tokio::sync::{Mutex, MutexGuard};

use crate::storage::{Storage, StorageError};

/// The trace log of one collector.
pub struct TraceLog {
    origin: String,
    signer: LogSigner,
    tree: Mutex<MerkleTree>,
}

impl std::fmt::Debug for TraceLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceLog")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A stored leaf hash that is not 32 bytes of hex.
fn decode(leaf: &str) -> Result<Hash, StorageError> {
    hex::decode(leaf)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes).ok())
        .ok_or_else(|| StorageError::Corrupt("trace_log.leaf_hash is not a SHA-256".to_owned()))
}

impl TraceLog {
    /// A log named `origin`, signing with `signer`; refused when `origin`
    /// cannot be a checkpoint's first line.
    pub fn new(origin: String, signer: LogSigner) -> Result<Self, NoteError> {
        let log = Self {
            origin,
            signer,
            tree: Mutex::new(MerkleTree::new()),
        };
        log.checkpoint(&MerkleTree::new())?;
        Ok(log)
    }

    /// The tree, with every leaf the database holds.
    pub async fn synced<S: Storage>(
        &self,
        storage: &S,
    ) -> Result<MutexGuard<'_, MerkleTree>, StorageError> {
        let mut tree = self.tree.lock().await;
        for leaf in storage.log_leaves(tree.len()).await? {
            tree.push(decode(&leaf)?);
        }
        Ok(tree)
    }

    /// The signed checkpoint of `tree` at its size.
    pub fn checkpoint(&self, tree: &MerkleTree) -> Result<String, NoteError> {
        self.signer.sign_checkpoint(&Checkpoint {
            origin: self.origin.clone(),
            size: tree.len(),
            root: tree.root(),
        })
    }

    /// The key that verifies the checkpoints (`name+id+key`).
    #[must_use]
    pub fn verifier_key(&self) -> String {
        self.signer.verifier_key()
    }
}
