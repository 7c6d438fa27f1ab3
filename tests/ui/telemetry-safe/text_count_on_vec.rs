use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(text_count)]
    queries: Vec<String>,
}

fn main() {}
