use std::net::IpAddr;

use telemetry_core::TelemetrySafe;

#[derive(TelemetrySafe)]
struct Connection {
    resolved: Option<Vec<IpAddr>>,
}

fn main() {}
