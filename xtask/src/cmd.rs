//! Running commands: echoed before, timed after, failures naming the step.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

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
    if !status.success() {
        bail!("step `{step}` failed ({status}): {shown}");
    }
    Ok(())
}
