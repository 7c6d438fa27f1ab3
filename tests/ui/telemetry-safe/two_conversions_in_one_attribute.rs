use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash, count)]
    repository: String,
}

fn main() {}
