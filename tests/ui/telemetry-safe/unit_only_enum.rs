use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
enum Period {
    Daily,
    Weekly,
}

fn main() {}
