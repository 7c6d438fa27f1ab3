//! Payment details:
//! [`Detector::CreditCard`](crate::guard::Detector::CreditCard) and
//! [`Iban`](crate::guard::Detector::Iban).
//!
//! Both carry a check digit, which is what keeps their false positives
//! rare: a card number must start as a card network's numbers do, have one
//! of that network's lengths and pass the Luhn check; an IBAN must name a
//! country that issues them, have that country's length and pass the
//! mod-97 check of ISO 7064.

use super::bytes::{run_len, word_at, word_before};

/// Fewest digits of a card number.
pub(super) const MIN_CARD_LEN: usize = 13;
/// Most digits of a card number.
const MAX_CARD_LEN: usize = 19;
/// Shortest IBAN (Norway's).
pub(super) const MIN_IBAN_LEN: usize = 15;
/// Longest IBAN (Russia's).
const MAX_IBAN_LEN: usize = 34;

pub(super) fn credit_card(s: &[u8]) -> bool {
    // Most strings with a digit (versions, model ids, times) hold far fewer
    // than a card has: one count settles them.
    if count_digits(s) < MIN_CARD_LEN {
        return false;
    }
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (end, digits) = card_layout(s, i);
        if let Some((digits, len)) = digits
            && card_stands_alone(s, i, end)
            && is_card(&digits[..len])
        {
            return true;
        }
        i = end;
    }
    false
}

/// Where the run of digit groups at `start` ends, and its digits (as
/// numbers) if it is laid out as card numbers are written: 13 to 19 digits
/// in one run, or joined by single spaces or single dashes (the same
/// throughout) in groups of 4 with a last group of 1 to 4, or as 4-6-5
/// (American Express) or 4-6-4 (Diners Club).
fn card_layout(s: &[u8], start: usize) -> (usize, Option<([u8; MAX_CARD_LEN], usize)>) {
    let is_digit = |b: u8| b.is_ascii_digit();
    let first = run_len(&s[start..], is_digit);
    let mut end = start + first;
    let mut groups = [0; 5];
    let mut count = 1;
    groups[0] = first;
    let continues = |at: usize, sep: u8| {
        s.get(at) == Some(&sep) && s.get(at + 1).is_some_and(u8::is_ascii_digit)
    };
    // Only a first group of four starts a grouped number, so that a number
    // followed by a count (`4111111111111111 2024`) stays one run.
    if first == 4
        && let Some(&sep) = s.get(end).filter(|&&b| b == b' ' || b == b'-')
    {
        while continues(end, sep) {
            let len = run_len(&s[end + 1..], is_digit);
            if let Some(group) = groups.get_mut(count) {
                *group = len;
            }
            count += 1;
            end += 1 + len;
        }
    }
    let Some(layout) = groups.get(..count) else {
        return (end, None);
    };
    let total: usize = layout.iter().sum();
    let laid_out = match layout {
        [_] | [4, 6, 4 | 5] => true,
        [4, middle @ .., last] => middle.iter().all(|&g| g == 4) && (1..=4).contains(last),
        _ => false,
    };
    if !laid_out || !(MIN_CARD_LEN..=MAX_CARD_LEN).contains(&total) {
        return (end, None);
    }
    let mut digits = [0; MAX_CARD_LEN];
    for (digit, &b) in digits
        .iter_mut()
        .zip(s[start..end].iter().filter(|b| b.is_ascii_digit()))
    {
        *digit = b - b'0';
    }
    (end, Some((digits, total)))
}

/// Whether the number at `start..end` is not part of a larger one: no
/// word, `+` (a phone number), `-`, or decimal point or comma (a fraction,
/// thousands) touching it.
fn card_stands_alone(s: &[u8], start: usize, end: usize) -> bool {
    let before = start
        .checked_sub(1)
        .is_some_and(|at| matches!(s[at], b'+' | b'-' | b'.' | b','));
    let after = matches!(s.get(end), Some(b'-' | b'.' | b','))
        && s.get(end + 1).is_some_and(u8::is_ascii_digit);
    !before && !after && !word_before(s, start) && !word_at(s, end)
}

/// Whether `digits` start as a card network's numbers do, have one of its
/// lengths, and pass the Luhn check.
fn is_card(digits: &[u8]) -> bool {
    let len = digits.len();
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0_u32, |p, &d| p * 10 + u32::from(d))
    };
    let network = match digits[0] {
        // Visa.
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard's 2-series.
        2 => (2221..=2720).contains(&prefix(4)) && len == 16,
        5 => match prefix(2) {
            // Mastercard.
            51..=55 => len == 16,
            // Maestro.
            50 | 56..=59 => true,
            _ => false,
        },
        3 => match prefix(2) {
            // American Express.
            34 | 37 => len == 15,
            // JCB.
            35 => len >= 16,
            // Diners Club.
            30 | 36 | 38 | 39 => len >= 14,
            _ => false,
        },
        // Discover, Maestro and the other networks of 6….
        6 => true,
        _ => false,
    };
    network && luhn(digits)
}

/// The Luhn check: doubling every second digit from the right, the digits'
/// sum is a multiple of 10.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match (i % 2, d * 2) {
                (0, _) => d,
                (_, doubled) if doubled > 9 => doubled - 9,
                (_, doubled) => doubled,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The ASCII digits in `s`, counted in bytes, which the compiler turns
/// into vector code.
fn count_digits(s: &[u8]) -> usize {
    s.chunks(usize::from(u8::MAX))
        .map(|chunk| {
            let digits = chunk
                .iter()
                .fold(0_u8, |n, &b| n + u8::from(b.is_ascii_digit()));
            usize::from(digits)
        })
        .sum()
}

pub(super) fn iban(s: &[u8]) -> bool {
    let mut i = 0;
    while i + MIN_IBAN_LEN <= s.len() {
        // The second check digit first, since digits are rarer than
        // letters: without it neither `i` nor `i + 1` (whose first check
        // digit it would be) starts an IBAN.
        if !s[i + 3].is_ascii_digit() {
            i += 2;
            continue;
        }
        // The rest of the shape of a country code and check digits: it
        // rules out almost every place before the boundary is decoded.
        let shaped = s[i + 2].is_ascii_digit()
            && s[i].is_ascii_alphabetic()
            && s[i + 1].is_ascii_alphabetic();
        if shaped && !word_before(s, i) && iban_at(s, i) {
            return true;
        }
        i += 1;
    }
    false
}

/// Whether an IBAN starts at `start`: a country code that issues them, two
/// check digits and the rest of that country's length, letters and digits
/// in either case, written in one run or in groups of four joined by single
/// spaces, not running on into a word, and passing the mod-97 check.
fn iban_at(s: &[u8], start: usize) -> bool {
    let head = &s[start..];
    let shaped = head.len() >= MIN_IBAN_LEN
        && head[1].is_ascii_alphabetic()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit();
    let Some(len) = shaped
        .then(|| iban_length(head[0].to_ascii_uppercase(), head[1].to_ascii_uppercase()))
        .flatten()
    else {
        return false;
    };
    let mut iban = [0; MAX_IBAN_LEN];
    iban[..4].copy_from_slice(&head[..4]);
    let grouped = head[4] == b' ';
    let mut at = 4;
    for (count, slot) in iban.iter_mut().enumerate().take(len).skip(4) {
        if grouped && count % 4 == 0 {
            if head.get(at) != Some(&b' ') {
                return false;
            }
            at += 1;
        }
        match head.get(at) {
            Some(&b) if b.is_ascii_alphanumeric() => *slot = b,
            _ => return false,
        }
        at += 1;
    }
    !word_at(head, at) && mod97(&iban[..len])
}

/// ISO 7064 MOD 97-10 as IBANs use it: the first four characters moved to
/// the end, letters read as 10 to 35, the number modulo 97 is 1.
fn mod97(iban: &[u8]) -> bool {
    let (head, rest) = iban.split_at(4);
    let remainder = rest.iter().chain(head).fold(0_u32, |r, &b| {
        let b = b.to_ascii_uppercase();
        if b.is_ascii_digit() {
            (r * 10 + u32::from(b - b'0')) % 97
        } else {
            (r * 100 + u32::from(b - b'A') + 10) % 97
        }
    });
    remainder == 1
}

/// The length of the IBANs of a country, from the SWIFT IBAN registry, or
/// `None` for a code that issues none.
const fn iban_length(a: u8, b: u8) -> Option<usize> {
    let len = match &[a, b] {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HN" | b"HU" | b"LB" | b"NI" | b"PL"
        | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_check() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn(&digits("4111111111111111")));
        assert!(luhn(&digits("378282246310005")));
        assert!(!luhn(&digits("4111111111111112")));
        assert!(!luhn(&digits("1706012345678")));
    }

    /// The scan as it was written before it skipped places: every place
    /// tried in turn.
    fn iban_at_every_place(s: &[u8]) -> bool {
        (0..s.len().saturating_sub(MIN_IBAN_LEN - 1)).any(|i| {
            s[i].is_ascii_alphabetic()
                && s[i + 1].is_ascii_alphabetic()
                && s[i + 2].is_ascii_digit()
                && s[i + 3].is_ascii_digit()
                && !word_before(s, i)
                && iban_at(s, i)
        })
    }

    #[test]
    fn skipping_places_finds_every_iban() {
        let ibans = ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00"];
        for account in ibans {
            for before in ["", " ", "  ", "x ", "12 ", "DE ", "D1 ", "é "] {
                for after in ["", " ", ".", " 12", "x"] {
                    let text = format!("{before}{account}{after}");
                    let expected = iban_at_every_place(text.as_bytes());
                    assert_eq!(iban(text.as_bytes()), expected, "{text:?}");
                    assert_eq!(expected, after != "x", "{text:?}");
                }
            }
        }
        // Strings of the bytes an IBAN is made of, drawn by a seeded
        // generator.
        let alphabet = b"DEGBde8901 -x";
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = usize::try_from(seed % 40).unwrap();
            let text: Vec<u8> = (0..len)
                .map(|k| alphabet[usize::try_from((seed >> k) % 13).unwrap()])
                .collect();
            assert_eq!(iban(&text), iban_at_every_place(&text), "{text:?}");
        }
    }

    #[test]
    fn digits_are_counted_past_a_chunk() {
        let text = "4a1".repeat(300);
        assert_eq!(count_digits(text.as_bytes()), 600);
        assert_eq!(count_digits(b""), 0);
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(count_digits(&all), 10);
    }

    #[test]
    fn mod97_check() {
        assert!(mod97(b"DE89370400440532013000"));
        assert!(mod97(b"gb82west12345698765432"));
        assert!(!mod97(b"DE89370400440532013001"));
    }

    #[test]
    fn layouts() {
        let layout = |s: &str| card_layout(s.as_bytes(), 0).1.map(|(_, len)| len);
        assert_eq!(layout("4111111111111111"), Some(16));
        assert_eq!(layout("4111 1111 1111 1111"), Some(16));
        assert_eq!(layout("4111-1111-1111-1111"), Some(16));
        assert_eq!(layout("3782 822463 10005"), Some(15));
        assert_eq!(layout("4222 2222 2222 2"), Some(13));
        assert_eq!(layout("4111 1111-1111 1111"), None);
        assert_eq!(layout("4111 1111 1111 1111 1111"), None);
        assert_eq!(layout("41 1111 1111 1111 11"), None);
        assert_eq!(layout("411111111111"), None);
        assert_eq!(card_layout(b"4111111111111111 2024", 0).0, 16);
    }
}
