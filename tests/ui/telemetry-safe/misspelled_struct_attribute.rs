use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(evnet = "search")]
struct Search {
    results: u64,
}

fn main() {}
