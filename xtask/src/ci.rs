//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use anyhow::bail;

use crate::cmd;

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
    cmd::run_with_env(
        "test",
        "cargo",
        &["test", "--workspace", "--all-features", "--locked"],
        &[("INSTA_UPDATE", "no")],
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}
