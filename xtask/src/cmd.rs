//! Running commands: echoed before, timed after, failures naming the step.

use std::process::{Command, ExitStatus};
use std::time::Instant;

use anyhow::{Context, bail};

/// `cargo test` over the whole workspace with the one feature set that
/// clippy, the tests, the snapshots and xtask itself all build with, so that
/// they share build artifacts.
pub(crate) const TEST: &[&str] = &["test", "--workspace", "--all-features", "--locked"];

/// The crates an application ships, in groups selected so that no feature
/// another crate turns on is unified into them: the libraries alone (the
/// CLI turns on core's `scan`), then the CLI. Linting and testing these
/// with default features checks what apps build.
pub(crate) const SHIPPED: &[&[&str]] = &[
    &[
        "-p",
        "telemetry-core",
        "-p",
        "telemetry-derive",
        "-p",
        "telemetry-runtime",
        "-p",
        "telemetry-posthog",
        "-p",
        "telemetry-collector-client",
        "-p",
        "telemetry-tokens",
        "-p",
        "telemetry-trace",
        "-p",
        "telemetry-dataset",
    ],
    &["-p", "telemetry-cli"],
];

/// Runs `program args...`, echoing it and its duration; fails naming `step`.
pub(crate) fn run(step: &str, program: &str, args: &[&str]) -> anyhow::Result<()> {
    run_with_env(step, program, args, &[])
}

/// Like [`run`], with extra environment variables.
pub(crate) fn run_with_env(
    step: &str,
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> anyhow::Result<()> {
    let (status, shown) = status(step, program, args, envs)?;
    if !status.success() {
        bail!("step `{step}` failed ({status}): {shown}");
    }
    Ok(())
}

/// Runs `program args...` like [`run_with_env`], and returns its exit status
/// instead of failing on it, with the command as shown.
pub(crate) fn status(
    step: &str,
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> anyhow::Result<(ExitStatus, String)> {
    let shown: String = envs
        .iter()
        .map(|(key, value)| format!("{key}={value} "))
        .chain(std::iter::once(program.to_owned()))
        .chain(args.iter().map(|arg| format!(" {arg}")))
        .collect();
    eprintln!("$ {shown}");
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .status()
        .with_context(|| format!("step `{step}`: could not start `{program}`"))?;
    eprintln!("  ({step}: {:.1} s)", started.elapsed().as_secs_f64());
    Ok((status, shown))
}
