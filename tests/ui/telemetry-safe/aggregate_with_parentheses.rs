use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(aggregate(mean))]
    latencies_ms: Vec<u64>,
}

fn main() {}
