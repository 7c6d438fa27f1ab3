use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
enum Outcome {
    Found,
    Failed(String),
}

fn main() {}
