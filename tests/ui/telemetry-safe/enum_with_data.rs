use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
enum Outcome {
    Found { results: u64 },
    Failed(String),
}

fn main() {}
