//! `guard::redact` on generated text: whatever lines surround the planted
//! values, none of them survives, nothing the detectors flag is left, and
//! what they accept is kept.

use proptest::prelude::*;
use telemetry_core::guard::{detect, redact};

/// Values every detector family flags.
const PLANTED: &[&str] = &[
    "ana@example.com",
    "/home/ana/notes.md",
    "~/secrets/x",
    r"C:\Users\ana",
    "sk-proj-4f9Xk2LqZ8rT5vW1",
    "ghp_1234567890abcdefABCDEF",
    "https://user:pw@example.com/x",
    "https://api.example.com/x?access_token=abc123",
    "4111 1111 1111 1111",
    "DE89370400440532013000",
    "192.168.1.20",
    "fe80::1",
    "00:1a:2b:3c:4d:5e",
    "Authorization: Bearer abc123",
    "password=hunter2",
];

/// Words that pass the detectors.
const WORDS: &[&str] = &[
    "fix",
    "the",
    "bug",
    "in",
    "src/main.rs",
    "and/or",
    "cargo",
    "test",
    "-p",
    "x",
    "=",
    "(",
    ")",
    "\"",
    "'",
    ":",
    ",",
    ".",
    "+",
    "-",
    "v1.2.3",
    "10ms",
    "ok",
    "路径",
    "«",
    "»",
    "\n",
    "\t",
];

fn text() -> impl Strategy<Value = (String, Vec<&'static str>)> {
    let piece = prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(|w| (w, false)),
        1 => proptest::sample::select(PLANTED).prop_map(|w| (w, true)),
    ];
    (
        proptest::collection::vec(piece, 0..24),
        proptest::collection::vec(proptest::sample::select(&[" ", "", "\n"][..]), 24),
    )
        .prop_map(|(pieces, glue)| {
            let mut text = String::new();
            let mut planted = Vec::new();
            for (i, (piece, is_planted)) in pieces.into_iter().enumerate() {
                // A planted value stands on a line of its own, so that the
                // detectors see it whole: glued to a neighbour it can become
                // something else (`4111 1111 1111 1111 10ms` is no card
                // number to them), and what the detectors do not flag is not
                // redact's to remove. Its neighbours on other lines share
                // the text, and each line is redacted on its own.
                text.push_str(if is_planted {
                    "\n"
                } else {
                    glue[i % glue.len()]
                });
                text.push_str(piece);
                if is_planted {
                    text.push('\n');
                    planted.push(piece);
                }
            }
            (text, planted)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn nothing_flagged_survives_and_redacting_again_changes_nothing((text, planted) in text()) {
        let redaction = redact(&text);
        let out = redaction.text.as_ref();
        prop_assert_eq!(detect(out), None, "{:?} -> {:?}", text, out);
        for value in &planted {
            prop_assert!(!out.contains(value), "{:?} kept in {:?}", value, out);
        }
        let again = redact(out);
        prop_assert!(again.spans.is_empty());
        prop_assert_eq!(again.text.as_ref(), out);
        if planted.is_empty() && detect(&text).is_none() {
            prop_assert_eq!(out, text.as_str());
        }
        for span in &redaction.spans {
            prop_assert!(text.is_char_boundary(span.range.start) && text.is_char_boundary(span.range.end));
        }
    }
}
