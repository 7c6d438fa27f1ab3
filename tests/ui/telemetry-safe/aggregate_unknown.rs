use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(aggregate = "average")]
    latencies_ms: Vec<u64>,
}

fn main() {}
