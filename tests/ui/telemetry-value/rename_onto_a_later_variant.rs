use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
enum Period {
    #[telemetry(rename = "Weekly")]
    Daily,
    Weekly,
}

fn main() {}
