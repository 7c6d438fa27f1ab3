//! `cargo xtask snapshots [--review]`: every `insta` snapshot test, never
//! updating a snapshot unasked, and every registered type shown in one.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::{cmd, review};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    match args {
        // Every test: the snapshot tests, where a changed payload fails with
        // insta's diff, and the coverage check among them.
        [] => cmd::run_with_env("snapshots", "cargo", cmd::TEST, &[("INSTA_UPDATE", "no")]),
        [flag] if flag == "--review" => {
            review_pending()?;
            cmd::run_with_env("snapshots", "cargo", cmd::TEST, &[("INSTA_UPDATE", "no")])
        }
        [other, ..] => bail!("`snapshots` takes only `--review`, got `{other}`"),
    }
}

/// Fails when a registered type appears in no snapshot.
pub(crate) fn check_coverage() -> anyhow::Result<()> {
    review::run("snapshot coverage", review::SNAPSHOT_COVERAGE, &[])
}

/// Runs the tests writing `.snap.new` files for changed snapshots, then
/// reviews them with `cargo insta review` when it is installed, or else
/// prints each one's diff and accepts it.
fn review_pending() -> anyhow::Result<()> {
    // Failing tests are expected here: a changed snapshot fails its test.
    let (status, _) = cmd::status("snapshots", "cargo", cmd::TEST, &[("INSTA_UPDATE", "new")])?;
    if !status.success() {
        eprintln!("  (some tests failed; reviewing the snapshots they wrote)");
    }
    let has_cargo_insta = std::process::Command::new("cargo")
        .args(["insta", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if has_cargo_insta {
        return cmd::run("review", "cargo", &["insta", "review"]);
    }
    let pending = pending_snapshots()?;
    if pending.is_empty() {
        eprintln!("no pending snapshots");
    }
    for new in pending {
        accept(&new)?;
    }
    Ok(())
}

/// Prints the change `new` makes to its snapshot, then moves it in place.
fn accept(new: &Path) -> anyhow::Result<()> {
    let snap = PathBuf::from(new.to_string_lossy().trim_end_matches(".new"));
    if snap.exists() {
        let old = snap.to_string_lossy();
        let new = new.to_string_lossy();
        // `git diff` exits with 1 when the files differ.
        cmd::status(
            "diff",
            "git",
            &["--no-pager", "diff", "--no-index", "--", &old, &new],
            &[],
        )?;
    } else {
        println!("new snapshot {}:", snap.display());
        print!("{}", fs::read_to_string(new)?);
    }
    // insta records where the assertion was only in pending files.
    let text = fs::read_to_string(new)?;
    let text: String = text
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("assertion_line:"))
        .collect();
    fs::write(&snap, text).with_context(|| format!("writing {}", snap.display()))?;
    fs::remove_file(new)?;
    eprintln!("accepted {}", snap.display());
    Ok(())
}

/// The `.snap.new` files insta wrote: untracked, and ignored by .gitignore.
fn pending_snapshots() -> anyhow::Result<Vec<PathBuf>> {
    let output = std::process::Command::new("git")
        .args([
            "ls-files",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--",
            "*.snap.new",
        ])
        .output()
        .context("step `review`: could not start `git`")?;
    if !output.status.success() {
        bail!("step `review`: `git ls-files` failed ({})", output.status);
    }
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .map(PathBuf::from)
        .collect())
}
