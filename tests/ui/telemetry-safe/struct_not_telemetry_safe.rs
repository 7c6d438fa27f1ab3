use telemetry_core::TelemetrySafe;

struct Settings {
    theme: String,
}

#[derive(TelemetrySafe)]
struct Startup {
    settings: Settings,
}

fn main() {}
