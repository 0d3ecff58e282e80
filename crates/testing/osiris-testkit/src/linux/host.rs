//! A namespace host with sshd on port 22: the Linux machine an appliance
//! test checks and heals.

use std::net::SocketAddr;
use std::path::PathBuf;

use osiris_transport_ssh::SshTransport;

use super::{Namespace, Sshd};

/// A separate Debian host for one test: a [`Namespace`] with Debian's
/// [`Sshd`] on port 22 at [`Namespace::guest`], reachable from this
/// machine over the veth pair, where root logs in with
/// [`LinuxHost::client_key`]. Its nftables ruleset starts empty.
///
/// Dropping it stops sshd, then removes the namespace.
#[derive(Debug)]
pub struct LinuxHost {
    /// The host's sshd (its folder holds the keys, config and log).
    /// Declared first so that it stops before the namespace goes.
    pub sshd: Sshd,
    /// The host's network namespace.
    pub namespace: Namespace,
}

impl LinuxHost {
    /// Creates the namespace and starts sshd on port 22 inside it.
    ///
    /// # Panics
    /// As [`Namespace::create`] and [`Sshd::start_at`] (needs root,
    /// iproute2 and openssh-server).
    #[must_use]
    pub fn start() -> Self {
        let namespace = Namespace::create();
        let sshd = Sshd::start_at(&namespace.guest.to_string(), Some(&namespace.name));
        Self { sshd, namespace }
    }

    /// Where to reach its sshd from this machine: the namespace's address,
    /// port 22.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from((self.namespace.guest, self.sshd.port))
    }

    /// The private key file (OpenSSH format, no passphrase) root logs in
    /// with.
    #[must_use]
    pub fn client_key(&self) -> PathBuf {
        self.sshd.client_key()
    }

    /// A session as root, pinning the host key in the sshd's own
    /// known-hosts file.
    ///
    /// # Panics
    /// As [`Sshd::connect_as_root`].
    pub async fn connect_as_root(&self) -> SshTransport {
        self.sshd.connect_as_root().await
    }

    /// Replaces the host's nftables ruleset with `ruleset` (e.g.
    /// [`DEFAULT_DENY_RULESET`](super::netns::DEFAULT_DENY_RULESET), which
    /// the shipped nftables check passes).
    ///
    /// # Panics
    /// As [`Namespace::set_ruleset`].
    pub fn set_firewall_ruleset(&self, ruleset: &str) {
        self.namespace
            .set_ruleset(&format!("flush ruleset\n{ruleset}"));
    }

    /// Firewall drift: flushes the host's nftables ruleset, leaving no
    /// table, so inbound traffic is no longer dropped by default.
    ///
    /// # Panics
    /// As [`Namespace::flush_ruleset`].
    pub fn inject_firewall_drift(&self) {
        self.namespace.flush_ruleset();
    }

    /// The host's nftables ruleset as `nft list ruleset` prints it (empty
    /// after [`LinuxHost::inject_firewall_drift`]).
    ///
    /// # Panics
    /// As [`Namespace::ruleset`].
    #[must_use]
    pub fn firewall_ruleset(&self) -> String {
        self.namespace.ruleset()
    }
}
