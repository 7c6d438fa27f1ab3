use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(name = "search")]
struct Search {
    results: u64,
}

fn main() {}
