use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
#[telemetry(rename_all = "lowercase")]
enum Period {
    Daily,
    DAILY,
}

fn main() {}
