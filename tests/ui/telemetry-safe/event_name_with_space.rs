use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event = "has space")]
struct Search {
    results: u64,
}

fn main() {}
