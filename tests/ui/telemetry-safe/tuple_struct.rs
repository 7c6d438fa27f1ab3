use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Latency(u64, u64);

fn main() {}
