//! Offline verification of a downloaded trace: with nothing but the trace,
//! a signed checkpoint and the log's verifier key, check that
//!
//! 1. the events' hash chain holds, and its head is the trace's
//!    `integrity.event_hash_chain`;
//! 2. the trace's leaf hash is the one its log proof names;
//! 3. the checkpoint is signed by the key;
//! 4. the proof is for the checkpoint's tree size, and proves the leaf's
//!    inclusion under the checkpoint's root.
//!
//! A hash chain alone can be truncated or replaced whole; the signed
//! checkpoint pins the trace to a log that others watch, as Certificate
//! Transparency pins certificates.

use crate::chain::{ChainError, decode_hash, verify_chain_report};
use crate::merkle::verify_inclusion;
use crate::model::Trace;
use crate::note::{NoteError, VerifierKey};

/// What an offline verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Events in the chain.
    pub events: u64,
    /// Seqs whose content check was skipped, because the collector
    /// redacted them after the client hashed them (their links held).
    pub skipped_content: Vec<u64>,
    /// The trace's leaf index in the log.
    pub leaf_index: u64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's origin: the log's name.
    pub origin: String,
}

/// Why a trace did not verify offline. Each check has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The events' hash chain is broken.
    #[error("the hash chain is broken: {0}")]
    Chain(#[from] ChainError),
    /// The chain verified, but its head is not the trace's
    /// `integrity.event_hash_chain`: events were added or removed at the end.
    #[error(
        "the chain's head is not integrity.event_hash_chain: the trace was truncated or extended"
    )]
    ChainHead,
    /// The trace has no `integrity.log`: it was never logged.
    #[error("the trace has no log proof (integrity.log): it was not logged")]
    NotLogged,
    /// The trace's leaf hash differs from the proof's `leaf_hash`: its
    /// content changed after it was logged.
    #[error(
        "the trace's leaf hash is not the log proof's leaf_hash: its content changed after it was logged"
    )]
    LeafHash,
    /// A hash in the log proof is not 64 lowercase hex digits.
    #[error("the log proof holds a hash that is not 64 lowercase hex digits")]
    MalformedProof,
    /// The checkpoint did not open with the key.
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(#[from] NoteError),
    /// The proof is for another tree size than the checkpoint's.
    #[error(
        "the inclusion proof is for tree size {proof}, the checkpoint for {checkpoint}: fetch the proof for the checkpoint's size"
    )]
    TreeSize {
        /// The proof's `tree_size`.
        proof: u64,
        /// The checkpoint's size.
        checkpoint: u64,
    },
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("the inclusion proof of leaf {leaf_index} does not lead to the checkpoint's root")]
    Inclusion {
        /// The proof's leaf index.
        leaf_index: u64,
    },
}

/// Verifies `trace` against a signed checkpoint and the log's key (see the
/// [module](crate::verify) for the checks, in order).
///
/// ```
/// use telemetry_trace::merkle::MerkleTree;
/// use telemetry_trace::*;
///
/// # fn trace() -> Trace {
/// #     Trace {
/// #         trace_version: TRACE_VERSION.into(), trace_id: "trace-1".into(),
/// #         session: Session { participant_id: "p-1".into(), consent: true },
/// #         task: Task { id: "BUG-1".into(), title: "t".into(), description: None },
/// #         repo: Repo { origin: "https://example.com/r".into(), start_commit: "abcd".into() },
/// #         environment: Environment::default(), events: Vec::new(), artifacts: Default::default(),
/// #         metrics: Metrics::default(), qa: None,
/// #         integrity: Integrity { event_hash_chain: GENESIS.into(), log: None },
/// #     }
/// # }
/// let mut trace = trace();
/// let mut log = MerkleTree::new();
/// let index = log.push(trace.leaf_hash());
/// let signer = LogSigner::from_seed("collector.example/traces", [7; 32])?;
/// let checkpoint = Checkpoint { origin: "collector.example/traces".into(), size: log.len(), root: log.root() };
/// let note = signer.sign_checkpoint(&checkpoint)?;
/// trace.integrity.log = Some(LogProof {
///     leaf_index: index,
///     tree_size: log.len(),
///     leaf_hash: hex::encode(trace.leaf_hash()),
///     inclusion_proof: log.inclusion_proof(index, log.len())?.iter().map(hex::encode).collect(),
/// });
/// let verified = verify_offline(&trace, &note, &signer.verifier())?;
/// assert_eq!((verified.leaf_index, verified.tree_size), (0, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_offline(
    trace: &Trace,
    checkpoint_note: &str,
    key: &VerifierKey,
) -> Result<Verified, VerifyError> {
    let report = verify_chain_report(&trace.events)?;
    if report.head != trace.integrity.event_hash_chain {
        return Err(VerifyError::ChainHead);
    }
    let log = trace.integrity.log.as_ref().ok_or(VerifyError::NotLogged)?;
    let claimed_leaf = decode_hash(&log.leaf_hash).ok_or(VerifyError::MalformedProof)?;
    let leaf = trace.leaf_hash();
    if leaf != claimed_leaf {
        return Err(VerifyError::LeafHash);
    }
    let proof = log
        .inclusion_proof
        .iter()
        .map(|hash| decode_hash(hash))
        .collect::<Option<Vec<_>>>()
        .ok_or(VerifyError::MalformedProof)?;
    let checkpoint = key.open(checkpoint_note)?;
    if log.tree_size != checkpoint.size {
        return Err(VerifyError::TreeSize {
            proof: log.tree_size,
            checkpoint: checkpoint.size,
        });
    }
    if !verify_inclusion(
        &leaf,
        log.leaf_index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    ) {
        return Err(VerifyError::Inclusion {
            leaf_index: log.leaf_index,
        });
    }
    Ok(Verified {
        events: trace.events.len() as u64,
        skipped_content: report.skipped_content,
        leaf_index: log.leaf_index,
        tree_size: checkpoint.size,
        origin: checkpoint.origin,
    })
}
