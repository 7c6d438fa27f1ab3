use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
enum Period {
    Daily,
    #[telemetry(renam = "weekly")]
    Weekly,
}

fn main() {}
