//! RB-LNX-SSHD-001 end to end on the network-namespace host, whose `/etc/ssh`
//! is a private folder (see `Namespace::private_etc`): the shipped sshd check
//! fails on a drifted configuration, remediate writes the drop-in, verify
//! passes over a new connection, and rollback restores the prior drop-in byte
//! for byte, or removes it when there was none. This machine's `/etc/ssh` is
//! never written.

use std::path::Path;

use osiris_catalog::{Catalog, Outcome, Runbook};
use osiris_healing::script::with_env;
use osiris_testkit::linux::sshd::keygen;
use osiris_testkit::linux::{Namespace, Sshd};
use osiris_transport::Transport;
use osiris_transport_ssh::SshTransport;

use crate::firewall::{detect, succeeded};
use crate::transport::sh;

const DROP_IN: &str = "sshd_config.d/50-osiris-hardening.conf";

/// Runs remediate then returns its `before` JSON.
async fn remediate(ssh: &mut SshTransport, runbook: &Runbook) -> serde_json::Value {
    let mut script = sh(&with_env(
        &runbook.steps.remediate.script,
        &[("OSIRIS_PARAMS", "{}")],
    ));
    script.timeout = runbook.steps.remediate.timeout.as_std();
    let output = ssh.run(&script).await.unwrap();
    succeeded("remediate", &output);
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    result["before"].clone()
}

async fn roll_back(ssh: &mut SshTransport, runbook: &Runbook, before: &serde_json::Value) {
    let rollback = runbook.steps.rollback.as_ref().unwrap();
    let mut script = sh(&with_env(
        &rollback.script,
        &[("OSIRIS_BEFORE", &before.to_string())],
    ));
    script.timeout = rollback.timeout.as_std();
    let output = ssh.run(&script).await.unwrap();
    succeeded("rollback", &output);
}

#[tokio::test]
async fn a_namespace_host_with_a_weak_sshd_config_is_hardened_verified_and_rolled_back() {
    let catalog = Catalog::embedded().unwrap();
    let check = catalog.check("deb.ssh.sshd").unwrap();
    let runbook = catalog.runbook(&check.runbook).unwrap();
    assert!(runbook.steps.verify.rerun_detect);
    let this_machine = std::fs::read(Path::new("/etc/ssh").join(DROP_IN)).ok();

    let host = Namespace::create();
    let etc_ssh = host.private_etc("ssh");
    std::fs::create_dir_all(etc_ssh.join("sshd_config.d")).unwrap();
    keygen(&etc_ssh.join("ssh_host_ed25519_key"));
    // Debian's layout (drop-ins included first) with drifted settings, and an
    // operator's file under the runbook's name, without a final newline.
    std::fs::write(
        etc_ssh.join("sshd_config"),
        "Include /etc/ssh/sshd_config.d/*.conf\nHostKey /etc/ssh/ssh_host_ed25519_key\n\
         PasswordAuthentication yes\nX11Forwarding yes\nMACs hmac-sha1,hmac-sha2-256\n",
    )
    .unwrap();
    let prior = b"# the operator's own\nMaxAuthTries 6\nBanner none";
    std::fs::write(etc_ssh.join(DROP_IN), prior).unwrap();

    let sshd = Sshd::start_at(&host.guest.to_string(), Some(&host.name));
    let mut ssh = sshd.connect_as_root().await;
    assert_eq!(detect(&mut ssh, check).await, Outcome::Fail);

    let before = remediate(&mut ssh, runbook).await;
    assert_eq!(before["existed"], true);
    let mut fresh = sshd.connect_as_root().await;
    assert_eq!(detect(&mut fresh, check).await, Outcome::Pass);
    let written = std::fs::read_to_string(etc_ssh.join(DROP_IN)).unwrap();
    assert!(written.contains("PasswordAuthentication no"), "{written}");

    roll_back(&mut fresh, runbook, &before).await;
    assert_eq!(std::fs::read(etc_ssh.join(DROP_IN)).unwrap(), prior);
    assert_eq!(detect(&mut fresh, check).await, Outcome::Fail);

    // Without a prior drop-in, rollback removes the one remediate wrote.
    std::fs::remove_file(etc_ssh.join(DROP_IN)).unwrap();
    let before = remediate(&mut fresh, runbook).await;
    assert_eq!(before["existed"], false);
    assert_eq!(detect(&mut fresh, check).await, Outcome::Pass);
    roll_back(&mut fresh, runbook, &before).await;
    assert!(!etc_ssh.join(DROP_IN).exists());
    assert_eq!(detect(&mut fresh, check).await, Outcome::Fail);

    assert_eq!(
        std::fs::read(Path::new("/etc/ssh").join(DROP_IN)).ok(),
        this_machine,
        "this machine's own /etc/ssh was touched"
    );
    Box::new(fresh).close().await.unwrap();
}
