use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    results: u64,
    #[telemetry(rename = "results", count)]
    matches: Vec<String>,
}

fn main() {}
