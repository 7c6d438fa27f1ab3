//! `telemetry-collector`: a self-hosted ingest server for the toolkit.
//!
//! One binary with an embedded default: `telemetry-collector serve` runs on
//! a SQLite database (WAL) and a local blob directory under `--data-dir`,
//! with no other process. `--database-url postgres://…` runs the same
//! binary on PostgreSQL, where several instances behind a load balancer
//! stay correct: idempotency is a unique constraint, and nothing one
//! instance holds in memory is needed by another.
//!
//! It takes reference 004's registry contract (`POST /api/v1/telemetry`,
//! answered `{"accepted", "rejected", "errors"}`), PostHog's batch format
//! (`POST /batch/`, so that `telemetry-posthog` delivers to it unchanged),
//! deletion requests, and serves aggregated model registrations
//! (`GET /api/v1/models`), `/healthz` and `/metrics`. See
//! [`server`] for the endpoints and limits, [`storage`] for what is kept and
//! how, and `docs/collector.md` for running it.
//!
//! The client crates never depend on this one: it brings an async runtime
//! (tokio) that apps embedding telemetry must not be made to carry.

pub mod auth;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod demo;
pub mod keyed;
pub mod metrics;
pub mod policy;
pub mod qa;
pub mod schema;
pub mod server;
pub mod storage;
pub mod traces;
pub mod worker;

pub use config::Config;
pub use server::{App, router, serve};
pub use storage::{Postgres, Sqlite, Storage};
