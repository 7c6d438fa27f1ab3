use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(event = "search")]
    results: u64,
}

fn main() {}
