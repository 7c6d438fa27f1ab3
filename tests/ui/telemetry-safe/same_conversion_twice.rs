use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash)]
    #[telemetry(hash)]
    repository: String,
}

fn main() {}
