use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
struct Settings {
    theme: String,
}

fn main() {}
