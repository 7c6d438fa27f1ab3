use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Search {
    results: u64,
}

fn send<E: telemetry_core::TelemetryEvent>(_event: &E) {}

fn report(search: &Search) {
    send(search);
}

fn main() {}
