use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(count)]
    cached: bool,
}

fn main() {}
