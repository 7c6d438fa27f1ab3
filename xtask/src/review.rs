//! The privacy review's checks live in `xtask/tests/review.rs`, as tests,
//! so that they build with the workspace's one feature set and share its
//! artifacts; the tasks run them one by one.

use crate::cmd;

/// Every registered type is shown in a snapshot.
pub(crate) const SNAPSHOT_COVERAGE: &str = "every_registered_type_has_a_snapshot";
/// Every payload passes the PII audit.
pub(crate) const AUDIT: &str = "every_payload_passes_the_audit";
/// The committed manifest is current (or, with [`WRITE_MANIFEST`], is written).
pub(crate) const MANIFEST: &str = "the_manifest_is_current";
/// The variable that makes [`MANIFEST`] write the file.
pub(crate) const WRITE_MANIFEST: (&str, &str) = ("XTASK_WRITE_MANIFEST", "1");

/// Runs one review check as the step `step`.
pub(crate) fn run(step: &str, check: &str, envs: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut args = cmd::TEST.to_vec();
    args.extend(["--test", "review", "--", "--exact", check, "--nocapture"]);
    cmd::run_with_env(step, "cargo", &args, envs)
}
