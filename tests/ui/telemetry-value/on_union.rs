use telemetry_core::TelemetryValue;

#[derive(TelemetryValue)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
