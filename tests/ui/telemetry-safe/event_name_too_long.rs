use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
#[telemetry(event = "search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_search_")]
struct Search {
    results: u64,
}

fn main() {}
