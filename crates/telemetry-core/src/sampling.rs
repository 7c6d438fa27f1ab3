//! Deterministic, consistent probability sampling, as OpenTelemetry
//! specifies it for traces (`specification/trace/tracestate-probability-sampling.md`
//! and `tracestate-handling.md`, the `th` sub-key).
//!
//! Every item brings 56 bits of [`Randomness`]; a sampling probability `p`
//! becomes a rejection [`Threshold`] `T = 2^56 - round(p × 2^56)`, and the
//! item is kept when its randomness reaches the threshold (`R >= T`). The
//! same item is therefore kept by every sampler whose probability is at
//! least as high: an item kept at 1% is also in the 10% sample, in every
//! process, build, platform and release.
//!
//! ```
//! use telemetry_core::sampling::{Sampler, Threshold};
//!
//! let sampler = Sampler::new(b"my-app-salt", Threshold::from_percent(10.0)?)
//!     .module("checkout", Threshold::from_probability(0.5)?);
//! let decision = sampler.decide("summarize", "0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f", true);
//! // The randomness of a UUID v7 is its last 56 bits, 0x4e3d2b1a0c9e8f:
//! // below the 10% threshold (0xe6666666666666), so the call is dropped.
//! assert!(!decision.keep);
//! assert_eq!(&*decision.threshold.th(), "e6666666666666");
//! // Failures are kept at their own probability, 1 unless said otherwise.
//! assert!(sampler.decide("summarize", "0190b6f0-6c1e-7cc3-8f4e-3d2b1a0c9e8f", false).keep);
//! # Ok::<(), telemetry_core::sampling::SamplingError>(())
//! ```
//!
//! # Why not `DefaultHasher` of the id `% 100`
//!
//! That is wrong twice. The standard library documents that `DefaultHasher`
//! may change between releases, so a decision would change with the
//! compiler and a sample could not be reproduced or joined with another.
//! And `% 100` allows whole percents only and records no rate, so totals
//! cannot be estimated from the sample. Here the randomness is either the
//! id's own (the random bits of a UUID v4/v7 or of a W3C trace id, which
//! every OpenTelemetry participant reads the same way) or a keyed SHA-256
//! of the id under an app-wide salt (a fixed algorithm, see
//! [`Sampler::randomness`]), and
//! any probability in [2⁻⁵⁶, 1] is exact to 56 bits.
//!
//! # The `th` encoding
//!
//! A threshold is written as the spec's `th` value: the 56-bit threshold as
//! 14 lowercase hexadecimal digits with the trailing zeros removed, and `0`
//! for probability 1. So 50% is `8` (0x80000000000000), 25% is `c`, 1/16
//! is `f`, 10% at full precision is `e6666666666666`.
//! [`Threshold::parse_th`] reads 1 to 14 lowercase hex digits, extending
//! them with zeros on the right. [`Threshold::from_probability`] uses all 56
//! bits; [`Threshold::from_probability_with_precision`] rounds to fewer hex
//! digits (the spec recommends 4 for SDKs), raising the precision near 0
//! and 1 as the spec's reference implementation does, so 10% is `e666`.
//!
//! # Adjusted count
//!
//! A kept record stands for `1/p` items of the population it was drawn
//! from: its *adjusted count*, `2^56 / (2^56 - T)`. Summing the adjusted
//! counts of the kept records estimates the total number of items, per
//! module or overall, whatever mix of probabilities sampled them; the
//! fraction kept estimates `p` itself. Every kept record should therefore
//! carry its `th` ([`Decision::threshold`]) so that these estimates can be
//! made later.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The number of 56-bit values: `2^56`, the spec's `MaxAdjustedCount`.
const MAX: u64 = 1 << 56;
/// `2^56` as a double, exactly.
const MAX_F64: f64 = 72_057_594_037_927_936.0;
/// The low 56 bits.
const MASK: u64 = MAX - 1;
/// Hex digits in a full `th` value (56 bits).
const TH_DIGITS: usize = 14;
/// SHA-256's block size, and so the size of the salt's key block.
const BLOCK: usize = 64;

/// 56 random bits: the part of an item that decides whether it is kept.
///
/// From an id with [`Sampler::randomness`], or from any 56 bits with
/// [`Randomness::from_bits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Randomness(u64);

impl Randomness {
    /// The largest randomness, `2^56 - 1`: kept at every threshold.
    pub const MAX: Randomness = Randomness(MASK);

    /// The low 56 bits of `bits`; the high 8 bits are ignored.
    #[must_use]
    pub const fn from_bits(bits: u64) -> Randomness {
        Randomness(bits & MASK)
    }

    /// The 56 bits, in the low bits of a `u64`.
    #[must_use]
    pub const fn bits(self) -> u64 {
        self.0
    }
}

/// A rejection threshold `T` in `[0, 2^56)`: an item is kept when its
/// [`Randomness`] is at least `T`, so the probability of keeping it is
/// `p = (2^56 - T) / 2^56`.
///
/// A larger threshold keeps fewer items; thresholds order by `T`, so
/// `a > b` means that `a` is the more selective. Serialized as its `th`
/// string ([`Threshold::th`]), and deserialized from one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Threshold(u64);

impl Threshold {
    /// `T = 0`: probability 1, every item is kept; `th` is `0`.
    pub const ALWAYS: Threshold = Threshold(0);

    /// The smallest probability there is, `2^-56`: `T = 2^56 - 1`, `th`
    /// `ffffffffffffff`.
    pub const MIN_PROBABILITY: f64 = 1.0 / MAX_F64;

    /// The threshold for probability `p`, using all 56 bits:
    /// `T = 2^56 - round(p × 2^56)`, so `1` gives `T = 0` and `2^-56` gives
    /// `T = 2^56 - 1` (as the spec's reference, the collector's
    /// `pkg/sampling`, computes it).
    ///
    /// Fails for `NaN` and for anything outside `[2^-56, 1]`: probability 0
    /// is not probability sampling (an item is then not recorded at all).
    pub fn from_probability(p: f64) -> Result<Threshold, SamplingError> {
        check_probability(p)?;
        Ok(Threshold(full_precision(p)))
    }

    /// The threshold for `p`, rounded to `digits` significant hex digits
    /// (1 to 14) of `th`, as in the spec's section *Converting
    /// floating-point probability to threshold value*: the precision is
    /// raised by one digit for every leading `f` (probabilities near 0) and,
    /// as the collector's `pkg/sampling` that the spec points to also does,
    /// for every leading `0` (near 1), so that the relative error stays
    /// small. This gives every row of the spec's table at precisions 3, 4
    /// and 5. The spec recommends 4 digits for SDKs: `1/3` is then `aaab`,
    /// `1%` is `fd70a`.
    pub fn from_probability_with_precision(p: f64, digits: u8) -> Result<Threshold, SamplingError> {
        if !(1..=14).contains(&digits) {
            return Err(SamplingError::Precision { digits });
        }
        check_probability(p)?;
        if p == 1.0 {
            return Ok(Threshold::ALWAYS);
        }
        // Both exponents are at most 0, so the quotients are at least 0.
        let extra = (frexp_exponent(p) / -4).max(frexp_exponent(1.0 - p) / -4);
        let precision = i32::from(digits).saturating_add(extra).min(14);
        let shift = 4 * (14 - precision);
        let mut threshold = full_precision(p);
        if shift != 0 {
            let half = 1u64 << (shift - 1);
            threshold = ((threshold + half) >> shift) << shift;
            // Rounding up would reach 2^56 only if `round(p × 2^56)` were at
            // most `half`; with `p >= 2^(e-1)` (e from frexp) and the
            // precision raised by `-e/4` digits, it is larger. The clamp
            // keeps the threshold valid all the same.
            if threshold >= MAX {
                threshold = MAX - (1 << shift);
            }
        }
        Ok(Threshold(threshold))
    }

    /// The threshold for a percentage, as `monitoring_config.json`'s
    /// `sampling_rate_pct` gives it: `10` is probability `0.1`.
    ///
    /// Fails for `NaN` and for anything outside `[2^-56 × 100, 100]`.
    pub fn from_percent(pct: f64) -> Result<Threshold, SamplingError> {
        let p = pct / 100.0;
        if p.is_nan() || !(Threshold::MIN_PROBABILITY..=1.0).contains(&p) {
            return Err(SamplingError::Percent { value: pct });
        }
        Ok(Threshold(full_precision(p)))
    }

    /// The threshold `T` itself, the number of randomness values (out of
    /// `2^56`) that are rejected. Fails when `t >= 2^56`.
    pub fn from_unsigned(t: u64) -> Result<Threshold, SamplingError> {
        if t >= MAX {
            return Err(SamplingError::Unsigned { value: t });
        }
        Ok(Threshold(t))
    }

    /// Reads a `th` value: 1 to 14 lowercase hexadecimal digits, extended
    /// with zeros on the right to 14 digits (56 bits). `8` is 50%, `0` is
    /// 100%; trailing zeros are allowed (`80` is `8`).
    pub fn parse_th(th: &str) -> Result<Threshold, SamplingError> {
        let invalid = |reason| SamplingError::Th {
            value: th.to_owned(),
            reason,
        };
        if th.is_empty() {
            return Err(invalid("it is empty"));
        }
        if th.len() > TH_DIGITS {
            return Err(invalid("it has more than 14 digits"));
        }
        let mut value = 0u64;
        for byte in th.bytes() {
            let nibble = lowercase_hex(byte).ok_or_else(|| {
                invalid("it has a character other than a lowercase hexadecimal digit")
            })?;
            value = (value << 4) | u64::from(nibble);
        }
        Ok(Threshold(value << (4 * (TH_DIGITS - th.len()))))
    }

    /// The `th` value, without allocating: 14 lowercase hex digits with the
    /// trailing zeros removed, or `0` for probability 1.
    #[must_use]
    pub fn th(&self) -> ThString {
        let mut th = ThString {
            digits: [b'0'; TH_DIGITS],
            len: 1,
        };
        if self.0 == 0 {
            return th;
        }
        let mut len = 0;
        for (index, digit) in th.digits.iter_mut().enumerate() {
            let nibble = (self.0 >> (4 * (TH_DIGITS - 1 - index))) & 0xf;
            *digit = b"0123456789abcdef"[usize::try_from(nibble).unwrap_or(0)];
            if nibble != 0 {
                len = index + 1;
            }
        }
        th.len = u8::try_from(len).unwrap_or(14);
        th
    }

    /// The threshold `T`, in `[0, 2^56)`.
    #[must_use]
    pub const fn unsigned(&self) -> u64 {
        self.0
    }

    /// The probability of keeping an item: `(2^56 - T) / 2^56`.
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        reason = "the spec's own conversion: below 2^56, a double's 53 bits lose nothing that matters"
    )]
    pub fn probability(&self) -> f64 {
        (MAX - self.0) as f64 / MAX_F64
    }

    /// How many items a kept one stands for: `1 / p`, that is
    /// `2^56 / (2^56 - T)`.
    #[must_use]
    #[allow(
        clippy::cast_precision_loss,
        reason = "the spec's own conversion, as in probability()"
    )]
    pub fn adjusted_count(&self) -> f64 {
        MAX_F64 / (MAX - self.0) as f64
    }

    /// Whether an item with randomness `r` is kept: `r >= T`.
    #[must_use]
    pub const fn keeps(&self, r: Randomness) -> bool {
        r.0 >= self.0
    }
}

impl fmt::Display for Threshold {
    /// The `th` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.th())
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.th())
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThVisitor;

        impl serde::de::Visitor<'_> for ThVisitor {
            type Value = Threshold;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a `th` value: 1 to 14 lowercase hexadecimal digits")
            }

            fn visit_str<E: serde::de::Error>(self, th: &str) -> Result<Threshold, E> {
                Threshold::parse_th(th).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ThVisitor)
    }
}

/// Checks that `p` is a probability the spec defines: `[2^-56, 1]`.
fn check_probability(p: f64) -> Result<(), SamplingError> {
    if p.is_nan() || !(Threshold::MIN_PROBABILITY..=1.0).contains(&p) {
        return Err(SamplingError::Probability { value: p });
    }
    Ok(())
}

/// `2^56 - round(p × 2^56)` for a checked `p`: the product is exact (a
/// power of two), so the only rounding is to the nearest integer, half away
/// from zero as Go's `math.Round` in the spec's reference.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "p is in [2^-56, 1], so the rounded product is in [1, 2^56]"
)]
fn full_precision(p: f64) -> u64 {
    let scaled = (p * MAX_F64).round() as u64;
    MAX - scaled.clamp(1, MAX)
}

/// The exponent `e` of `x = m × 2^e` with `m` in `[0.5, 1)`, as C's
/// `frexp`, for a positive normal `x` (every probability in range is one,
/// and so is `1 - p` for `p < 1`).
fn frexp_exponent(x: f64) -> i32 {
    let biased = i32::try_from((x.to_bits() >> 52) & 0x7ff).unwrap_or(0);
    biased - 1022
}

/// The value of one lowercase hex digit.
const fn lowercase_hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// A `th` value in an inline buffer: what [`Threshold::th`] returns, so that
/// writing a threshold allocates nothing. Reads as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThString {
    digits: [u8; TH_DIGITS],
    len: u8,
}

impl ThString {
    /// The `th` value as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the buffer.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or("0")
    }
}

impl Deref for ThString {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ThString {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for ThString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ThString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for ThString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ThString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for ThString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Decides which items to keep, deterministically, by id.
///
/// It holds the app-wide salt (as a SHA-256 state that has absorbed the
/// salt's key block), the default threshold, the threshold for failures and
/// per-module overrides. The salt only matters for ids that carry no
/// randomness of their own; every process that must agree on a sample uses
/// the same one.
#[derive(Clone)]
pub struct Sampler {
    keyed: Sha256,
    default: Threshold,
    failures: Threshold,
    modules: BTreeMap<String, Threshold>,
}

impl Sampler {
    /// A sampler that keeps items at the `default` threshold, every failure
    /// (see [`failures`](Self::failures)), and hashes ids without randomness
    /// of their own under `salt`.
    #[must_use]
    pub fn new(salt: &[u8], default: Threshold) -> Sampler {
        // HMAC-SHA256's inner key block (RFC 2104): the salt, hashed first
        // if it is longer than a block, padded with zeros, XOR 0x36.
        let mut block = [0u8; BLOCK];
        if salt.len() <= BLOCK {
            block[..salt.len()].copy_from_slice(salt);
        } else {
            block[..32].copy_from_slice(&Sha256::digest(salt));
        }
        for byte in &mut block {
            *byte ^= 0x36;
        }
        let mut keyed = Sha256::new();
        keyed.update(block);
        Sampler {
            keyed,
            default,
            failures: Threshold::ALWAYS,
            modules: BTreeMap::new(),
        }
    }

    /// The threshold for failed calls (`success == false`), probability 1
    /// by default. A rule that keeps more: a failure is kept at this
    /// threshold or at its module's, whichever keeps more.
    #[must_use]
    pub fn failures(mut self, t: Threshold) -> Self {
        self.failures = t;
        self
    }

    /// The threshold for the module `name`, instead of the default (higher
    /// or lower). Setting a module twice keeps the last.
    #[must_use]
    pub fn module(mut self, name: impl Into<String>, t: Threshold) -> Self {
        self.modules.insert(name.into(), t);
        self
    }

    /// The default threshold, for modules without an override.
    #[must_use]
    pub const fn default_threshold(&self) -> Threshold {
        self.default
    }

    /// The 56 bits of randomness of an id:
    ///
    /// - a UUID of version 4 or 7 (RFC 9562 variant), hyphenated or simple,
    ///   of either case: its last 56 bits, which are random in both
    ///   versions;
    /// - a W3C trace id (32 lowercase hex digits, not all zero): its
    ///   rightmost 56 bits, as the spec reads a trace id's randomness;
    /// - anything else, other UUID versions included: the first 56 bits of
    ///   a keyed SHA-256 of the id's bytes, `SHA-256((K ⊕ ipad) ‖ id)`
    ///   where `K ⊕ ipad` is HMAC-SHA256's inner key block for the salt
    ///   (the salt, SHA-256-hashed first if longer than 64 bytes, padded
    ///   with zeros to 64, each byte XOR `0x36`).
    ///
    /// The keyed hash is HMAC's inner hash alone: the key block's state is
    /// computed once, in [`new`](Self::new), so an id of up to 55 bytes
    /// costs one SHA-256 compression, where a full HMAC costs two and
    /// misses the 100 ns budget for a decision. The outer hash of HMAC
    /// guards a tag against length extension, which a sampling decision,
    /// never published as a tag, does not need. Any SHA-256 library
    /// reproduces it: in Python,
    /// `sha256(bytes(b ^ 0x36 for b in salt.ljust(64, b"\0")) + id)`.
    #[must_use]
    pub fn randomness(&self, id: &str) -> Randomness {
        if let Some(bits) = own_randomness(id.as_bytes()) {
            return Randomness(bits);
        }
        let mut hash = self.keyed.clone();
        hash.update(id.as_bytes());
        let digest = hash.finalize();
        let mut first = [0u8; 8];
        first[1..].copy_from_slice(&digest[..7]);
        Randomness(u64::from_be_bytes(first))
    }

    /// The threshold that applies to a call of `module`: its override or
    /// the default, and for a failure whichever of that and the failure
    /// threshold keeps more.
    #[must_use]
    pub fn threshold_for(&self, module: &str, success: bool) -> Threshold {
        let threshold = self.modules.get(module).copied().unwrap_or(self.default);
        if success {
            threshold
        } else {
            threshold.min(self.failures)
        }
    }

    /// Whether to keep the call of `module` identified by `id`, with the
    /// threshold that decided it. Allocates nothing; an id at probability 1
    /// is not even hashed.
    #[must_use]
    pub fn decide(&self, module: &str, id: &str, success: bool) -> Decision {
        let threshold = self.threshold_for(module, success);
        let keep = threshold == Threshold::ALWAYS || threshold.keeps(self.randomness(id));
        Decision { keep, threshold }
    }

    /// This sampler as the runtime builder's `sampler` hook, which sees only
    /// an event's name: each event is kept at its name's threshold (a
    /// [`module`](Self::module) override, else the default) with fresh
    /// randomness, drawn from a per-thread generator seeded from the
    /// operating system. Allocates nothing.
    ///
    /// Fresh randomness makes each event an independent draw: the sample
    /// is a fair one at each name's probability, but not tied to any id.
    pub fn hook(self) -> impl Fn(&str) -> bool + Send + Sync + 'static {
        move |name: &str| {
            let threshold = self.threshold_for(name, true);
            threshold == Threshold::ALWAYS || threshold.keeps(fresh_randomness())
        }
    }
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "the keyed state is shown redacted"
)]
impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("salt", &"[redacted]")
            .field("default", &self.default.th())
            .field("failures", &self.failures.th())
            .field("modules", &self.modules)
            .finish()
    }
}

/// The randomness an id carries itself: a UUID v4/v7 or a W3C trace id.
fn own_randomness(id: &[u8]) -> Option<u64> {
    let mut digits = [0u8; 32];
    match id.len() {
        // xxxxxxxx-xxxx-Mxxx-Nxxx-xxxxxxxxxxxx
        36 => {
            if [8, 13, 18, 23].iter().any(|&at| id[at] != b'-') {
                return None;
            }
            digits[..8].copy_from_slice(&id[..8]);
            digits[8..12].copy_from_slice(&id[9..13]);
            digits[12..16].copy_from_slice(&id[14..18]);
            digits[16..20].copy_from_slice(&id[19..23]);
            digits[20..].copy_from_slice(&id[24..]);
            let (uuid, _) = hex_id(&digits)?;
            is_random_uuid(uuid).then_some(low_bits(uuid))
        }
        32 => {
            digits.copy_from_slice(id);
            let (value, lowercase) = hex_id(&digits)?;
            if lowercase {
                // A W3C trace id: lowercase hex, not all zero. A simple
                // UUID in lowercase is one too, and gives the same 56 bits.
                (value != 0).then_some(low_bits(value))
            } else {
                is_random_uuid(value).then_some(low_bits(value))
            }
        }
        _ => None,
    }
}

/// Each byte's hex value; `UPPER` marks the digits `A` to `F`, `INVALID`
/// anything that is not a hex digit.
const HEX: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut byte = 0;
    while byte < 256 {
        // `byte` is below 256.
        #[allow(clippy::cast_possible_truncation, reason = "below 256")]
        let digit = byte as u8;
        table[byte] = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => (digit - b'A' + 10) | UPPER,
            _ => INVALID,
        };
        byte += 1;
    }
    table
};
const UPPER: u8 = 0x10;
const INVALID: u8 = 0x80;

/// 32 hex digits of either case as a 128-bit number, and whether they were
/// all lowercase; `None` if one is not a hex digit.
fn hex_id(digits: &[u8; 32]) -> Option<(u128, bool)> {
    // Two halves side by side: two short dependency chains instead of one
    // long one through 128-bit shifts.
    let (mut high, mut low) = (0u64, 0u64);
    let mut flags = 0u8;
    for (&first, &second) in digits[..16].iter().zip(&digits[16..]) {
        let (first, second) = (HEX[usize::from(first)], HEX[usize::from(second)]);
        flags |= first | second;
        high = (high << 4) | u64::from(first & 0xf);
        low = (low << 4) | u64::from(second & 0xf);
    }
    let value = (u128::from(high) << 64) | u128::from(low);
    (flags & INVALID == 0).then_some((value, flags & UPPER == 0))
}

/// A UUID of version 4 (random) or 7 (time-ordered, random tail), with the
/// RFC 9562 variant (`10` in the top bits of octet 8).
fn is_random_uuid(uuid: u128) -> bool {
    let version = (uuid >> 76) & 0xf;
    let variant = (uuid >> 62) & 0b11;
    matches!(version, 4 | 7) && variant == 0b10
}

/// The last 56 bits of a 128-bit id.
#[allow(clippy::cast_possible_truncation, reason = "masked to 56 bits first")]
fn low_bits(id: u128) -> u64 {
    (id & u128::from(MASK)) as u64
}

/// 56 fresh random bits from this thread's generator.
fn fresh_randomness() -> Randomness {
    thread_local! {
        static FRESH: RefCell<fastrand::Rng> = RefCell::new(seeded());
    }
    Randomness::from_bits(FRESH.with(|rng| rng.borrow_mut().u64(..)) >> 8)
}

/// A generator seeded by the operating system; should that fail, by
/// `fastrand`'s own seeding.
fn seeded() -> fastrand::Rng {
    getrandom::u64().map_or_else(|_| fastrand::Rng::new(), fastrand::Rng::with_seed)
}

/// One sampling decision: whether to keep the item, and the threshold that
/// decided it (a kept record carries it as `th`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// Whether the item is kept.
    pub keep: bool,
    /// The threshold it was compared with.
    pub threshold: Threshold,
}

impl Decision {
    /// How many items this one stands for in an estimate: `1/p` when kept,
    /// `0` when dropped, so that summing it over every decision, or over
    /// the kept records alone, estimates the number of items.
    #[must_use]
    pub fn adjusted_count(&self) -> f64 {
        if self.keep {
            self.threshold.adjusted_count()
        } else {
            0.0
        }
    }
}

/// A probability, percentage, threshold or `th` value that is not one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    /// Not in `[2^-56, 1]`, or `NaN`.
    #[error("sampling probability {value} is not in [2^-56, 1]")]
    Probability {
        /// The probability given.
        value: f64,
    },
    /// Not in `[2^-56 × 100, 100]`, or `NaN`.
    #[error("sampling rate {value}% is not in [2^-56 × 100%, 100%]")]
    Percent {
        /// The percentage given.
        value: f64,
    },
    /// A threshold of `2^56` or more.
    #[error("sampling threshold {value} is not below 2^56")]
    Unsigned {
        /// The threshold given.
        value: u64,
    },
    /// Not 1 to 14 lowercase hexadecimal digits.
    #[error("`{value}` is not a `th` value: {reason}")]
    Th {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A precision outside 1 to 14 hex digits.
    #[error("a `th` precision of {digits} digits is not in 1 to 14")]
    Precision {
        /// The precision given.
        digits: u8,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_c() {
        // 0.01 = 0.64 × 2^-6; 0.5 = 0.5 × 2^0; 2^-56 = 0.5 × 2^-55.
        assert_eq!(frexp_exponent(0.01), -6);
        assert_eq!(frexp_exponent(0.5), 0);
        assert_eq!(frexp_exponent(0.75), 0);
        assert_eq!(frexp_exponent(Threshold::MIN_PROBABILITY), -55);
    }

    #[test]
    fn uuid_forms_and_versions() {
        let v4 = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
        assert_eq!(own_randomness(v4.as_bytes()), Some(0x67_0e02_b2c3_d479));
        assert_eq!(
            own_randomness(v4.to_uppercase().as_bytes()),
            Some(0x67_0e02_b2c3_d479)
        );
        let simple_upper = v4.replace('-', "").to_uppercase();
        assert_eq!(
            own_randomness(simple_upper.as_bytes()),
            Some(0x67_0e02_b2c3_d479)
        );
        // Version 1 (a clock and a MAC address) and the wrong variant have
        // no randomness of their own.
        assert_eq!(
            own_randomness(b"6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
            None
        );
        assert_eq!(
            own_randomness(b"f47ac10b-58cc-4372-c567-0e02b2c3d479"),
            None
        );
        // Hyphens elsewhere, or a non-digit.
        assert_eq!(
            own_randomness(b"f47ac10b5-8cc-4372-a567-0e02b2c3d479"),
            None
        );
        assert_eq!(
            own_randomness(b"g47ac10b-58cc-4372-a567-0e02b2c3d479"),
            None
        );
        // Trace ids: any version nibble, never all zero, never uppercase
        // unless a v4/v7 UUID.
        assert_eq!(
            own_randomness(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0xce_929d_0e0e_4736)
        );
        assert_eq!(own_randomness(&[b'0'; 32]), None);
        assert_eq!(own_randomness(b"4BF92F3577B31DA6A3CE929D0E0E4736"), None);
    }
}
