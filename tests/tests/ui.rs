//! Compile-fail cases: every mistake the derives report, one file each.
//!
//! Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p telemetry-tests --test ui`, then read
//! every changed `.stderr`: the caret must sit under the user's wrong token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    // Relative to this crate's directory, `tests/`.
    t.compile_fail("ui/**/*.rs");
}
