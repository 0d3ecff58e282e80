//! A separate Debian host for one test, made with a network namespace: its
//! own interfaces, addresses and nftables ruleset (and, through
//! [`Namespace::private_etc`], its own files under `/etc`), reached from
//! this machine over a veth pair.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::run;

/// An nftables ruleset an operator would deploy: one input chain with
/// policy drop that admits replies and SSH. The shipped nftables check
/// passes on it; a flushed ruleset ([`Namespace::flush_ruleset`]) fails it.
pub const DEFAULT_DENY_RULESET: &str = "flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n    ct state established,related accept\n    tcp dport 22 accept\n  }\n}\n";

/// A network namespace joined to this one by a veth pair, removed on drop
/// (with its links and its [`Namespace::private_etc`] folders).
///
/// Tests run in parallel in one process: each namespace gets its own name
/// (`osiris-fw-<pid>-<n>`), links and /29 block in 10.251.0.0/16, up to
/// 30 per process. Its nftables ruleset starts empty.
#[derive(Debug)]
pub struct Namespace {
    /// The namespace's name, for `ip netns exec` and
    /// [`Sshd::start_at`](super::Sshd::start_at).
    pub name: String,
    host_link: String,
    /// An address on this machine's side of the link: the one a runbook
    /// admits (the appliance).
    pub appliance: Ipv4Addr,
    /// A second address on this machine's side, standing for any other
    /// client.
    pub stranger: Ipv4Addr,
    /// The namespace's own address, where its services listen.
    pub guest: Ipv4Addr,
}

impl Namespace {
    /// Creates the namespace, the veth pair between it and this machine,
    /// and their addresses, and brings up its links (loopback included).
    ///
    /// # Panics
    /// When `ip` fails (not root, iproute2 missing), or after 30
    /// namespaces in one process.
    #[must_use]
    pub fn create() -> Self {
        // Tests run in parallel in one process: each namespace gets its own
        // name, links and /29 block.
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 30, "too many namespaces in one test run");
        let pid = std::process::id();
        let name = format!("osiris-fw-{pid}-{n}");
        let host_link = format!("ofw{}{n}h", pid % 100_000);
        let guest_link = format!("ofw{}{n}g", pid % 100_000);
        let subnet = u8::try_from(pid % 200).unwrap() + 20;
        let address = |last: u8| Ipv4Addr::new(10, 251, subnet, 8 * n + last);
        let namespace = Self {
            name,
            host_link,
            appliance: address(1),
            stranger: address(3),
            guest: address(2),
        };
        namespace.remove();
        run("ip", &["netns", "add", &namespace.name]);
        run(
            "ip",
            &[
                "link",
                "add",
                &namespace.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &guest_link,
            ],
        );
        run(
            "ip",
            &["link", "set", &guest_link, "netns", &namespace.name],
        );
        for host in [namespace.appliance, namespace.stranger] {
            run(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("{host}/29"),
                    "dev",
                    &namespace.host_link,
                ],
            );
        }
        run("ip", &["link", "set", &namespace.host_link, "up"]);
        namespace.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{}/29", namespace.guest),
            "dev",
            &guest_link,
        ]);
        namespace.exec(&["ip", "link", "set", &guest_link, "up"]);
        namespace.exec(&["ip", "link", "set", "lo", "up"]);
        namespace
    }

    /// Runs a command inside the namespace, outside SSH (the test's own
    /// view of the host), and returns its stdout.
    ///
    /// # Panics
    /// As [`run`].
    #[expect(
        clippy::must_use_candidate,
        reason = "called for its effect as often as for its output"
    )]
    pub fn exec(&self, command: &[&str]) -> String {
        let mut args = vec!["netns", "exec", self.name.as_str()];
        args.extend_from_slice(command);
        run("ip", &args)
    }

    /// Loads `ruleset` (nftables syntax, as for `nft -f`) into the
    /// namespace; start it with `flush ruleset` to replace what is there.
    ///
    /// # Panics
    /// When `nft` refuses it.
    pub fn set_ruleset(&self, ruleset: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.name));
        std::fs::write(&path, ruleset).unwrap();
        self.exec(&["nft", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(path);
    }

    /// Removes every table, chain and rule: firewall drift, as when an
    /// administrator runs `nft flush ruleset`.
    ///
    /// # Panics
    /// When `nft` fails.
    pub fn flush_ruleset(&self) {
        self.exec(&["nft", "flush", "ruleset"]);
    }

    /// The namespace's ruleset as `nft list ruleset` prints it (empty when
    /// flushed).
    ///
    /// # Panics
    /// When `nft` fails.
    #[must_use]
    pub fn ruleset(&self) -> String {
        self.exec(&["nft", "list", "ruleset"])
    }

    /// A folder that processes started in the namespace see as `/etc/<entry>`
    /// (`ip netns exec` bind-mounts `/etc/netns/<name>/<entry>` over it), so
    /// the namespace host's files never touch this machine's. Create it
    /// before starting the process that should see it.
    ///
    /// # Panics
    /// When the folder cannot be created.
    #[must_use]
    pub fn private_etc(&self, entry: &str) -> PathBuf {
        let path = self.etc_dir().join(entry);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn etc_dir(&self) -> PathBuf {
        Path::new("/etc/netns").join(&self.name)
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(self.etc_dir());
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }

    /// Whether a TCP connection from `source` (this side's
    /// [`Namespace::appliance`] or [`Namespace::stranger`]) to port 22 in
    /// the namespace is answered within 2 s.
    ///
    /// # Panics
    /// When `source` cannot be bound.
    pub async fn admits(&self, source: Ipv4Addr) -> bool {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        let connect = socket.connect(SocketAddr::from((self.guest, 22)));
        matches!(
            tokio::time::timeout(Duration::from_secs(2), connect).await,
            Ok(Ok(_))
        )
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.remove();
    }
}
