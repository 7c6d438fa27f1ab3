use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    #[telemetry(count = "x")]
    open_files: Vec<String>,
}

fn main() {}
