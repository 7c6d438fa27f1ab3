//! The micro benchmarks live in `benches/` (`cargo bench -p
//! telemetry-benches`); this library is empty. A package of their own, so
//! that the crates they measure carry no benchmark dependencies.

#![forbid(unsafe_code)]
