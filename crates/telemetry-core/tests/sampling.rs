//! Consistent probability sampling: the spec's worked examples, the
//! properties that make a sample consistent, the statistics of a large
//! sample, and a golden file of decisions that must never change.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use sha2::Sha256;
use telemetry_core::sampling::{Decision, Randomness, Sampler, SamplingError, Threshold};

const TWO_56: u64 = 1 << 56;

fn p(value: f64) -> Threshold {
    Threshold::from_probability(value).unwrap()
}

// --- The spec's examples ---------------------------------------------------

/// The table of `tracestate-probability-sampling.md` ("Converting
/// floating-point probability to threshold value"): 1-in-N, then the
/// threshold, the actual probability and the exact adjusted count at
/// precision 3, 4 and 5.
type SpecRow = (u32, [&'static str; 3], [f64; 3], [f64; 3]);

#[rustfmt::skip]
#[allow(clippy::unreadable_literal, reason = "the spec's table, digit for digit")]
const SPEC_TABLE: &[SpecRow] = &[
    (1, ["0", "0", "0"], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
    (2, ["8", "8", "8"], [0.5, 0.5, 0.5], [2.0, 2.0, 2.0]),
    (3, ["aab", "aaab", "aaaab"], [0.333251953125, 0.3333282470703125, 0.33333301544189453], [3.0007326007326007, 3.00004577706569, 3.0000028610256777]),
    (4, ["c", "c", "c"], [0.25, 0.25, 0.25], [4.0, 4.0, 4.0]),
    (5, ["ccd", "cccd", "ccccd"], [0.199951171875, 0.1999969482421875, 0.19999980926513672], [5.001221001221001, 5.0000762951094835, 5.0000047683761295]),
    (8, ["e", "e", "e"], [0.125, 0.125, 0.125], [8.0, 8.0, 8.0]),
    (10, ["e66", "e666", "e6666"], [0.10009765625, 0.100006103515625, 0.10000038146972656], [9.990243902439024, 9.99938968568813, 9.999961853172863]),
    (16, ["f", "f", "f"], [0.0625, 0.0625, 0.0625], [16.0, 16.0, 16.0]),
    (100, ["fd71", "fd70a", "fd70a4"], [0.0099945068359375, 0.010000228881835938, 0.009999990463256836], [100.05496183206107, 99.99771123402633, 100.00009536752259]),
    (1000, ["ffbe7", "ffbe77", "ffbe76d"], [0.0010004043579101562, 0.0009999871253967285, 0.000999998301267624], [999.5958055290753, 1000.012874769029, 1000.0016987352618]),
    (10000, ["fff972", "fff9724", "fff97247"], [0.00010001659393310547, 0.00010000169277191162, 0.00010000006295740604], [9998.340882002383, 9999.830725674266, 9999.99370426336]),
    (100_000, ["ffff584", "ffff583a", "ffff583a5"], [9.998679161071777e-06, 1.00000761449337e-05, 1.0000003385357559e-05], [100013.21013412817, 99999.238556461, 99999.96614643588]),
    (1_000_000, ["ffffef4", "ffffef39", "ffffef391"], [9.98377799987793e-07, 1.00000761449337e-06, 9.999930625781417e-07], [1.0016248358208955e+06, 999992.38556461, 1.0000069374699865e+06]),
];

fn close(actual: f64, expected: f64) -> bool {
    ((actual - expected) / expected).abs() < 1e-12
}

#[test]
fn the_spec_table_at_precision_3_4_and_5() {
    for &(n, ths, probabilities, counts) in SPEC_TABLE {
        let probability = 1.0 / f64::from(n);
        for (index, digits) in [3u8, 4, 5].into_iter().enumerate() {
            let t = Threshold::from_probability_with_precision(probability, digits).unwrap();
            assert_eq!(t.th(), ths[index], "1-in-{n} at precision {digits}");
            assert!(
                close(t.probability(), probabilities[index]),
                "1-in-{n} at precision {digits}: probability {}",
                t.probability()
            );
            assert!(
                close(t.adjusted_count(), counts[index]),
                "1-in-{n} at precision {digits}: adjusted count {}",
                t.adjusted_count()
            );
        }
    }
}

#[test]
fn the_spec_definitions_examples() {
    // "if the sampling probability is 100% (keep all spans), the rejection
    // threshold is 0", written `th:0`.
    assert_eq!(p(1.0), Threshold::ALWAYS);
    assert_eq!(Threshold::ALWAYS.unsigned(), 0);
    assert_eq!(Threshold::ALWAYS.th(), "0");
    // 1% "with 5 digits of precision would be (1-0.01) * 2^56 ≈
    // 71337018784743424 = 0xfd70a400000000", `th` `fd70a4`.
    let one_percent = Threshold::from_probability_with_precision(0.01, 5).unwrap();
    assert_eq!(one_percent.unsigned(), 71_337_018_784_743_424);
    assert_eq!(one_percent.unsigned(), 0xfd_70a4_0000_0000);
    assert_eq!(one_percent.th(), "fd70a4");
    assert_eq!(Threshold::parse_th("fd70a4").unwrap(), one_percent);
    // Powers of two are exact at any precision.
    assert_eq!(p(0.5).th(), "8");
    assert_eq!(p(0.5).unsigned(), 1 << 55);
    assert_eq!(p(0.25).th(), "c");
    assert_eq!(p(0.125).th(), "e");
    assert_eq!(p(0.0625).th(), "f");
    // The extremes of the range.
    let smallest = p(Threshold::MIN_PROBABILITY);
    assert_eq!(smallest.unsigned(), TWO_56 - 1);
    assert_eq!(smallest.th(), "ffffffffffffff");
    assert_eq!(smallest.adjusted_count(), 2f64.powi(56));
    assert_eq!(
        Threshold::from_probability_with_precision(Threshold::MIN_PROBABILITY, 4).unwrap(),
        smallest,
        "precision rises with every leading f, up to all 14 digits"
    );
}

#[test]
fn full_precision_is_round_of_p_times_2_56() {
    // Worked out by hand: T = 2^56 - round(p × 2^56).
    assert_eq!(p(0.1).unsigned(), 0xe6_6666_6666_6666);
    assert_eq!(p(0.1).th(), "e6666666666666");
    assert_eq!(p(1.0 / 3.0).th(), "aaaaaaaaaaaaac");
    assert_eq!(p(0.001).th(), "ffbe76c8b43958");
    assert_eq!(p(0.999_999).th(), "000010c6f7a0b8");
    // A tie rounds half away from zero, as Go's math.Round in the spec's
    // reference: 3 × 2^-57 × 2^56 = 1.5 → 2.
    assert_eq!(p(3.0 * 2f64.powi(-57)).unsigned(), TWO_56 - 2);
    // 0.75 = 1 - 2^-2: T = 2^54.
    assert_eq!(p(0.75).unsigned(), 1 << 54);
    assert_eq!(p(0.75).th(), "4");
}

#[test]
fn percents_are_hundredths() {
    assert_eq!(Threshold::from_percent(10.0).unwrap(), p(0.1));
    assert_eq!(Threshold::from_percent(100.0).unwrap(), Threshold::ALWAYS);
    assert_eq!(Threshold::from_percent(50.0).unwrap().th(), "8");
    assert_eq!(Threshold::from_percent(0.1).unwrap(), p(0.001));
}

#[test]
fn th_values_parse_as_the_spec_says() {
    assert_eq!(Threshold::parse_th("8").unwrap().unsigned(), 1 << 55);
    assert_eq!(
        Threshold::parse_th("80").unwrap(),
        Threshold::parse_th("8").unwrap()
    );
    assert_eq!(Threshold::parse_th("0").unwrap(), Threshold::ALWAYS);
    assert_eq!(
        Threshold::parse_th("00000000000000").unwrap(),
        Threshold::ALWAYS
    );
    assert_eq!(
        Threshold::parse_th("ffffffffffffff").unwrap().unsigned(),
        TWO_56 - 1
    );
    assert_eq!(Threshold::parse_th("1").unwrap().unsigned(), 1 << 52);
    assert_eq!(Threshold::parse_th("00000000000001").unwrap().unsigned(), 1);
    assert_eq!(
        Threshold::parse_th("00000000000001").unwrap().th(),
        "00000000000001"
    );
}

#[test]
fn errors_name_the_bad_value() {
    for bad in [0.0, -0.5, 1.000_001, f64::NAN, f64::INFINITY, 1e-17] {
        let error = Threshold::from_probability(bad).unwrap_err();
        assert!(matches!(error, SamplingError::Probability { .. }));
        assert!(
            error.to_string().contains(&bad.to_string()),
            "{error} names {bad}"
        );
        assert!(Threshold::from_probability_with_precision(bad, 4).is_err());
    }
    for bad in [0.0, 100.5, -1.0, f64::NAN] {
        let error = Threshold::from_percent(bad).unwrap_err();
        assert!(error.to_string().contains(&format!("{bad}%")), "{error}");
    }
    for (bad, reason) in [
        ("", "empty"),
        ("123456789abcdef", "more than 14 digits"),
        ("8G", "lowercase hexadecimal"),
        ("C", "lowercase hexadecimal"),
        (" 8", "lowercase hexadecimal"),
        ("0x8", "lowercase hexadecimal"),
    ] {
        let error = Threshold::parse_th(bad).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&format!("`{bad}`")), "{message}");
        assert!(message.contains(reason), "{message}");
    }
    assert_eq!(
        Threshold::from_unsigned(TWO_56).unwrap_err().to_string(),
        "sampling threshold 72057594037927936 is not below 2^56"
    );
    assert_eq!(
        Threshold::from_unsigned(TWO_56 - 1).unwrap(),
        p(Threshold::MIN_PROBABILITY)
    );
    for digits in [0, 15] {
        let error = Threshold::from_probability_with_precision(0.5, digits).unwrap_err();
        assert!(
            error.to_string().contains(&format!("{digits} digits")),
            "{error}"
        );
    }
}

#[test]
fn thresholds_serialize_as_th() {
    let t = Threshold::from_probability_with_precision(0.1, 4).unwrap();
    assert_eq!(serde_json::to_string(&t).unwrap(), r#""e666""#);
    assert_eq!(serde_json::to_string(&t.th()).unwrap(), r#""e666""#);
    assert_eq!(t.to_string(), "e666");
    assert_eq!(format!("{:?}", t.th()), r#""e666""#);
    let back: Threshold = serde_json::from_str(r#""e666""#).unwrap();
    assert_eq!(back, t);
    // An owned string (escaped in JSON) reads as well as a borrowed one.
    let escaped: Threshold = serde_json::from_str(r#""\u0038""#).unwrap();
    assert_eq!(escaped, p(0.5));
    let error = serde_json::from_str::<Threshold>(r#""E666""#).unwrap_err();
    assert!(
        error.to_string().contains("`E666` is not a `th` value"),
        "{error}"
    );
}

// --- Randomness and decisions ------------------------------------------------

/// The keyed SHA-256 of `id` under `salt`, first 7 bytes, written out here
/// independently of the sampler: SHA-256 of HMAC's inner key block (RFC
/// 2104) followed by the id.
fn keyed_56(salt: &[u8], id: &str) -> u64 {
    use sha2::Digest;
    let key: Vec<u8> = if salt.len() > 64 {
        Sha256::digest(salt).to_vec()
    } else {
        salt.to_vec()
    };
    let mut message: Vec<u8> = (0..64)
        .map(|at| key.get(at).copied().unwrap_or(0) ^ 0x36)
        .collect();
    message.extend_from_slice(id.as_bytes());
    Sha256::digest(&message)[..7]
        .iter()
        .fold(0, |bits, &byte| (bits << 8) | u64::from(byte))
}

#[test]
fn randomness_comes_from_the_id_or_a_keyed_hash() {
    let sampler = Sampler::new(b"golden-salt", Threshold::ALWAYS);
    let other = Sampler::new(b"other-salt", Threshold::ALWAYS);
    // A UUID v4's last 7 bytes, whatever the salt, case or form.
    for id in [
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "F47AC10B-58CC-4372-A567-0E02B2C3D479",
        "f47ac10b58cc4372a5670e02b2c3d479",
        "F47AC10B58CC4372A5670E02B2C3D479",
    ] {
        assert_eq!(sampler.randomness(id).bits(), 0x67_0e02_b2c3_d479, "{id}");
        assert_eq!(other.randomness(id), sampler.randomness(id), "{id}");
    }
    // A UUID v7's random tail.
    assert_eq!(
        sampler
            .randomness("0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f")
            .bits(),
        0x4e_3d2b_1a0c_9e8f
    );
    // The W3C Trace Context example trace id: its rightmost 56 bits.
    assert_eq!(
        sampler
            .randomness("4bf92f3577b34da6a3ce929d0e0e4736")
            .bits(),
        0xce_929d_0e0e_4736
    );
    // Anything else is hashed under the salt. Values from Python's
    // `sha256(bytes(b ^ 0x36 for b in salt.ljust(64, b"\0")) + id).hexdigest()[:14]`.
    assert_eq!(sampler.randomness("req-42").bits(), 0xe5_4bb5_9149_c081);
    assert_eq!(sampler.randomness("").bits(), 0x35_5c06_79f0_05d1);
    assert_eq!(sampler.randomness("user-1").bits(), 0xf1_70de_d29b_bc33);
    // A salt longer than a block is hashed first, as HMAC does.
    let long = Sampler::new(&[b'x'; 100], Threshold::ALWAYS);
    assert_eq!(long.randomness("req-42").bits(), 0xad_cbc3_7d76_218d);
    assert_eq!(
        long.randomness("req-42").bits(),
        keyed_56(&[b'x'; 100], "req-42")
    );
    for id in [
        "req-42",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8", // v1: a clock and a MAC address
        "886313e1-3b8a-5372-9b90-0c9aee199e5d", // v5
        "00000000000000000000000000000000",     // not a valid trace id
        "{f47ac10b-58cc-4372-a567-0e02b2c3d479}",
        "请求-42",
    ] {
        assert_eq!(
            sampler.randomness(id).bits(),
            keyed_56(b"golden-salt", id),
            "{id}"
        );
        assert_ne!(sampler.randomness(id), other.randomness(id), "{id}");
    }
}

#[test]
fn randomness_is_56_bits() {
    assert_eq!(Randomness::from_bits(u64::MAX).bits(), TWO_56 - 1);
    assert_eq!(Randomness::from_bits(u64::MAX), Randomness::MAX);
    assert_eq!(Randomness::from_bits(1 << 56).bits(), 0);
    assert!(p(Threshold::MIN_PROBABILITY).keeps(Randomness::MAX));
    assert!(!p(Threshold::MIN_PROBABILITY).keeps(Randomness::from_bits(TWO_56 - 2)));
    assert!(Threshold::ALWAYS.keeps(Randomness::from_bits(0)));
    assert!(p(0.5).keeps(Randomness::from_bits(1 << 55)));
    assert!(!p(0.5).keeps(Randomness::from_bits((1 << 55) - 1)));
}

#[test]
fn failures_and_modules_keep_at_their_own_thresholds() {
    let tenth = p(0.1);
    let half = p(0.5);
    let sampler = Sampler::new(b"salt", tenth)
        .module("checkout", half)
        .module("noisy", p(0.001));
    assert_eq!(sampler.default_threshold(), tenth);
    assert_eq!(sampler.threshold_for("search", true), tenth);
    assert_eq!(sampler.threshold_for("checkout", true), half);
    assert_eq!(sampler.threshold_for("noisy", true), p(0.001));
    // Failures: probability 1 by default.
    assert_eq!(sampler.threshold_for("search", false), Threshold::ALWAYS);
    assert_eq!(sampler.threshold_for("noisy", false), Threshold::ALWAYS);
    // With a failure probability, a failure is kept at whichever keeps more.
    let sampler = sampler.failures(p(0.25));
    assert_eq!(sampler.threshold_for("search", false), p(0.25));
    assert_eq!(sampler.threshold_for("checkout", false), half);
    assert_eq!(sampler.threshold_for("noisy", false), p(0.25));

    // UUID v4s whose randomness is 0x2aaa… (about 1/6 of 2^56: kept only
    // from p = 5/6 up) and 0xf0aa… (about 0.94: kept from p = 0.06 up).
    let low = "aaaaaaaa-aaaa-4aaa-a02a-aaaaaaaaaaaa";
    let high = "aaaaaaaa-aaaa-4aaa-a0f0-aaaaaaaaaaaa";
    assert_eq!(sampler.randomness(low).bits(), 0x2a_aaaa_aaaa_aaaa);
    assert_eq!(sampler.randomness(high).bits(), 0xf0_aaaa_aaaa_aaaa);
    assert_eq!(
        sampler.decide("checkout", low, true),
        Decision {
            keep: false,
            threshold: half
        }
    );
    // A failure in checkout is kept at 50% (which keeps more than 25%).
    assert_eq!(
        sampler.decide("checkout", low, false),
        Decision {
            keep: false,
            threshold: half
        }
    );
    // With the default failure rule, every failure is kept.
    assert_eq!(
        Sampler::new(b"salt", tenth).decide("checkout", low, false),
        Decision {
            keep: true,
            threshold: Threshold::ALWAYS
        }
    );
    assert_eq!(
        sampler.decide("search", high, true),
        Decision {
            keep: true,
            threshold: tenth
        }
    );
    assert!(!sampler.decide("noisy", high, true).keep);
    assert_eq!(
        sampler.decide("noisy", high, false),
        Decision {
            keep: true,
            threshold: p(0.25)
        }
    );
}

#[test]
fn a_decision_carries_its_adjusted_count() {
    let sampler = Sampler::new(b"salt", p(0.25));
    let kept = sampler.decide("m", "aaaaaaaa-aaaa-4aaa-a0f0-aaaaaaaaaaaa", true);
    assert!(kept.keep);
    assert_eq!(kept.threshold.th(), "c");
    assert_eq!(kept.adjusted_count(), 4.0);
    let dropped = sampler.decide("m", "aaaaaaaa-aaaa-4aaa-a02a-aaaaaaaaaaaa", true);
    assert!(!dropped.keep);
    assert_eq!(dropped.adjusted_count(), 0.0);
    assert_eq!(dropped.threshold.adjusted_count(), 4.0);
}

#[test]
fn the_salt_never_shows() {
    let sampler = Sampler::new(b"very-secret-salt", p(0.5)).module("checkout", p(0.25));
    let shown = format!("{sampler:?}");
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(
        shown.contains("[redacted]") && shown.contains("checkout"),
        "{shown}"
    );
}

#[test]
fn the_hook_keeps_each_name_at_its_threshold_with_fresh_randomness() {
    let hook = Sampler::new(b"salt", p(0.25))
        .module("always", Threshold::ALWAYS)
        .module("rare", p(Threshold::MIN_PROBABILITY))
        .hook();
    assert!((0..10_000).all(|_| hook("always")));
    assert!((0..10_000).all(|_| !hook("rare")));
    // Independent draws at 25%: 100,000 of them fall within 6 standard
    // deviations (0.0014 each) of a quarter, and differ from call to call.
    let n = 100_000;
    let kept = (0..n).filter(|_| hook("session_summary")).count();
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let fraction = kept as f64 / f64::from(n);
    assert!((fraction - 0.25).abs() < 0.0082, "{fraction}");
    // Threads draw their own randomness.
    let hook = std::sync::Arc::new(hook);
    let counts: Vec<usize> = (0..2)
        .map(|_| {
            let hook = hook.clone();
            std::thread::spawn(move || (0..10_000).filter(|_| hook("x")).count())
        })
        .map(|thread| thread.join().unwrap())
        .collect();
    for count in counts {
        assert!((2_000..3_000).contains(&count), "{count}");
    }
}

// --- Statistics --------------------------------------------------------------

/// Over 100,000 fixed ids, the fraction kept is within 5 standard deviations
/// of `p`, and the adjusted counts of the kept ones add up to about 100,000.
fn check_fraction(sampler: &Sampler, ids: &[String], probability: f64) {
    let threshold = p(probability);
    let sampler = sampler.clone().module("m", threshold);
    let decisions: Vec<Decision> = ids.iter().map(|id| sampler.decide("m", id, true)).collect();
    let kept = decisions.iter().filter(|decision| decision.keep).count();
    #[allow(clippy::cast_precision_loss, reason = "small counts")]
    let (kept, n) = (kept as f64, ids.len() as f64);
    let sd = (probability * (1.0 - probability) / n).sqrt();
    assert!(
        (kept / n - probability).abs() <= 5.0 * sd,
        "kept {kept} of {n} at p = {probability}"
    );
    let estimate: f64 = decisions.iter().map(Decision::adjusted_count).sum();
    assert!(
        (estimate - n).abs() <= 5.0 * sd * n / probability,
        "estimated {estimate} of {n} at p = {probability}"
    );
}

#[test]
fn hashed_ids_are_kept_at_their_probability() {
    let sampler = Sampler::new(b"golden-salt", Threshold::ALWAYS);
    let ids: Vec<String> = (0..100_000).map(|i| format!("user-{i}")).collect();
    for probability in [0.5, 0.1, 1.0 / 3.0, 0.01, 0.999] {
        check_fraction(&sampler, &ids, probability);
    }
}

#[test]
fn trace_ids_and_uuids_are_kept_at_their_probability() {
    use sha2::Digest;
    let sampler = Sampler::new(b"golden-salt", Threshold::ALWAYS);
    // Random-looking 128-bit ids: the SHA-256 of a counter, as trace ids
    // and as hyphenated UUID v4s.
    let digests: Vec<String> = (0u32..100_000)
        .map(|i| {
            Sha256::digest(i.to_le_bytes())[..16]
                .iter()
                .fold(String::new(), |mut hex, byte| {
                    let _ = write!(hex, "{byte:02x}");
                    hex
                })
        })
        .collect();
    let uuids: Vec<String> = digests
        .iter()
        .map(|hex| {
            format!(
                "{}-{}-4{}-a{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[13..16],
                &hex[17..20],
                &hex[20..]
            )
        })
        .collect();
    for probability in [0.5, 0.1, 0.01] {
        check_fraction(&sampler, &digests, probability);
        check_fraction(&sampler, &uuids, probability);
    }
}

// --- Properties ----------------------------------------------------------------

/// A probability anywhere in [2^-56, 1], spread over its exponents.
fn probability() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0.0..=1.0f64).prop_filter("in range", |p| *p >= Threshold::MIN_PROBABILITY),
        (-56i32..=0, 1.0..2.0f64).prop_map(|(exp, m)| (m * 2f64.powi(exp)).min(1.0)),
        Just(1.0),
        Just(Threshold::MIN_PROBABILITY),
    ]
}

/// Ids of every kind the sampler reads.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9-]{0,40}",
        "[0-9a-f]{32}",
        "[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// An item kept at probability p is kept at every q >= p.
    #[test]
    fn a_kept_item_is_kept_at_every_higher_probability(
        id in id(),
        a in probability(),
        b in probability(),
        success: bool,
    ) {
        let (low, high) = (a.min(b), a.max(b));
        let at = |probability| Sampler::new(b"prop-salt", p(probability)).decide("m", &id, success);
        if at(low).keep {
            prop_assert!(at(high).keep, "{id:?} kept at {low}, dropped at {high}");
        }
    }

    #[test]
    fn thresholds_fall_as_probabilities_rise(a in probability(), b in probability()) {
        let (low, high) = (a.min(b), a.max(b));
        prop_assert!(p(low) >= p(high));
        prop_assert!(p(low).probability() <= p(high).probability());
    }

    #[test]
    fn a_threshold_is_its_probability_to_56_bits(probability in probability()) {
        let t = p(probability);
        prop_assert!(t.unsigned() < TWO_56);
        prop_assert!((t.probability() - probability).abs() <= 2f64.powi(-56));
    }

    #[test]
    fn th_round_trips(t in 0..TWO_56) {
        let threshold = Threshold::from_unsigned(t).unwrap();
        let th = threshold.th();
        prop_assert_eq!(Threshold::parse_th(&th).unwrap(), threshold);
        prop_assert!((1..=14).contains(&th.len()));
        prop_assert!(th.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        prop_assert!(&*th == "0" || !th.ends_with('0'), "{}", th);
    }

    #[test]
    fn reduced_precision_stays_in_range_and_round_trips(
        probability in probability(),
        digits in 1u8..=14,
    ) {
        let t = Threshold::from_probability_with_precision(probability, digits).unwrap();
        prop_assert!(t.unsigned() < TWO_56);
        prop_assert_eq!(Threshold::parse_th(&t.th()).unwrap(), t);
        if digits == 14 {
            prop_assert_eq!(t, p(probability));
        }
    }
}

// --- The golden file -------------------------------------------------------------

const GOLDEN: &str = "tests/golden/sampling.tsv";
const GOLDEN_SALT: &[u8] = b"golden-salt";

/// Ids of every kind, with what kind they are (a label for the reader and
/// for [`the_golden_rows_check_out_by_hand`], not computed).
const GOLDEN_IDS: &[(&str, &str)] = &[
    ("f47ac10b-58cc-4372-a567-0e02b2c3d479", "uuid-v4"),
    ("9b2e6f1c-3d4a-4f5b-8c6d-7e8f90a1b2c3", "uuid-v4"),
    ("F47AC10B-58CC-4372-A567-0E02B2C3D479", "uuid-v4"),
    ("3FA85F6457174562B3FC2C963F66AFA6", "uuid-v4"),
    ("3fa85f6457174562b3fc2c963f66afa6", "trace-id"),
    ("0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f", "uuid-v7"),
    ("018f3a2b-1c4d-7e5f-a617-28394a5b6c7d", "uuid-v7"),
    ("01932c07-209c-7bd4-bf3e-ffffffffffff", "uuid-v7"),
    ("4bf92f3577b34da6a3ce929d0e0e4736", "trace-id"),
    ("0af7651916cd43dd8448eb211c80319c", "trace-id"),
    ("00000000000000000000000000000001", "trace-id"),
    ("000000000000000000ffffffffffffff", "trace-id"),
    ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "hashed"),
    ("886313e1-3b8a-5372-9b90-0c9aee199e5d", "hashed"),
    ("00000000-0000-0000-0000-000000000000", "hashed"),
    ("00000000000000000000000000000000", "hashed"),
    ("4BF92F3577B31DA6A3CE929D0E0E4736", "hashed"),
    ("{f47ac10b-58cc-4372-a567-0e02b2c3d479}", "hashed"),
    ("f47ac10b-58cc-4372-a567-0e02b2c3d47", "hashed"),
    ("req-42", "hashed"),
    ("", "hashed"),
    ("order 1234", "hashed"),
    ("请求-42", "hashed"),
    (
        "session-2024-06-01-checkout-summarize-invoice-v3-0000000000000000000000000000000000",
        "hashed",
    ),
];

const GOLDEN_PROBABILITIES: &[(&str, f64)] = &[
    ("2^-56", Threshold::MIN_PROBABILITY),
    ("1e-6", 1e-6),
    ("1e-3", 1e-3),
    ("0.01", 0.01),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("1/3", 1.0 / 3.0),
    ("0.5", 0.5),
    ("0.9", 0.9),
    ("0.999999", 0.999_999),
    ("1", 1.0),
];

fn golden_text() -> String {
    let sampler = Sampler::new(GOLDEN_SALT, Threshold::ALWAYS);
    let mut out = String::from(
        "# Sampling decisions that must never change (telemetry-core tests/sampling.rs).\n\
         # Salt: the bytes \"golden-salt\". Regenerate with\n\
         #   TELEMETRY_UPDATE_GOLDEN=1 cargo test -p telemetry-core --test sampling\n\
         # and review the diff: a changed row is a changed sample.\n\
         id\tkind\tprobability\trv\tth\tkeep\n",
    );
    for &(id, kind) in GOLDEN_IDS {
        for &(label, probability) in GOLDEN_PROBABILITIES {
            let module = format!("p{label}");
            let decision = sampler
                .clone()
                .module(module.as_str(), p(probability))
                .decide(&module, id, true);
            let _ = writeln!(
                out,
                "{id}\t{kind}\t{label}\t{:014x}\t{}\t{}",
                sampler.randomness(id).bits(),
                decision.threshold.th(),
                decision.keep
            );
        }
    }
    out
}

#[test]
fn decisions_match_the_golden_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let generated = golden_text();
    if std::env::var_os("TELEMETRY_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let (old, new): (Vec<&str>, Vec<&str>) =
        (committed.lines().collect(), generated.lines().collect());
    let changed: Vec<String> = (0..old.len().max(new.len()))
        .filter(|&at| old.get(at) != new.get(at))
        .map(|at| {
            let was = old.get(at).copied().unwrap_or("(no line)");
            let now = new.get(at).copied().unwrap_or("(no line)");
            format!("  line {}, was: {was}\n  now: {now}", at + 1)
        })
        .take(20)
        .collect();
    assert!(
        committed == generated,
        "{} is missing or stale ({} lines committed, {} generated); if the change is \
         intended, regenerate it with \
         `TELEMETRY_UPDATE_GOLDEN=1 cargo test -p telemetry-core --test sampling` \
         and review the diff:\n{}",
        path.display(),
        committed.lines().count(),
        generated.lines().count(),
        changed.join("\n")
    );
}

/// The golden rows, checked without the sampler: `keep` is `rv >= th`
/// compared as numbers, a UUID's or trace id's `rv` is the last 14 hex
/// digits of its text, a hashed id's is the keyed hash written out here, and
/// each `th` is `2^56 - round(p × 2^56)`.
#[test]
fn the_golden_rows_check_out_by_hand() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    let text = std::fs::read_to_string(path).unwrap();
    let probabilities: BTreeMap<&str, f64> = GOLDEN_PROBABILITIES.iter().copied().collect();
    let mut rows = 0;
    for line in text.lines().filter(|line| !line.starts_with('#')).skip(1) {
        let [id, kind, label, rv, th, keep] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("not six columns: {line:?}");
        };
        let rv = u64::from_str_radix(rv, 16).unwrap();
        let expected_rv = if kind == "hashed" {
            keyed_56(GOLDEN_SALT, id)
        } else {
            let hex: String = id.chars().filter(|c| *c != '-').collect();
            u64::from_str_radix(&hex[hex.len() - 14..], 16).unwrap()
        };
        assert_eq!(rv, expected_rv, "{line}");
        let mut digits = th.to_owned();
        while digits.len() < 14 {
            digits.push('0');
        }
        let t = u64::from_str_radix(&digits, 16).unwrap();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "probabilities in [2^-56, 1]"
        )]
        let expected_t = TWO_56 - (probabilities[label] * TWO_56 as f64).round() as u64;
        assert_eq!(t, expected_t, "{line}");
        assert_eq!(keep == "true", rv >= t, "{line}");
        rows += 1;
    }
    assert_eq!(rows, GOLDEN_IDS.len() * GOLDEN_PROBABILITIES.len());
    // The file covers kept and dropped rows of every kind.
    for kind in ["uuid-v4", "uuid-v7", "trace-id", "hashed"] {
        for keep in ["true", "false"] {
            assert!(
                text.lines()
                    .any(|line| line.contains(&format!("\t{kind}\t")) && line.ends_with(keep)),
                "no {kind} row with keep {keep}"
            );
        }
    }
}
