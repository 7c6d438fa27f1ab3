use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event)]
struct Search {
    results: u64,
}

fn main() {}
