//! A sampling decision allocates nothing, for every kind of id, and neither
//! does the runtime hook nor writing a decision's `th`.
//!
//! A test binary of its own, because the counting allocator is global and a
//! test running beside this one would allocate into the count.

use std::hint::black_box;

use telemetry_core::sampling::{Sampler, Threshold};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn deciding_allocates_nothing() {
    let sampler = Sampler::new(b"app-salt", Threshold::from_percent(10.0).unwrap())
        .module("checkout", Threshold::from_probability(0.5).unwrap())
        .failures(Threshold::from_probability(0.9).unwrap());
    let ids = [
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f",
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "req-8f3a2c",
        "a much longer request id that takes two blocks of SHA-256 to hash, at least",
    ];
    let hook = sampler.clone().hook();
    // The hook's per-thread generator is made on first use.
    black_box(hook("warm-up"));

    let _profiler = dhat::Profiler::builder()
        .testing()
        .file_name(concat!(
            env!("CARGO_TARGET_TMPDIR"),
            "/sampling_alloc-dhat-heap.json"
        ))
        .build();
    let before = dhat::HeapStats::get();
    let mut kept = 0u32;
    for round in 0..2_000 {
        for id in ids {
            for module in ["checkout", "summarize"] {
                let decision = sampler.decide(black_box(module), black_box(id), round % 2 == 0);
                kept += u32::from(decision.keep);
                black_box(decision.threshold.th().len());
                black_box(decision.adjusted_count());
            }
        }
        kept += u32::from(hook(black_box("session_summary")));
    }
    let after = dhat::HeapStats::get();
    assert!(kept > 0);
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    dhat::assert_eq!(after.total_bytes, before.total_bytes);
}
