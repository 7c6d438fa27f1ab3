use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(hash = "app")]
    repository: String,
}

fn main() {}
