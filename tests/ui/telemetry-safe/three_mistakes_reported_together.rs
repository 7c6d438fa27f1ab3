use std::path::PathBuf;

use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event = "has space")]
struct Search {
    #[telemetry(hashed)]
    query: String,
    repository: PathBuf,
}

fn main() {}
