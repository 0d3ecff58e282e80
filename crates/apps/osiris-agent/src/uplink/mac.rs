//! The MAC addresses of this machine's network interfaces, read from
//! `/sys/class/net/*/address`, for enrolment by MAC address: the operator
//! registers the appliance's MAC at Central Command instead of typing a
//! claim code on site.

use std::fmt;
use std::path::Path;

use crate::uplink::error::UplinkError;

/// Where Linux lists network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// A 48-bit MAC address; displays as lowercase colon-separated hex
/// (`52:54:00:12:34:56`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// The six octets.
    #[must_use]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Reads `aa:bb:cc:dd:ee:ff` (or with `-`), any case.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut octets = [0u8; 6];
        let mut parts = text.trim().split([':', '-']);
        for octet in &mut octets {
            let part = parts.next()?;
            if part.len() != 2 || !part.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *octet = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(Self(octets))
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

/// The distinct MAC addresses of the interfaces under `dir` (normally
/// [`SYS_CLASS_NET`]), sorted. The loopback interface, all-zero addresses
/// (tunnels, dummies) and addresses that are not 48-bit (InfiniBand) are
/// left out; an interface whose address cannot be read is skipped, since a
/// virtual interface may vanish while the directory is read.
///
/// # Errors
/// [`UplinkError::Io`] when `dir` cannot be listed.
pub fn mac_addresses(dir: &Path) -> Result<Vec<MacAddress>, UplinkError> {
    let entries =
        std::fs::read_dir(dir).map_err(UplinkError::io("listing network interfaces in", dir))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(UplinkError::io("listing network interfaces in", dir))?;
        if entry.file_name() == "lo" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("address")) else {
            continue;
        };
        match MacAddress::parse(&text) {
            Some(mac) if mac.0 != [0; 6] => found.push(mac),
            _ => {}
        }
    }
    found.sort_unstable();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(dir: &Path, name: &str, address: &str) {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("address"), address).unwrap();
    }

    #[test]
    fn loopback_zero_and_long_addresses_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        interface(dir.path(), "lo", "00:00:00:00:00:00\n");
        interface(dir.path(), "eth1", "52:54:00:AB:cd:02\n");
        interface(dir.path(), "eth0", "52:54:00:12:34:56\n");
        interface(dir.path(), "bond0", "52:54:00:12:34:56\n");
        interface(dir.path(), "tun0", "00:00:00:00:00:00\n");
        interface(
            dir.path(),
            "ib0",
            "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0e:d1:61\n",
        );
        std::fs::create_dir(dir.path().join("noaddr")).unwrap();
        let macs: Vec<String> = mac_addresses(dir.path())
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(macs, ["52:54:00:12:34:56", "52:54:00:ab:cd:02"]);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let error = mac_addresses(Path::new("/nonexistent/net")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/net"), "{error}");
    }

    #[test]
    fn addresses_parse_strictly() {
        assert!(MacAddress::parse("52-54-00-12-34-56").is_some());
        assert!(MacAddress::parse("52:54:00:12:34").is_none());
        assert!(MacAddress::parse("52:54:00:12:34:+5").is_none());
        assert!(MacAddress::parse("52:54:00:12:34:567").is_none());
    }
}
