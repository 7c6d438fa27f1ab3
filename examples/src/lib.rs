//! Runnable examples of the telemetry toolkit, in `examples/`:
//!
//! - `cargo run --example session`: derive an event, filter it, print the
//!   payload.
//!
//! The library itself is empty; the package exists so that running an
//! example compiles only the crates that example uses.

#![forbid(unsafe_code)]
