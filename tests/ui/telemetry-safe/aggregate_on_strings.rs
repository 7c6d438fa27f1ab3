use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(aggregate)]
    languages: Vec<String>,
}

fn main() {}
