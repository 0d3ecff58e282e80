//! Validations that a regex cannot express: checksums, number ranges,
//! address classes, and where a match may start and end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::IpPolicy;

/// Luhn (mod 10) over the ASCII digits of `text`.
pub(crate) fn luhn(text: &[u8]) -> bool {
    let mut sum = 0_u32;
    let mut double = false;
    for digit in text.iter().rev().filter(|c| c.is_ascii_digit()) {
        let mut value = u32::from(digit - b'0');
        if double {
            value *= 2;
            if value > 9 {
                value -= 9;
            }
        }
        sum += value;
        double = !double;
    }
    sum.is_multiple_of(10)
}

/// A payment card: 13 to 19 digits, a known issuer prefix and a Luhn check.
pub(crate) fn is_card(text: &[u8]) -> bool {
    let digits: Vec<u8> = text.iter().copied().filter(u8::is_ascii_digit).collect();
    if !(13..=19).contains(&digits.len()) || !luhn(&digits) {
        return false;
    }
    let prefix = |n: usize| -> u32 {
        digits
            .iter()
            .take(n)
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let visa = prefix(1) == 4;
    let mastercard = (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4));
    let amex = matches!(prefix(2), 34 | 37) && digits.len() == 15;
    let discover = prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3));
    let other = matches!(prefix(2), 35 | 36 | 38 | 62);
    visa || mastercard || amex || discover || other
}

/// An SSN as issued: area not 000, 666 or 9xx; group not 00; serial not 0000.
pub(crate) fn is_ssn(text: &[u8]) -> bool {
    let digits: Vec<u8> = text.iter().copied().filter(u8::is_ascii_digit).collect();
    let (Some(area), Some(group), Some(serial)) =
        (digits.get(0..3), digits.get(3..5), digits.get(5..9))
    else {
        return false;
    };
    digits.len() == 9
        && area != b"000"
        && area != b"666"
        && area.first() != Some(&b'9')
        && group != b"00"
        && serial != b"0000"
}

/// A NANP number: area code and exchange start with 2–9.
pub(crate) fn is_nanp_phone(text: &[u8]) -> bool {
    let digits: Vec<u8> = text
        .split(|c| *c == b'x' || *c == b'X' || *c == b'e' || *c == b'E')
        .next()
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .collect();
    let national = match digits.as_slice() {
        [b'1', rest @ ..] if rest.len() == 10 => rest,
        all if all.len() == 10 => all,
        _ => return false,
    };
    matches!(national.first(), Some(b'2'..=b'9')) && matches!(national.get(3), Some(b'2'..=b'9'))
}

/// The VIN check digit (position 9) of ISO 3779 / 49 CFR 565.
pub(crate) fn is_vin(text: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if text.len() != 17
        || !text.iter().any(u8::is_ascii_digit)
        || !text.iter().any(u8::is_ascii_uppercase)
    {
        return false;
    }
    let value = |c: u8| -> Option<u32> {
        match c {
            b'0'..=b'9' => Some(u32::from(c - b'0')),
            b'A'..=b'H' => Some(u32::from(c - b'A') + 1),
            b'J'..=b'N' => Some(u32::from(c - b'J') + 1),
            b'P' => Some(7),
            b'R'..=b'Z' => Some(u32::from(c - b'R') + 9),
            _ => None,
        }
    };
    let mut sum = 0;
    for (c, weight) in text.iter().zip(WEIGHTS) {
        let Some(v) = value(*c) else { return false };
        sum += v * weight;
    }
    let check = match sum % 11 {
        10 => b'X',
        n => b'0' + u8::try_from(n).unwrap_or(0),
    };
    text.get(8) == Some(&check)
}

/// Whether the IP address stays readable under `policy`.
pub(crate) fn keep_ip(ip: IpAddr, policy: &IpPolicy) -> bool {
    if policy.inventory.contains(&ip) {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => keep_v4(v4, policy),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => keep_v4(v4, policy),
            None => keep_v6(v6, policy),
        },
    }
}

fn keep_v4(ip: Ipv4Addr, policy: &IpPolicy) -> bool {
    let [a, b, ..] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    // Addresses that name no host (unspecified, broadcast, multicast) and
    // the documentation ranges identify nobody.
    // 0/8 and 240/4 (reserved, where netmasks such as 255.255.255.0 fall)
    // name no host either.
    let not_a_host = a == 0 || a >= 224 || ip.is_broadcast() || ip.is_documentation();
    not_a_host
        || (policy.keep_loopback && ip.is_loopback())
        || (policy.keep_private && (ip.is_private() || cgnat))
        || (policy.keep_link_local && ip.is_link_local())
}

fn keep_v6(ip: Ipv6Addr, policy: &IpPolicy) -> bool {
    let first = ip.segments().first().copied().unwrap_or(0);
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let documentation = first == 0x2001 && ip.segments().get(1) == Some(&0x0db8);
    ip.is_unspecified()
        || ip.is_multicast()
        || documentation
        || (policy.keep_loopback && ip.is_loopback())
        || (policy.keep_private && unique_local)
        || (policy.keep_link_local && link_local)
}

/// 3-digit ZIP areas with 20,000 people or fewer (HHS, 2000 Census), which
/// Safe Harbor requires to be written `000`.
pub(crate) const RESTRICTED_ZIP3: [&[u8; 3]; 17] = [
    b"036", b"059", b"063", b"102", b"203", b"556", b"692", b"790", b"821", b"823", b"830", b"831",
    b"878", b"879", b"884", b"890", b"893",
];

pub(crate) const fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// How the bytes around a match must look for it to stand on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    /// Not inside a word.
    Word,
    /// Not inside a longer number, dotted version, path or hyphenated id.
    Number,
    /// Like `Number`, and not inside a longer colon-separated hex run.
    Hex,
    /// Not inside a longer dotted run (a version `1.2.3.4.5`); `/` and `:`
    /// may touch it (a URL host, a port).
    Dotted,
}

/// Whether the match `start..end` of `text` stands alone under `edge`.
pub(crate) fn stands_alone(text: &[u8], start: usize, end: usize, edge: Edge) -> bool {
    let before = start.checked_sub(1).and_then(|i| text.get(i)).copied();
    let after = text.get(end).copied();
    let after2 = text.get(end + 1).copied();
    let first = text.get(start).copied();
    let last = end.checked_sub(1).and_then(|i| text.get(i)).copied();
    let joins_word = (before.is_some_and(is_word) && first.is_some_and(is_word))
        || (after.is_some_and(is_word) && last.is_some_and(is_word));
    let word_ok = !joins_word;
    match edge {
        Edge::Word => word_ok,
        Edge::Number => {
            let joins_before = before.is_some_and(|c| {
                is_word(c)
                    || matches!(c, b'-' | b'/' | b'+')
                    || (c == b'.' && first.is_some_and(|f| f.is_ascii_digit()))
            });
            let joins_after = after.is_some_and(|c| is_word(c) || matches!(c, b'-' | b'/'))
                || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()));
            !joins_before && !joins_after
        }
        Edge::Dotted => {
            let joins_before = before.is_some_and(|c| is_word(c) || c == b'.');
            let joins_after = after.is_some_and(is_word)
                || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()));
            !joins_before && !joins_after
        }
        Edge::Hex => {
            let joins_before = before.is_some_and(|c| is_word(c) || matches!(c, b':' | b'.'));
            let joins_after = after.is_some_and(|c| is_word(c) || c == b':')
                || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()));
            !joins_before && !joins_after
        }
    }
}

/// Whether a dotted quad is written as a version rather than an address:
/// `version 1.2.3.4`, `v1.2.3.4`, `ver. 1.2.3.4`.
pub(crate) fn looks_like_version(text: &[u8], start: usize) -> bool {
    let window_start = start.saturating_sub(24);
    let before = text.get(window_start..start).unwrap_or_default();
    if before.last().is_some_and(|c| c.eq_ignore_ascii_case(&b'v')) {
        return true;
    }
    let trimmed = before.trim_ascii_end();
    let trimmed = trimmed
        .strip_suffix(b":")
        .or_else(|| trimmed.strip_suffix(b"="))
        .unwrap_or(trimmed)
        .trim_ascii_end();
    let ends_with = |word: &[u8]| {
        trimmed.len() >= word.len()
            && trimmed
                .get(trimmed.len() - word.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(word))
    };
    [&b"version"[..], b"ver", b"ver.", b"build", b"\"version\""]
        .into_iter()
        .any(ends_with)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_a_changed_digit() {
        assert!(is_card(b"4111 1111 1111 1111"));
        assert!(is_card(b"5500-0000-0000-0004"));
        assert!(is_card(b"378282246310005"));
        assert!(is_card(b"6011111111111117"));
        assert!(!is_card(b"4111 1111 1111 1112"));
        assert!(!is_card(b"1234567812345670"), "issuer 1 is no card network");
    }

    #[test]
    fn ssn_rules_reject_never_issued_numbers() {
        assert!(is_ssn(b"123-45-6789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "912-34-5678",
            "123-00-4567",
            "123-45-0000",
        ] {
            assert!(!is_ssn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn vin_check_digit_is_verified() {
        assert!(is_vin(b"1M8GDM9AXKP042788"));
        assert!(!is_vin(b"1M8GDM9A1KP042788"));
    }

    #[test]
    fn phones_need_valid_area_code_and_exchange() {
        assert!(is_nanp_phone(b"(212) 555-0142"));
        assert!(is_nanp_phone(b"+1 212.555.0142 x12"));
        assert!(!is_nanp_phone(b"112-555-0142"));
        assert!(!is_nanp_phone(b"212-155-0142"));
    }

    #[test]
    fn ip_policy_keeps_internal_ranges_only_when_configured() {
        let keep = IpPolicy {
            keep_loopback: true,
            keep_private: true,
            keep_link_local: true,
            inventory: vec!["203.0.113.9".parse().unwrap(), "8.8.4.4".parse().unwrap()],
        };
        let strict = IpPolicy {
            keep_loopback: false,
            keep_private: false,
            keep_link_local: false,
            inventory: Vec::new(),
        };
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "127.0.0.1",
            "::1",
            "fd00::5",
            "fe80::1",
            "8.8.4.4",
        ] {
            assert!(keep_ip(ip.parse().unwrap(), &keep), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "127.0.0.1",
            "::1",
            "fd00::5",
            "8.8.4.4",
        ] {
            assert!(!keep_ip(ip.parse().unwrap(), &strict), "{ip}");
        }
        assert!(!keep_ip("73.22.14.9".parse().unwrap(), &keep));
        assert!(!keep_ip("2600:1700::42".parse().unwrap(), &keep));
        assert!(keep_ip("0.0.0.0".parse().unwrap(), &strict));
    }
}
