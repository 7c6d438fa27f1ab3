//! Developer traces: the data model both the client and the collector
//! share.
//!
//! A trace is a typed, tamper-evident record of one bug-fixing session:
//! file edits, commands, test runs, commits and structured reasoning
//! ([`model`]), validated the same way on both sides ([`validate`]), with
//! free text redacted span by span by the guard's detectors ([`redact`]),
//! each event chained to the one before by SHA-256 over RFC 8785 canonical
//! JSON ([`chain`], [`canonical`]), each completed trace a leaf of an RFC
//! 9162 Merkle log ([`merkle`], [`leaf`]) whose checkpoints are C2SP signed
//! notes ([`note`]), and all of it checkable offline ([`verify`]).
//!
//! This crate does no I/O: no files, no network, no threads, no clocks.
//! Callers pass times in and move the bytes.
//!
//! ```
//! use telemetry_trace::{Event, EventKind, RationaleKind, seal, verify_chain};
//!
//! let mut events = vec![Event {
//!     id: "evt-000".into(), seq: 0, ts_client_s: 1_696_435_200.0, ts_server_s: None,
//!     redactions: 0, server_redactions: 0, prev_hash: String::new(), hash: String::new(),
//!     kind: EventKind::RationaleNote {
//!         kind: RationaleKind::Hypothesis,
//!         text: "mail ana@example.com: the divide rounds towards zero".into(),
//!     },
//! }];
//! assert_eq!(events[0].redact(), 1);
//! let head = seal(&mut events);
//! events[0].validate()?;
//! assert_eq!(verify_chain(&events).unwrap(), head);
//! # Ok::<(), telemetry_trace::ValidationError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod artifact;
mod assemble;
pub mod canonical;
pub mod chain;
pub mod leaf;
pub mod merkle;
pub mod model;
pub mod note;
pub mod qa;
pub mod redact;
pub mod schema;
pub mod validate;
pub mod verify;
pub mod wire;

pub use canonical::canonical_json;
pub use chain::{
    ChainError, ChainErrorKind, ChainReport, GENESIS, seal, verify_chain, verify_chain_report,
};
pub use leaf::LeafData;
pub use merkle::{Hash, MerkleTree, ProofError};
pub use model::*;
pub use note::{Checkpoint, LogSigner, NoteError, VerifierKey};
pub use qa::{
    Dimension, JobState, JudgeUsage, Judgement, QaJob, RUBRIC, TestCounts, Validation, Verdict,
    weighted_overall,
};
pub use schema::json_schema;
pub use validate::{MAX_SEQ, ValidationError, relative_path};
pub use verify::{Verified, VerifyError, verify_offline};
pub use wire::{
    Chunk, ChunkAnswer, CompleteTrace, Completed, CreateTrace, Created, UploadStatus,
    ValidationRequest,
};
