//! A separate Debian host made with a network namespace (its own nftables
//! ruleset and sshd on port 22, reached over a veth pair: the testkit's
//! `LinuxHost`) whose firewall drifts and is healed end to end with the
//! shipped check and runbook: detect fails, remediate, verify passes over a
//! new connection, rollback restores the drifted ruleset exactly.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Check, Outcome, Runbook};
use osiris_core::Secret;
use osiris_healing::script::with_env;
use osiris_testkit::linux::LinuxHost;
use osiris_testkit::linux::netns::DEFAULT_DENY_RULESET;
use osiris_transport::{Credentials, Output, Transport};
use osiris_transport_ssh::{Privilege, SshTransport};

use crate::transport::sh;

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

    let linux = LinuxHost::start();
    let host = &linux.namespace;
    let mut ssh = linux.connect_as_root().await;

    // The host starts compliant: the operator's own default-deny table.
    host.set_ruleset(DEFAULT_DENY_RULESET);
    assert_eq!(detect(&mut ssh, check).await, Outcome::Pass);

    // Drift: the ruleset is flushed and replaced by a permissive one.
    host.set_ruleset("flush ruleset\ntable inet filter {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    tcp dport 8080 counter accept\n  }\n}\n");
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
    let mut fresh = linux.connect_as_root().await;
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

#[tokio::test]
async fn a_flushed_ruleset_on_the_namespace_host_is_drift_the_nftables_check_sees() {
    let catalog = Catalog::embedded().unwrap();
    let check = catalog.check("deb.firewall.nftables").unwrap();
    let host = LinuxHost::start();
    assert_eq!(host.address(), SocketAddr::from((host.namespace.guest, 22)));
    assert_eq!(host.firewall_ruleset(), "", "a new host has no ruleset");

    // Logged in as root with the key file, as an appliance configured with it.
    let address = host.address();
    let mut ssh = SshTransport::connect(osiris_transport_ssh::SshConfig {
        host: address.ip().to_string(),
        port: address.port(),
        ..host.sshd.config(
            Credentials::PrivateKey {
                user: "root".into(),
                key: Secret::new(std::fs::read_to_string(host.client_key()).unwrap()),
                passphrase: None,
            },
            Privilege::Login,
        )
    })
    .await
    .unwrap_or_else(|err| panic!("{err}\n{}", host.sshd.log()));

    host.set_firewall_ruleset(DEFAULT_DENY_RULESET);
    assert!(host.firewall_ruleset().contains("policy drop"));
    assert_eq!(detect(&mut ssh, check).await, Outcome::Pass);

    host.inject_firewall_drift();
    assert_eq!(host.firewall_ruleset(), "");
    assert_eq!(detect(&mut ssh, check).await, Outcome::Fail);
    Box::new(ssh).close().await.unwrap();
}
