use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash(salt = "x"))]
    repository: String,
}

fn main() {}
