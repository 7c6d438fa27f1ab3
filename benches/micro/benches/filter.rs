//! The privacy filter at the cost of plain serde: one realistic 12-field
//! event serialized filtered, plainly, and the naive way; one keyed hash
//! against one plain SHA-256.
//!
//! `cargo xtask bench` runs this with the other benchmarks and prints the
//! ratios; `cargo bench -p telemetry-benches --bench filter` runs it alone.

use std::path::PathBuf;

use divan::{Bencher, black_box};
use sha2::{Digest, Sha256};
use telemetry_core::{Anonymizer, HashKey, HashScope, TelemetrySafe};
use telemetry_test_support::events::SearchCompleted;

fn main() {
    divan::main();
}

fn anonymizer() -> Anonymizer {
    Anonymizer::new(&HashKey::from_bytes([7; 32]))
}

/// `serde_json::to_writer` of the raw struct with `#[derive(Serialize)]`.
#[divan::bench]
fn serialize_serde_derive(bencher: Bencher<'_, '_>) {
    let event = SearchCompleted::sample(1);
    let mut out = Vec::with_capacity(512);
    bencher.bench_local(|| {
        out.clear();
        serde_json::to_writer(&mut out, black_box(&event)).unwrap();
        black_box(out.len())
    });
}

/// The derive's filtered serializer of `event`, into a reused buffer.
fn bench_filtered(bencher: Bencher<'_, '_>, event: &impl TelemetrySafe) {
    let anonymizer = anonymizer();
    let mut out = Vec::with_capacity(512);
    bencher.bench_local(|| {
        out.clear();
        serde_json::to_writer(&mut out, &black_box(event).telemetry_view(&anonymizer)).unwrap();
        black_box(out.len())
    });
}

/// The derive's filtered serializer, into a reused buffer.
#[divan::bench]
fn serialize_filtered(bencher: Bencher<'_, '_>) {
    bench_filtered(bencher, &SearchCompleted::sample(1));
}

/// `serde_json::to_value`, a walk that applies each field's rule, then the
/// tree to JSON.
#[divan::bench]
fn serialize_naive_value(bencher: Bencher<'_, '_>) {
    let event = SearchCompleted::sample(1);
    let mut out = Vec::with_capacity(512);
    bencher.bench_local(|| {
        out.clear();
        telemetry_test_support::events::naive_filtered(black_box(&event), &mut out).unwrap();
        black_box(out.len())
    });
}

/// An event with one `#[telemetry(hash)]` field.
#[derive(TelemetrySafe)]
struct HashedPath {
    #[telemetry(hash)]
    path: PathBuf,
}

/// A 64-byte path.
fn path_64() -> PathBuf {
    let path = PathBuf::from("/home/ana/projects/invoicing-service/src/parsers/invoice_line.rs");
    assert_eq!(path.as_os_str().len(), 64);
    path
}

/// One hashed field: keyed HMAC-SHA256, truncated, hex, into a reused buffer.
#[divan::bench]
fn hash_field(bencher: Bencher<'_, '_>) {
    bench_filtered(bencher, &HashedPath { path: path_64() });
}

/// The keyed digest alone, without JSON.
#[divan::bench]
fn hash_digest(bencher: Bencher<'_, '_>) {
    let path = path_64();
    let anonymizer = anonymizer();
    bencher.bench_local(|| {
        anonymizer
            .hash(
                HashScope::Installation,
                black_box(path.as_os_str().as_encoded_bytes()),
            )
            .unwrap()
    });
}

/// One plain SHA-256 of the same 64 bytes.
#[divan::bench]
fn hash_plain_sha256(bencher: Bencher<'_, '_>) {
    let path = path_64();
    bencher.bench_local(|| Sha256::digest(black_box(path.as_os_str().as_encoded_bytes())));
}
