//! What one sampling decision costs (`Sampler::decide`): for a UUID, whose
//! randomness is its last 56 bits, and for a short id that is hashed (a
//! keyed SHA-256 from a state that absorbed the salt's key block in
//! `Sampler::new`), beside one plain SHA-256 of the same id, the floor of
//! the hashed decision. Target: 100 ns each;
//! `crates/telemetry-core/tests/sampling_alloc.rs` checks that neither
//! allocates.
//!
//! `cargo xtask bench` runs this with the other benchmarks;
//! `cargo bench -p telemetry-benches --bench sampling` runs it alone.

use divan::{Bencher, black_box};
use sha2::{Digest, Sha256};
use telemetry_core::sampling::{Sampler, Threshold};

fn main() {
    divan::main();
}

fn sampler() -> Sampler {
    Sampler::new(b"bench-salt", Threshold::from_percent(10.0).unwrap())
        .module("checkout", Threshold::from_probability(0.5).unwrap())
        .module("summarize", Threshold::from_probability(0.25).unwrap())
}

/// A hyphenated UUID v7 (as the runtime makes event ids).
#[divan::bench(sample_count = 500, sample_size = 1000)]
fn sampling_decide_uuid(bencher: Bencher<'_, '_>) {
    let sampler = sampler();
    bencher.bench_local(|| {
        sampler.decide(
            black_box("summarize"),
            black_box("0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f"),
            black_box(true),
        )
    });
}

/// A W3C trace id (32 lowercase hex digits).
#[divan::bench(sample_count = 500, sample_size = 1000)]
fn sampling_decide_trace_id(bencher: Bencher<'_, '_>) {
    let sampler = sampler();
    bencher.bench_local(|| {
        sampler.decide(
            black_box("summarize"),
            black_box("4bf92f3577b34da6a3ce929d0e0e4736"),
            black_box(true),
        )
    });
}

/// A short id that is not a UUID: keyed SHA-256 under the salt.
#[divan::bench(sample_count = 500, sample_size = 1000)]
fn sampling_decide_hashed(bencher: Bencher<'_, '_>) {
    let sampler = sampler();
    bencher.bench_local(|| {
        sampler.decide(
            black_box("summarize"),
            black_box("req-8f3a2c"),
            black_box(true),
        )
    });
}

/// One plain SHA-256 of the same short id: what the keyed hash cannot beat.
#[divan::bench(sample_count = 500, sample_size = 1000)]
fn sampling_plain_sha256(bencher: Bencher<'_, '_>) {
    bencher.bench_local(|| Sha256::digest(black_box("req-8f3a2c").as_bytes()));
}

/// The runtime hook: the event name's threshold and fresh randomness.
#[divan::bench(sample_count = 500, sample_size = 1000)]
fn sampling_hook(bencher: Bencher<'_, '_>) {
    let hook = sampler().hook();
    bencher.bench_local(|| hook(black_box("session_summary")));
}
