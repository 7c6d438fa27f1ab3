use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event = "$pageview")]
struct Search {
    results: u64,
}

fn main() {}
