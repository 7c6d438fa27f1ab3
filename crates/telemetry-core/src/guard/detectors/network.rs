//! Network addresses: [`Detector::Ipv4`](crate::guard::Detector::Ipv4),
//! [`Ipv6`](crate::guard::Detector::Ipv6) and
//! [`MacAddress`](crate::guard::Detector::MacAddress).
//!
//! An address must stand alone: a letter or digit of a script written with
//! spaces touching it (`v1.2.3.4`, `std::fmt`, `2026-01-23T12:34:56Z`,
//! `версия1.2.3.4`) makes it part of something else; punctuation, symbols
//! and text of scripts written without spaces (`‘10.0.0.1’`,
//! `连接192.168.0.1失败`) do not.

use super::bytes::{run_len, word_at, word_before};

/// Shortest IPv4 address: `0.0.0.0`.
pub(super) const MIN_IPV4_LEN: usize = 7;
/// Shortest IPv6 address that fires: `::1`.
pub(super) const MIN_IPV6_LEN: usize = 3;
/// A MAC address: six pairs of hex digits and five separators.
pub(super) const MAC_LEN: usize = 17;

pub(super) fn ipv4(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let opens = !(word_before(s, i) || (i > 0 && s[i - 1] == b'.'));
        if opens && dotted_quad(&s[i..]) {
            return true;
        }
        i += run_len(&s[i..], |b| b.is_ascii_digit());
    }
    false
}

/// Whether `s` starts with four decimal numbers of 1 to 3 digits, each at
/// most 255, joined by dots, and not followed by a word byte or a fifth part.
fn dotted_quad(s: &[u8]) -> bool {
    let mut i = 0;
    for part in 0..4 {
        if part > 0 {
            if s.get(i) != Some(&b'.') {
                return false;
            }
            i += 1;
        }
        let digits = run_len(&s[i..], |b| b.is_ascii_digit());
        if !(1..=3).contains(&digits) {
            return false;
        }
        let octet = s[i..i + digits]
            .iter()
            .fold(0_u16, |n, &d| n * 10 + u16::from(d - b'0'));
        if octet > 255 {
            return false;
        }
        i += digits;
    }
    match s.get(i) {
        None => true,
        Some(b'.') => !s.get(i + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => !word_at(s, i),
    }
}

const fn is_hex_or_colon(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':'
}

pub(super) fn ipv6(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if !is_hex_or_colon(s[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut colons = 0;
        while let Some(&b) = s.get(i).filter(|&&b| is_hex_or_colon(b)) {
            colons += usize::from(b == b':');
            i += 1;
        }
        let run = &s[start..i];
        let bounded =
            !word_before(s, start) && !word_at(s, i) && s.get(i).is_none_or(|&b| b != b'.');
        if bounded && colons >= 2 && run.iter().any(u8::is_ascii_digit) && ipv6_groups(run) {
            return true;
        }
    }
    false
}

/// Whether `run` (hex digits and colons) is an IPv6 address: eight groups of
/// 1 to 4 hex digits, or at most seven around a single `::`.
fn ipv6_groups(run: &[u8]) -> bool {
    match run.windows(2).position(|pair| pair == b"::") {
        Some(at) => match (groups(&run[..at]), groups(&run[at + 2..])) {
            (Some(left), Some(right)) => left + right <= 7,
            _ => false,
        },
        None => groups(run) == Some(8),
    }
}

/// The number of `:`-separated groups of 1 to 4 hex digits in `part`, or
/// `None` when a group is empty or too long.
fn groups(part: &[u8]) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    for group in part.split(|&b| b == b':') {
        if !(1..=4).contains(&group.len()) {
            return None;
        }
        count += 1;
    }
    Some(count)
}

/// Six pairs of hex digits joined by `:` or by `-`, the same throughout,
/// standing alone: not touching a word, nor a seventh pair or an IPv6
/// group before or after (`…:ff:00`, `fe80::aa:…`). The null and the
/// broadcast address name no device and pass.
pub(super) fn mac_address(s: &[u8]) -> bool {
    let mut i = 0;
    while i + MAC_LEN <= s.len() {
        // The first two separators, before the whole shape.
        let sep = s[i + 2];
        if !matches!(sep, b':' | b'-') || s[i + 5] != sep {
            i += 1;
            continue;
        }
        let candidate = &s[i..i + MAC_LEN];
        let shaped = candidate.iter().enumerate().all(|(k, &b)| {
            if k % 3 == 2 {
                b == sep
            } else {
                b.is_ascii_hexdigit()
            }
        });
        if shaped && mac_stands_alone(s, i) && names_a_device(candidate) {
            return true;
        }
        i += 1;
    }
    false
}

fn mac_stands_alone(s: &[u8], start: usize) -> bool {
    let end = start + MAC_LEN;
    let joins = |b: u8| matches!(b, b':' | b'-' | b'.');
    let before = start > 0 && joins(s[start - 1]);
    let after =
        s.get(end).is_some_and(|&b| joins(b)) && s.get(end + 1).is_some_and(u8::is_ascii_hexdigit);
    !before && !after && !word_before(s, start) && !word_at(s, end)
}

/// Whether `mac` is neither `00:00:00:00:00:00` nor `ff:ff:ff:ff:ff:ff`.
fn names_a_device(mac: &[u8]) -> bool {
    let digits = || mac.iter().filter(|b| b.is_ascii_hexdigit());
    !digits().all(|&b| b == b'0') && !digits().all(|b| b.eq_ignore_ascii_case(&b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_group_counting() {
        assert!(ipv6_groups(b"::1"));
        assert!(ipv6_groups(b"1:2:3:4:5:6:7:8"));
        assert!(!ipv6_groups(b"1:2:3:4:5:6:7"));
        assert!(!ipv6_groups(b"1:2:3:4:5:6:7:8:9"));
        assert!(!ipv6_groups(b"1::2::3"));
        assert!(!ipv6_groups(b":::1"));
        assert!(!ipv6_groups(b"1:2:3:4::5:6:7:8"));
        assert!(!ipv6_groups(b"12345::1"));
    }

    #[test]
    fn mac_addresses_stand_alone() {
        assert!(mac_address(b"00:1a:2b:3c:4d:5e"));
        assert!(mac_address(b"(00-1A-2B-3C-4D-5E)"));
        assert!(!mac_address(b"00:1a:2b:3c:4d:5e:6f"));
        assert!(!mac_address(b"::00:1a:2b:3c:4d:5e"));
        assert!(!mac_address(b"x00:1a:2b:3c:4d:5e"));
        assert!(!mac_address(b"00:1a:2b:3c:4d:5e0"));
        assert!(!mac_address(b"00:1a-2b:3c-4d:5e"));
        assert!(!mac_address(b"00:00:00:00:00:00"));
        assert!(!mac_address(b"FF:ff:FF:ff:FF:ff"));
    }
}
