use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
