//! Ethernet MAC addresses, as an operator arms an appliance for
//! provisioning and as the appliance reports its own. One spelling is
//! stored and compared: six lowercase hex pairs joined by colons.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a usable MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// Not six hex pairs in a known spelling.
    #[error(
        "a MAC address must be six hex pairs like aa:bb:cc:dd:ee:ff \
         (colons, hyphens, Cisco dots or none), got {0:?}"
    )]
    Malformed(String),
    /// A multicast, broadcast or all-zero address, which no network card
    /// has as its own.
    #[error("{0} is not a unicast network card address")]
    NotUnicast(String),
}

/// A unicast MAC address, normalised to `aa:bb:cc:dd:ee:ff`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// The six bytes.
    #[must_use]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The 12 hex digits of the accepted spellings, or `None`.
fn digits(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let separated = |separator: u8, group: usize| -> Option<Vec<u8>> {
        let groups: Vec<&[u8]> = bytes.split(|b| *b == separator).collect();
        (groups.len() == 12 / group && groups.iter().all(|g| g.len() == group))
            .then(|| groups.concat())
    };
    match bytes.len() {
        12 => Some(bytes.to_vec()),
        17 if bytes.contains(&b':') => separated(b':', 2),
        17 => separated(b'-', 2),
        14 => separated(b'.', 4),
        _ => None,
    }
}

impl FromStr for MacAddress {
    type Err = MacError;

    fn from_str(text: &str) -> Result<Self, MacError> {
        let malformed = || MacError::Malformed(text.chars().take(64).collect());
        let digits = digits(text.trim()).ok_or_else(malformed)?;
        let mut octets = [0_u8; 6];
        for (octet, pair) in octets.iter_mut().zip(digits.chunks_exact(2)) {
            let [high, low] = pair else {
                return Err(malformed());
            };
            *octet = hex_value(*high)
                .zip(hex_value(*low))
                .map(|(high, low)| (high << 4) | low)
                .ok_or_else(malformed)?;
        }
        let mac = Self(octets);
        let [first, ..] = octets;
        // The low bit of the first octet marks a group (multicast) address.
        if octets == [0; 6] || first & 1 == 1 {
            return Err(MacError::NotUnicast(mac.to_string()));
        }
        Ok(mac)
    }
}

impl TryFrom<String> for MacAddress {
    type Error = MacError;
    fn try_from(value: String) -> Result<Self, MacError> {
        value.parse()
    }
}

impl From<MacAddress> for String {
    fn from(mac: MacAddress) -> Self {
        mac.to_string()
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_spelling_normalises_to_lowercase_colons() {
        for text in [
            "aa:bb:cc:dd:ee:f0",
            "AA:BB:CC:DD:EE:F0",
            "aa-bb-cc-dd-ee-f0",
            "aabb.ccdd.eef0",
            "AABBCCDDEEF0",
            " aa:bb:cc:dd:ee:f0 ",
        ] {
            let mac: MacAddress = text.parse().unwrap();
            assert_eq!(mac.to_string(), "aa:bb:cc:dd:ee:f0", "{text}");
        }
    }

    #[test]
    fn malformed_and_non_unicast_addresses_are_refused() {
        for text in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:f0:11",
            "aa:bb-cc:dd:ee:f0",
            "aabb.ccdd.eef",
            "gg:bb:cc:dd:ee:f0",
            "aa:bb:cc:dd:ee:f",
            "aaa:bb:cc:dd:ee:f",
            "aa:bb:cc:dd:ee:fé",
        ] {
            assert!(
                matches!(text.parse::<MacAddress>(), Err(MacError::Malformed(_))),
                "{text}"
            );
        }
        for text in [
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
            "01:00:5e:00:00:01",
        ] {
            assert!(
                matches!(text.parse::<MacAddress>(), Err(MacError::NotUnicast(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn serde_uses_the_normal_form() {
        let mac: MacAddress = serde_json::from_str("\"AA-BB-CC-DD-EE-F0\"").unwrap();
        assert_eq!(
            serde_json::to_string(&mac).unwrap(),
            "\"aa:bb:cc:dd:ee:f0\""
        );
    }
}
