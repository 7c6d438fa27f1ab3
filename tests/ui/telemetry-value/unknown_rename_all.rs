use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
#[telemetry(rename_all = "train-case")]
enum Period {
    Daily,
    Weekly,
}

fn main() {}
