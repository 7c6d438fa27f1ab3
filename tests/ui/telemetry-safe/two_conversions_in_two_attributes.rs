use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash)]
    #[telemetry(count)]
    repository: String,
}

fn main() {}
