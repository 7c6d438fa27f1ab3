use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
#[telemetry(event = "search_done")]
struct Search {
    results: u64,
}

fn main() {}
