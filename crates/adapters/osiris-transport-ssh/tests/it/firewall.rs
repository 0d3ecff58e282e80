//! A separate Debian host made with a network namespace (its own nftables
//! ruleset and sshd on port 22, reached over a veth pair) whose firewall
//! drifts and is healed end to end with the shipped check and runbook:
//! detect fails, remediate, verify passes over a new connection, rollback
//! restores the drifted ruleset exactly.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Check, Outcome, Runbook};
use osiris_healing::script::with_env;
use osiris_transport::{Output, Transport};
use osiris_transport_ssh::SshTransport;

use crate::sshd::{Sshd, run};
use crate::transport::sh;

/// A network namespace joined to this one by a veth pair, removed on drop.
pub(crate) struct Namespace {
    pub(crate) name: String,
    host_link: String,
    /// This side's address, the one the runbook admits (the appliance).
    appliance: Ipv4Addr,
    /// A second address on this side, standing for any other client.
    stranger: Ipv4Addr,
    /// The namespace's address.
    pub(crate) guest: Ipv4Addr,
}

impl Namespace {
    pub(crate) fn create() -> Self {
        // Tests run in parallel in one process: each namespace gets its own
        // name, links and /29 block.
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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

    /// Runs a command inside the namespace, outside SSH (the test's own view).
    fn exec(&self, command: &[&str]) -> String {
        let mut args = vec!["netns", "exec", self.name.as_str()];
        args.extend_from_slice(command);
        run("ip", &args)
    }

    fn nft(&self, ruleset: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.name));
        std::fs::write(&path, ruleset).unwrap();
        self.exec(&["nft", "-f", path.to_str().unwrap()]);
        let _ = std::fs::remove_file(path);
    }

    fn ruleset(&self) -> String {
        self.exec(&["nft", "list", "ruleset"])
    }

    /// A folder that processes started in the namespace see as `/etc/<entry>`
    /// (`ip netns exec` bind-mounts `/etc/netns/<name>/<entry>` over it), so
    /// the namespace host's files never touch this machine's.
    pub(crate) fn private_etc(&self, entry: &str) -> std::path::PathBuf {
        let path = self.etc_dir().join(entry);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn etc_dir(&self) -> std::path::PathBuf {
        std::path::Path::new("/etc/netns").join(&self.name)
    }

    fn remove(&self) {
        let _ = std::fs::remove_dir_all(self.etc_dir());
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
    }

    /// Whether a TCP connection from `source` to the namespace's sshd is answered.
    async fn admits(&self, source: Ipv4Addr) -> bool {
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

pub(crate) async fn detect(ssh: &mut SshTransport, check: &Check) -> Outcome {
    let output = ssh.run(&sh(&check.detect.script)).await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let now: DateTime<Utc> = document["collected_utc"].as_str().unwrap().parse().unwrap();
    check.criteria.evaluate(&stdout, now).outcome
}

pub(crate) fn succeeded(step: &str, output: &Output) {
    assert!(
        output.succeeded(),
        "{step} exited {}: {}",
        output.exit_code,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_namespace_host_whose_nftables_ruleset_drifts_is_healed_and_rolled_back() {
    let catalog = Catalog::embedded().unwrap();
    let check = catalog.check("deb.firewall.nftables").unwrap();
    let runbook: &Runbook = catalog.runbook(&check.runbook).unwrap();
    assert!(runbook.steps.verify.rerun_detect);
    let rollback = runbook.steps.rollback.as_ref().unwrap();

    let host = Namespace::create();
    let sshd = Sshd::start_at(&host.guest.to_string(), Some(&host.name));
    let mut ssh = sshd.connect_as_root().await;

    // The host starts compliant: the operator's own default-deny table.
    host.nft("flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n    ct state established,related accept\n    tcp dport 22 accept\n  }\n}\n");
    assert_eq!(detect(&mut ssh, check).await, Outcome::Pass);

    // Drift: the ruleset is flushed and replaced by a permissive one.
    host.nft("flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    tcp dport 8080 counter accept\n  }\n}\n");
    let drifted = host.ruleset();
    assert_eq!(detect(&mut ssh, check).await, Outcome::Fail);
    assert!(
        host.admits(host.stranger).await,
        "the drifted host admits anyone"
    );

    // Remediate over the same session, as the appliance at `host.appliance`.
    let params = format!(r#"{{"osiris_ip":"{}"}}"#, host.appliance);
    let mut remediate = sh(&with_env(
        &runbook.steps.remediate.script,
        &[("OSIRIS_PARAMS", &params)],
    ));
    remediate.timeout = runbook.steps.remediate.timeout.as_std();
    let output = ssh.run(&remediate).await.unwrap();
    succeeded("remediate", &output);
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let before = result["before"].to_string();

    // Verify over a new connection: the appliance is not locked out, and the check passes.
    let mut fresh = sshd.connect_as_root().await;
    assert_eq!(detect(&mut fresh, check).await, Outcome::Pass);
    assert_eq!(
        detect(&mut ssh, check).await,
        Outcome::Pass,
        "the running session survived"
    );
    assert!(host.admits(host.appliance).await);
    assert!(
        !host.admits(host.stranger).await,
        "other clients are dropped"
    );

    // Rollback restores the drifted ruleset exactly.
    let mut undo = sh(&with_env(&rollback.script, &[("OSIRIS_BEFORE", &before)]));
    undo.timeout = rollback.timeout.as_std();
    let output = fresh.run(&undo).await.unwrap();
    succeeded("rollback", &output);
    assert_eq!(host.ruleset(), drifted);
    assert_eq!(detect(&mut fresh, check).await, Outcome::Fail);
    assert!(host.admits(host.stranger).await);
    Box::new(fresh).close().await.unwrap();
}
