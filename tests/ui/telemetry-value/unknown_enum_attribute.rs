use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
#[telemetry(event = "period")]
enum Period {
    Daily,
    Weekly,
}

fn main() {}
