use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(boolean)]
    results: u64,
}

fn main() {}
