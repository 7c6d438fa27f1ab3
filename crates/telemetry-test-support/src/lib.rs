//! What this workspace's tests and benchmarks share, so that each uses it as
//! a dependency rather than a copied or included file.
//!
//! - [`posthog`]: a fake PostHog capture server on loopback that speaks
//!   `/batch/`, checks the wire format and can be told to fail.
//! - [`events`]: the realistic search event every benchmark measures.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(
    clippy::must_use_candidate,
    clippy::missing_panics_doc,
    reason = "test support: a panic is how a test helper reports a broken setup"
)]

pub mod events;
pub mod posthog;
