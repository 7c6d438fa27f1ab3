//! The events an application needs to prove efficiency claims without
//! collecting what its users do. Each is declared with
//! `#[derive(TelemetrySafe)]`; each constructor validates, so that a payload is
//! never silently wrong ([`InvalidEvent`](crate::InvalidEvent) names the field).
//!
//! | event | what it proves |
//! | --- | --- |
//! | [`SessionSummary`] (`session_summary`) | how a session went: searches, latency, tokens saved |
//! | [`PerformanceBenchmark`] (`performance_benchmark`) | the tool against a naive baseline |
//! | [`SemanticValidation`] (`semantic_validation`) | whether semantic categories track real usage |
//! | [`ModelRegistration`] (`model_registration`) | which embedding models load where (opt-in) |
//!
//! [`ModelRegistration::consent_prompt`] is the text to show before a user
//! opts in to registry contributions: every field sent, from the event's
//! schema.
//!
//! Event names get the application's prefix when sent: see
//! [`EventPrefix`](crate::names::EventPrefix).

mod benchmark;
mod consent;
mod model;
mod semantic;
mod session;

pub use benchmark::{
    BaselineApproach, BenchmarkCounts, BenchmarkInput, Improvement, PerformanceBenchmark,
};
pub use consent::{ConsentField, ConsentPrompt};
pub use model::{
    DeviceType, DistanceMetric, Modality, ModelRegistration, ModelRegistrationInput, ModelSource,
    Normalization,
};
pub use semantic::{Period, SemanticValidation, SemanticValidationInput};
pub use session::{SessionSummary, SessionSummaryInput, SessionTiming, SessionTokens};
