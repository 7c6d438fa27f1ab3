use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
#[telemetry(rename_al = "snake_case")]
enum Period {
    Daily,
    Weekly,
}

fn main() {}
