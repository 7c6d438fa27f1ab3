//! `cargo xtask audit`: every committed snapshot and example payload through
//! the PII audit of `telemetry_core::audit`.

use std::path::Path;

use anyhow::bail;
use telemetry_core::audit::{AllowList, Audit};

use crate::{cmd, review};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`audit` takes no arguments, got `{extra}`");
    }
    check()
}

/// The audit as a step of its own (also one of `ci`'s).
pub(crate) fn check() -> anyhow::Result<()> {
    cmd::step("audit", || {
        let files = review::payload_files()?;
        let allow = AllowList::load(Path::new(review::ALLOW_LIST))?;
        let report = Audit::new(review::schemas())
            .planted(review::PLANTED.iter().copied())
            .allow(allow)
            .run(&files)?;
        println!("{report}");
        if !report.is_clean() {
            bail!(
                "payloads look personal or secret; fix the field's conversion, or add a \
                 reviewed entry with its reason to {}",
                review::ALLOW_LIST
            );
        }
        Ok(())
    })
}
