use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(boolean(x))]
    custom_config: Option<String>,
}

fn main() {}
