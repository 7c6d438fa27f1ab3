//! `cargo xtask audit`: every committed snapshot and example payload through
//! the PII audit of `telemetry_audit` (see `xtask/tests/review.rs`).

use anyhow::bail;

use crate::review;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`audit` takes no arguments, got `{extra}`");
    }
    check()
}

/// The audit as a step of its own (also one of `ci`'s).
pub(crate) fn check() -> anyhow::Result<()> {
    review::run("audit", review::AUDIT, &[])
}
