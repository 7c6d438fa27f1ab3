use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(rename = "")]
    results: u64,
}

fn main() {}
