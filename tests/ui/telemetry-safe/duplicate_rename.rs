use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(rename = "hits", rename = "matches")]
    results: u64,
}

fn main() {}
