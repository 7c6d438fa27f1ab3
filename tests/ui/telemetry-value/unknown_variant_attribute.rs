use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
enum Period {
    Daily,
    #[telemetry(label = "weekly")]
    Weekly,
}

fn main() {}
