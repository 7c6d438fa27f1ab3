use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(hash)]
struct Search {
    repository: String,
}

fn main() {}
