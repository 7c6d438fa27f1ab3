//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use anyhow::bail;

use crate::{audit, cmd, manifest, snapshots};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`ci` takes no arguments, got `{extra}`");
    }
    cmd::run("fmt", "cargo", &["fmt", "--all", "--check"])?;
    cmd::run(
        "clippy",
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Every doc link resolves and no public doc names a private item.
    cmd::run_with_env(
        "doc",
        "cargo",
        &[
            "doc",
            "--no-deps",
            "--workspace",
            "--all-features",
            "--locked",
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // What applications ship: default features, nothing unified from the
    // review tools or the test crates.
    for crates in cmd::SHIPPED {
        let args = |first: &[&'static str], last: &[&'static str]| -> Vec<&'static str> {
            [first, crates, last].concat()
        };
        cmd::run(
            "clippy (default features)",
            "cargo",
            &args(
                &["clippy", "--all-targets", "--locked"],
                &["--", "-D", "warnings"],
            ),
        )?;
        cmd::run(
            "test (default features)",
            "cargo",
            &args(&["test", "--locked"], &[]),
        )?;
    }
    // Every test, the snapshot tests and the review's checks among them, as
    // `cargo xtask snapshots` runs them (INSTA_UPDATE=no); then each review
    // check again as a step of its own, from the same build.
    cmd::run_with_env("test", "cargo", cmd::TEST, &[("INSTA_UPDATE", "no")])?;
    snapshots::check_coverage()?;
    audit::check()?;
    manifest::check()?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}
