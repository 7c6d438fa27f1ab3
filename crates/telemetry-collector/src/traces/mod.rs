//! The pieces of the trace endpoints that are not HTTP: upload tokens
//! ([`token`]) and the log of completed traces ([`log`]). The endpoints
//! themselves are in [`server`](crate::server); the data model, chain and
//! proofs in `telemetry-trace`.

pub mod log;
pub mod token;
