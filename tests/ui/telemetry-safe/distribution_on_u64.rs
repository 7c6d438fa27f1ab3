use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(distribution)]
    results: u64,
}

fn main() {}
