//! Project automation, run as `cargo xtask <task>`.
//!
//! Deliberately small: it shells out to cargo, echoing each command and how
//! long it took, and depends on little (`anyhow`).

mod ci;
mod cmd;

use std::env;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci    what CI runs: fmt check, clippy with -D warnings, the tests";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = project_root().and_then(|root| {
        env::set_current_dir(&root)?;
        match args.first().map(String::as_str) {
            Some("ci") => ci::run(&args[1..]),
            Some("-h" | "--help" | "help") => {
                println!("{USAGE}");
                Ok(())
            }
            Some(other) => {
                eprintln!("unknown task `{other}`\n\n{USAGE}");
                std::process::exit(2);
            }
            None => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn project_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("xtask's manifest directory has no parent"))
}
