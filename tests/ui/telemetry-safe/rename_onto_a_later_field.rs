use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(rename = "matches", count)]
    results: Vec<String>,
    matches: u64,
}

fn main() {}
