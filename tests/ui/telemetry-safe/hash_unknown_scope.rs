use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash(scope = "user"))]
    repository: String,
}

fn main() {}
