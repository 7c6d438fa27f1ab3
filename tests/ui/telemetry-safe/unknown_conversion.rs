use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hashed)]
    repository: String,
}

fn main() {}
