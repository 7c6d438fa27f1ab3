use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
enum Period {
    Daily,
    #[telemetry(rename = "Daily")]
    EveryDay,
}

fn main() {}
