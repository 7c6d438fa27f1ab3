use std::path::PathBuf;

use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    repository: PathBuf,
}

fn main() {}
