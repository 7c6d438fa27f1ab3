use telemetry_core::TelemetrySafe;

type Repository = std::path::PathBuf;

#[derive(TelemetrySafe)]
struct Search {
    repository: Repository,
}

fn main() {}
