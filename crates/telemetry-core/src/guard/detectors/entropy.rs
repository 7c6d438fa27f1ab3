//! Random-looking tokens:
//! [`Detector::HighEntropy`](crate::guard::Detector::HighEntropy), and the
//! long strings of a payload that look random but pass: the digests our
//! `hash` conversion writes, and UUIDs.

use super::bytes::{ALNUM, DIGIT, LOWER, TOKEN_PUNCTUATION, UPPER, VOWEL, kind};
use crate::HashDigest;

/// Shortest run judged by the entropy detector.
pub(super) const MIN_RUN: usize = 32;

/// True for the hex digest our `hash` conversion writes: exactly what
/// [`HashDigest`] serializes as, 32 lowercase hex digits.
///
/// The guard lets these pass ([`Detector::HighEntropy`] would otherwise flag
/// them), and so does the audit of committed payloads.
///
/// ```
/// use telemetry_core::guard::is_hash_digest;
///
/// assert!(is_hash_digest("d04b64e508b084d7952a0f23f1e4c705"));
/// assert!(!is_hash_digest("D04B64E508B084D7952A0F23F1E4C705"));
/// assert!(!is_hash_digest("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
/// ```
///
/// [`Detector::HighEntropy`]: crate::guard::Detector::HighEntropy
#[must_use]
pub fn is_hash_digest(text: &str) -> bool {
    text.len() == HashDigest::LEN * 2
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `run` is exactly a UUID in its hyphenated form (8-4-4-4-12 hex).
pub(super) fn is_uuid(run: &[u8]) -> bool {
    run.len() == 36
        && run.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// The alphabet of a token run: base64 and base64url without padding.
fn is_token(b: u8) -> bool {
    kind(b) & (ALNUM | TOKEN_PUNCTUATION) != 0
}

pub(super) fn high_entropy(text: &str) -> bool {
    // Each maximal run of token characters of at least `MIN_RUN` bytes,
    // found by looking at every `MIN_RUN`th byte: `start` always begins a
    // run (it follows a byte that is not a token character, or is 0), so
    // when the byte `MIN_RUN - 1` after it is not a token character, no
    // long run starts before it; else the last such byte below it, if any,
    // is the next start. Prose costs about one look per word. A run of
    // token characters is ASCII, so it starts and ends on character
    // boundaries.
    let s = text.as_bytes();
    let mut start = 0;
    while start + MIN_RUN <= s.len() {
        let window = &s[start..start + MIN_RUN];
        if let Some(last_gap) = window.iter().rposition(|&b| !is_token(b)) {
            start += last_gap + 1;
            continue;
        }
        let end = start
            + MIN_RUN
            + s[start + MIN_RUN..]
                .iter()
                .position(|&b| !is_token(b))
                .unwrap_or(s.len() - start - MIN_RUN);
        if text.get(start..end).is_some_and(looks_random) {
            return true;
        }
        start = end + 1;
    }
    false
}

/// Shannon entropy of `run`, in bits per byte.
fn entropy(run: &[u8]) -> f64 {
    let mut counts = [0_u32; 128];
    for &b in run {
        let count = &mut counts[usize::from(b & 0x7f)];
        *count = count.saturating_add(1);
    }
    #[allow(clippy::cast_precision_loss, reason = "lengths far below 2^52")]
    let n = run.len() as f64;
    let sum: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = f64::from(c);
            c * c.log2()
        })
        .sum();
    n.log2() - sum / n
}

/// The kinds [`looks_random`] tells apart: a letter of either case, a
/// vowel, a digit, or 0 for anything else.
const SHAPE: u8 = LOWER | UPPER | DIGIT | VOWEL;

/// Each counter of [`looks_random`] has 16 bits of a `u64`, so that one
/// addition per byte counts them all.
const FIELD_BITS: u32 = 16;
/// Bytes counted before the fields are added up, so that none overflows.
const CHUNK: usize = (1 << FIELD_BITS) - 1;

/// What a byte adds to [`looks_random`]'s counters (alphanumerics, letters,
/// vowels, pieces, one field each), indexed by the [`SHAPE`] of the byte
/// before it and its own: `before << 4 | shape`.
static STEPS: [u64; 256] = steps();

const fn steps() -> [u64; 256] {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::cast_possible_truncation, reason = "i < 256")]
        let (before, shape) = ((i >> 4) as u8, (i & 0xf) as u8);
        if shape & ALNUM != 0 {
            // A piece starts after a separator, at a lower-to-upper case
            // change, and where letters and digits meet.
            let new_piece = before & ALNUM == 0
                || (before & LOWER != 0 && shape & UPPER != 0)
                || (before & DIGIT) != (shape & DIGIT);
            table[i] = 1
                | ((shape & (LOWER | UPPER) != 0) as u64) << FIELD_BITS
                | ((shape & VOWEL != 0) as u64) << (2 * FIELD_BITS)
                | (new_piece as u64) << (3 * FIELD_BITS);
        }
        i += 1;
    }
    table
}

/// Whether a run of 32 or more token characters looks like a random token
/// rather than words; the thresholds are explained on
/// [`Detector::HighEntropy`](crate::guard::Detector::HighEntropy).
fn looks_random(run: &str) -> bool {
    if is_hash_digest(run) || is_uuid(run.as_bytes()) {
        return false;
    }
    let run = run.as_bytes();
    if run.iter().all(u8::is_ascii_hexdigit) {
        return entropy(run) >= 3.0;
    }
    // Words split into few, long pieces and hold vowels; random text splits
    // into many short pieces (at separators, lower-to-upper case and
    // letter-to-digit changes) and has few vowels. Checked before the
    // entropy, which costs more.
    let [alnum, letters, vowels, pieces] = shape_counts(run);
    let short_pieces = alnum <= 3 * pieces;
    let few_vowels = 4 * vowels < letters;
    // A run with no separator is one identifier or one token. CamelCase
    // words are longer and hold more vowels than the pieces of random
    // base62, which about one time in a hundred have pieces of 3 to 4
    // characters and a quarter of their letters vowels.
    let unseparated = alnum == run.len();
    let random_base62 = unseparated && alnum < 4 * pieces && 10 * vowels < 3 * letters;
    (short_pieces || few_vowels || random_base62) && entropy(run) >= 4.0
}

/// The alphanumerics, letters, vowels and pieces of `run`: one table read
/// and one addition per byte.
fn shape_counts(run: &[u8]) -> [usize; 4] {
    let mut counts = [0; 4];
    let mut before = 0;
    for chunk in run.chunks(CHUNK) {
        let mut packed = 0_u64;
        for &b in chunk {
            let shape = kind(b) & SHAPE;
            packed += STEPS[usize::from(before << 4 | shape)];
            before = shape;
        }
        for (field, count) in (0..).zip(&mut counts) {
            #[allow(clippy::cast_possible_truncation, reason = "16 bits")]
            let field = (packed >> (field * FIELD_BITS)) as u16;
            *count += usize::from(field);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_simple_runs() {
        assert!(entropy(b"aaaa").abs() < 1e-12);
        assert!((entropy(b"abab") - 1.0).abs() < 1e-12);
        assert!((entropy(b"0123456789abcdef") - 4.0).abs() < 1e-12);
    }

    /// The counts, one predicate at a time.
    fn shape_counts_plainly(run: &[u8]) -> [usize; 4] {
        let [mut alnum, mut letters, mut vowels, mut pieces] = [0; 4];
        let mut previous: Option<u8> = None;
        for &b in run {
            if !b.is_ascii_alphanumeric() {
                previous = None;
                continue;
            }
            alnum += 1;
            if b.is_ascii_alphabetic() {
                letters += 1;
                vowels += usize::from(matches!(
                    b.to_ascii_lowercase(),
                    b'a' | b'e' | b'i' | b'o' | b'u'
                ));
            }
            let new_piece = previous.is_none_or(|p| {
                (p.is_ascii_lowercase() && b.is_ascii_uppercase())
                    || p.is_ascii_digit() != b.is_ascii_digit()
            });
            pieces += usize::from(new_piece);
            previous = Some(b);
        }
        [alnum, letters, vowels, pieces]
    }

    #[test]
    fn shape_counts_agree_with_the_predicates_past_a_chunk() {
        let long = "sentence-transformers/all-MiniLM-L6-v2_".repeat(5_000);
        let all_bytes: Vec<u8> = (0..=255).collect();
        for run in [
            &b""[..],
            b"a",
            b"aB3-xY_9/+zz",
            b"HTTPServerErrorResponseHandlerV2Factory",
            b"Zx8Qp2Lr7Vt4Nw9Ks3Hd6Fb1Jm5Gc0Ya",
            &all_bytes,
            long.as_bytes(),
            &long.as_bytes()[..=CHUNK],
        ] {
            assert_eq!(shape_counts(run), shape_counts_plainly(run));
        }
    }

    #[test]
    fn what_the_hash_conversion_writes_is_a_digest() {
        let anonymizer = crate::Anonymizer::new(&crate::HashKey::from_bytes([3; 32]));
        for path in ["", "/home/ana/secret-project", "C:\\Users\\ana"] {
            let digest = anonymizer
                .hash(crate::HashScope::Installation, path.as_bytes())
                .unwrap();
            assert!(is_hash_digest(&digest.to_string()), "{digest}");
        }
    }

    #[test]
    fn digest_and_uuid_shapes() {
        assert!(is_hash_digest("d04b64e508b084d7952a0f23f1e4c705"));
        assert!(!is_hash_digest("D04B64E508B084D7952A0F23F1E4C705"));
        assert!(is_uuid(b"550e8400-e29b-41d4-a716-446655440000"));
        assert!(!is_uuid(b"550e8400e29b-41d4-a716-446655440000-"));
    }
}
