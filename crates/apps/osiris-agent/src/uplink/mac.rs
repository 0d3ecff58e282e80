//! The MAC addresses of this machine's network interfaces, read from
//! `/sys/class/net/*/address`, for enrolment by MAC address: the operator
//! arms the appliance at Central Command with its MAC instead of typing a
//! claim code on site.

use std::path::Path;

pub use osiris_core::MacAddress;

use crate::uplink::error::UplinkError;

/// Where Linux lists network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// The distinct unicast MAC addresses of the interfaces under `dir`
/// (normally [`SYS_CLASS_NET`]), most likely first: interfaces backed by a
/// device (network cards, whose MAC is on the box's label) before virtual
/// ones (bridges, veths), and globally unique addresses before locally
/// administered ones, each group sorted. The loopback interface, all-zero
/// and multicast addresses and addresses that are not 48-bit (InfiniBand)
/// are left out; an interface whose address cannot be read is skipped,
/// since a virtual interface may vanish while the directory is read.
///
/// # Errors
/// [`UplinkError::Io`] when `dir` cannot be listed.
pub fn mac_addresses(dir: &Path) -> Result<Vec<MacAddress>, UplinkError> {
    let listing = UplinkError::io("listing network interfaces in", dir);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => return Err(listing(source)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            continue;
        };
        if entry.file_name() == "lo" {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("address")) else {
            continue;
        };
        let Ok(mac) = text.trim().parse::<MacAddress>() else {
            continue;
        };
        let virtual_interface = !entry.path().join("device").exists();
        let [first, ..] = mac.octets();
        let locally_administered = first & 0b10 != 0;
        found.push((virtual_interface, locally_administered, mac));
    }
    found.sort_unstable();
    let mut macs: Vec<MacAddress> = Vec::with_capacity(found.len());
    for (_, _, mac) in found {
        if !macs.contains(&mac) {
            macs.push(mac);
        }
    }
    Ok(macs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(dir: &Path, name: &str, address: &str, device: bool) {
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("address"), address).unwrap();
        if device {
            std::fs::create_dir(dir.join(name).join("device")).unwrap();
        }
    }

    #[test]
    fn network_cards_come_first_and_unusable_addresses_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        interface(dir.path(), "lo", "00:00:00:00:00:00\n", false);
        interface(dir.path(), "docker0", "02:42:ac:11:00:01\n", false);
        interface(dir.path(), "br0", "00:1b:21:0a:0b:0c\n", false);
        interface(dir.path(), "eth1", "00:1B:21:AB:cd:02\n", true);
        interface(dir.path(), "eth0", "00:1b:21:12:34:56\n", true);
        interface(dir.path(), "bond0", "00:1b:21:12:34:56\n", false);
        interface(dir.path(), "tun0", "00:00:00:00:00:00\n", false);
        interface(dir.path(), "mcast", "01:00:5e:00:00:01\n", false);
        interface(
            dir.path(),
            "ib0",
            "80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0e:d1:61\n",
            true,
        );
        std::fs::create_dir(dir.path().join("noaddr")).unwrap();
        let macs: Vec<String> = mac_addresses(dir.path())
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            macs,
            [
                "00:1b:21:12:34:56",
                "00:1b:21:ab:cd:02",
                "00:1b:21:0a:0b:0c",
                "02:42:ac:11:00:01"
            ]
        );
    }

    #[test]
    fn a_missing_directory_is_named() {
        let error = mac_addresses(Path::new("/nonexistent/net")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/net"), "{error}");
    }
}
