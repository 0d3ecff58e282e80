//! The appliance end to end against the real Central Command (in-process,
//! over its own TLS) and a simulated Windows domain controller speaking
//! real WinRM: drift injected → incident → L1 → remediated and verified →
//! evidence accepted by the server; a disruptive fix outside the window is
//! deferred and an approval-only fix escalated, each with evidence.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Timelike, Utc};
use osiris_agent::uplink::{Claim, Enrolment, ServerTrust, Timeouts, enrol};
use osiris_agent::{Agent, AgentConfig};
use osiris_core::SystemClock;
use osiris_testkit::windows::{LAB_PASSWORD, LAB_USER, WindowsLab, domain_controller};
use osiris_testkit::{Site, TestServer, site_with_appliance};
use serde_json::{Value, json};

/// A maintenance window that is closed now and for the next hours: two
/// hours starting three hours from now, in UTC.
#[expect(
    clippy::disallowed_methods,
    reason = "the appliance under test runs on the system clock, so the window is placed by it"
)]
fn closed_window() -> (String, String) {
    let hour = Utc::now().hour();
    (
        format!("{:02}:00", (hour + 3) % 24),
        format!("{:02}:00", (hour + 5) % 24),
    )
}

pub(crate) fn config_text(data_dir: &Path, server: &TestServer, targets: &str) -> String {
    let (start, end) = closed_window();
    format!(
        r#"
data_dir = "{data_dir}"
[server]
url = "{url}"
[maintenance]
timezone = "UTC"
start = "{start}"
end = "{end}"
[limits]
concurrency = 4
{targets}
"#,
        data_dir = data_dir.display(),
        url = server.base,
    )
}

pub(crate) fn windows_target(name: &str, lab: &WindowsLab) -> String {
    format!(
        r#"
[[targets]]
name = "{name}"
platform = "windows"
connection = "winrm"
address = "{url}"
credentials = {{ user = '{user}', password_env = "LAB_PASSWORD" }}
"#,
        url = lab.url(),
        user = LAB_USER,
    )
}

pub(crate) fn env() -> Arc<osiris_agent::targets::EnvLookup> {
    let vars: BTreeMap<String, String> =
        [("LAB_PASSWORD".to_owned(), LAB_PASSWORD.to_owned())].into();
    Arc::new(move |name: &str| vars.get(name).cloned())
}

/// Enrols an appliance for `site` in `data_dir` and opens it on the
/// system clock.
pub(crate) async fn enrolled_agent(server: &TestServer, site: &Site, config: &str) -> Agent {
    enrolled_agent_on(server, site, config, Arc::new(SystemClock)).await
}

/// Enrols an appliance for `site` and opens it on `clock`.
pub(crate) async fn enrolled_agent_on(
    server: &TestServer,
    site: &Site,
    config: &str,
    clock: Arc<dyn osiris_core::Clock>,
) -> Agent {
    enrolled_agent_env(server, site, config, clock, env()).await
}

/// Enrols an appliance for `site` and opens it on `clock` with `env`.
pub(crate) async fn enrolled_agent_env(
    server: &TestServer,
    site: &Site,
    config: &str,
    clock: Arc<dyn osiris_core::Clock>,
    env: Arc<osiris_agent::targets::EnvLookup>,
) -> Agent {
    let config = enrolled_config(server, site, config).await;
    Agent::open(config, clock, env).await.unwrap()
}

/// Enrols an appliance for `site` and opens it on the system clock with
/// `model` as its L2 planner's language model.
pub(crate) async fn enrolled_agent_with_model(
    server: &TestServer,
    site: &Site,
    config: &str,
    model: Arc<dyn osiris_planner::LanguageModel>,
) -> Agent {
    let config = enrolled_config(server, site, config).await;
    Agent::open_with_model(config, Arc::new(SystemClock), env(), Some(model))
        .await
        .unwrap()
}

/// Parses `config` and enrols its appliance for `site` by claim code.
async fn enrolled_config(server: &TestServer, site: &Site, config: &str) -> AgentConfig {
    let config = AgentConfig::from_toml(config).unwrap();
    std::fs::create_dir_all(&config.data_dir).unwrap();
    enrol(
        &config.data_dir,
        &Enrolment {
            server_url: server.base.clone(),
            trust: Some(ServerTrust::ca_file(&server.ca_file().unwrap()).unwrap()),
            allow_http: false,
            claim: Claim::Code(site.claim_code.clone().into()),
            replace_existing: false,
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_secs(30),
            },
        },
    )
    .await
    .unwrap();
    config
}

/// The bundles the server stored for the site, parsed.
pub(crate) async fn stored_bundles(site: &Site) -> Vec<Value> {
    let mut bundles: Vec<Value> = Vec::new();
    for entry in site.admin.evidence(&site.tenant.site).await {
        let id = entry["bundle_id"]
            .as_str()
            .or_else(|| entry["id"].as_str())
            .unwrap()
            .to_owned();
        let raw = site.admin.evidence_raw(&id).await;
        bundles.push(serde_json::from_slice(&raw).unwrap());
    }
    bundles.sort_by_key(|b| b["seq"].as_u64());
    bundles
}

/// A person approves: an order for `runbook` on `target`; its id.
async fn approve(site: &Site, runbook: &str, params: Value, target: &str) -> String {
    let (status, order) = site
        .admin
        .post(
            "/api/orders",
            json!({"appliance_id": site.appliance_id, "runbook_id": runbook, "params": params, "target": target}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{order}");
    order["id"].as_str().unwrap().to_owned()
}

fn find<'a>(bundles: &'a [Value], kind: &str, key: &str, value: &str) -> Vec<&'a Value> {
    bundles
        .iter()
        .filter(|b| b["kind"] == kind && b["detail"][key] == value)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_drift_is_detected_healed_verified_and_accepted_by_central_command() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "North Valley").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab));
    let agent = enrolled_agent(&server, &site, &config).await;

    // A compliant host: seven checks pass, nothing opens.
    let clean = agent.sweep().await.unwrap();
    assert_eq!(
        (clean.checks, clean.fail, clean.unknown),
        (7, 0, 0),
        "{clean:?}"
    );

    // Drift: real-time protection off (L1, safe at any time), the last
    // backup failed (disruptive: maintenance window only), BitLocker
    // protection suspended (approval only).
    lab.set_state("defender.realtime_enabled", json!(false))
        .unwrap();
    lab.set_state("backup.last_result", json!(1)).unwrap();
    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    let drifted = agent.sweep().await.unwrap();
    assert_eq!(drifted.fail, 3, "{drifted:?}");
    assert_eq!(drifted.opened, 3, "{drifted:?}");
    assert_eq!(drifted.healed, 1, "{drifted:?}");
    assert_eq!(drifted.deferred, 1, "{drifted:?}");
    assert_eq!(drifted.escalated, 1, "{drifted:?}");
    // The host itself was changed by the runbook, not just the record.
    assert_eq!(lab.state("defender.realtime_enabled"), Some(json!(true)));
    assert_eq!(lab.state("bitlocker.c_protection"), Some(json!("Off")));

    // The fixed incident is resolved; the other two stay open, one waiting
    // for a person.
    let incidents = agent.state().incidents().await.unwrap();
    let open: Vec<_> = incidents
        .iter()
        .filter(|i| i.open)
        .map(|i| i.check_id.as_str())
        .collect();
    assert_eq!(open.len(), 2, "{incidents:?}");
    assert!(!open.contains(&"win.av.defender"));
    let escalations = agent.state().escalations().await.unwrap();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0].check_id, "win.encryption.bitlocker");

    // Check-in: everything queued is stored and acknowledged.
    let head = agent.queue().head().await.unwrap().unwrap();
    let summary = agent.checkin().await.unwrap();
    assert!(summary.rejected.is_empty(), "{summary:?}");
    assert_eq!(summary.acknowledged_through_seq, head.seq);
    // The answer carried Central Command's rule set: the appliance runs it
    // now, and its rule_change bundle is the one left for the next check-in.
    assert!(summary.rule_set.is_some(), "{summary:?}");
    assert_eq!(agent.queue().stats().await.unwrap().bundles.count, 1);
    let second = agent.checkin().await.unwrap();
    assert_eq!(second.acknowledged_through_seq, head.seq + 1);
    assert_eq!(second.rule_set, None, "the same version is not sent again");
    assert_eq!(agent.queue().stats().await.unwrap().bundles.count, 0);
    let head = agent.queue().head().await.unwrap().unwrap();

    let bundles = stored_bundles(&site).await;
    assert_eq!(bundles.len() as u64, head.seq);
    let seqs: Vec<u64> = bundles.iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=head.seq).collect::<Vec<_>>(),
        "the chain has no gap"
    );
    // 14 check runs, then one bundle per decision.
    assert_eq!(bundles.iter().filter(|b| b["kind"] == "check").count(), 14);
    let healed = find(&bundles, "remediation", "runbook_id", "RB-WIN-AV-001");
    assert_eq!(healed.len(), 1);
    assert_eq!(healed[0]["outcome"], "verified");
    assert_eq!(healed[0]["detail"]["tier"], "L1");
    let deferred = find(&bundles, "remediation", "runbook_id", "RB-WIN-BACKUP-001");
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0]["outcome"], "deferred");
    let escalated: Vec<_> = bundles
        .iter()
        .filter(|b| {
            b["kind"] == "escalation" && b["detail"]["check_id"] == "win.encryption.bitlocker"
        })
        .collect();
    assert_eq!(escalated.len(), 1, "{bundles:#?}");
    assert_eq!(escalated[0]["outcome"], "escalated");
    assert_eq!(escalated[0]["detail"]["gate"], "approval");
    // Every bundle names the host by its inventory name.
    assert!(
        bundles
            .iter()
            .all(|b| b["host"] == "dc01" || b["kind"] == "rule_change")
    );
    let rule_change = bundles.last().unwrap();
    assert_eq!(
        (
            rule_change["kind"].as_str(),
            rule_change["outcome"].as_str()
        ),
        (Some("rule_change"), Some("applied"))
    );

    // Central Command knows the incidents, on the host the inventory named.
    let server_incidents = site.admin.incidents(&site.tenant.site).await;
    assert!(
        server_incidents
            .iter()
            .any(|i| i.to_string().contains("win.encryption.bitlocker")),
        "{server_incidents:#?}"
    );

    // The next sweep finds the fixed setting compliant; the escalated and
    // deferred ones fail again without a second escalation.
    let again = agent.sweep().await.unwrap();
    assert_eq!(
        (again.fail, again.opened, again.healed),
        (2, 0, 0),
        "{again:?}"
    );
    assert_eq!(agent.state().escalations().await.unwrap().len(), 1);
    let summary = agent.checkin().await.unwrap();
    assert!(summary.rejected.is_empty(), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_fix_runs_as_a_signed_order_and_its_result_reaches_central_command() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Lakeside").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab));
    let agent = enrolled_agent(&server, &site, &config).await;

    // BitLocker protection suspended: approval-only, so escalated.
    lab.set_state("bitlocker.c_protection", json!("Off"))
        .unwrap();
    let swept = agent.sweep().await.unwrap();
    assert_eq!(swept.escalated, 1, "{swept:?}");
    // The check-in reports the inventory, so Central Command knows dc01.
    agent.checkin().await.unwrap();

    // A person approves: an order for the runbook on that host.
    let order_id = approve(
        &site,
        "RB-WIN-ENCRYPTION-001",
        json!({"mount_point": "C:"}),
        "dc01",
    )
    .await;

    // The next check-in delivers it, signed; the appliance verifies and runs it.
    let delivered = agent.checkin().await.unwrap();
    assert_eq!(
        delivered.orders,
        vec![(order_id.clone(), "executed".to_owned())]
    );
    assert_eq!(lab.state("bitlocker.c_protection"), Some(json!("On")));
    // Its result goes up with the next check-in and the order is executed.
    agent.checkin().await.unwrap();
    let stored = site
        .admin
        .orders(&site.tenant.site)
        .await
        .into_iter()
        .find(|o| o["id"] == order_id.as_str())
        .unwrap();
    assert_eq!(stored["state"], "executed", "{stored}");
    // The order and its run are evidence on the server.
    let bundles = stored_bundles(&site).await;
    let recorded: Vec<_> = bundles.iter().filter(|b| b["kind"] == "order").collect();
    assert_eq!(recorded.len(), 1, "{bundles:#?}");
    assert_eq!(recorded[0]["outcome"], "executed");
    assert!(recorded[0].to_string().contains(&order_id));

    // The same order cannot be delivered again, and the next sweep finds
    // the volume protected.
    assert!(agent.checkin().await.unwrap().orders.is_empty());
    let after = agent.sweep().await.unwrap();
    assert_eq!((after.fail, after.resolved), (0, 1), "{after:?}");
}

/// A real Linux host: a network namespace with its own nftables ruleset and
/// Debian's sshd, reached over SSH with its host key pinned on first
/// contact. Its firewall drifts; the L1 rule escalates (the firewall
/// runbook needs approval), an operator's signed order restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_linux_hosts_firewall_drift_is_escalated_then_fixed_by_an_approved_order() {
    use osiris_testkit::linux::LinuxHost;
    use osiris_testkit::linux::netns::DEFAULT_DENY_RULESET;

    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Riverside").await;
    let host = LinuxHost::start();
    host.set_firewall_ruleset(DEFAULT_DENY_RULESET);
    let dir = tempfile::tempdir().unwrap();
    let target = format!(
        r#"
[[targets]]
name = "ehr01"
platform = "debian"
connection = "ssh"
address = "{address}"
sudo = false
credentials = {{ user = "root", key_file = "{key}" }}
checks = ["deb.firewall.nftables"]
"#,
        address = host.address(),
        key = host.client_key().display(),
    );
    let config = config_text(dir.path(), &server, &target);
    let agent = enrolled_agent(&server, &site, &config).await;

    let clean = agent.sweep().await.unwrap();
    assert_eq!(
        (clean.checks, clean.pass, clean.unreachable),
        (1, 1, 0),
        "{clean:?}"
    );
    // The host key was pinned on first contact in the appliance's data dir.
    let pinned = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert!(
        pinned.contains(&host.namespace.guest.to_string()),
        "{pinned}"
    );

    host.inject_firewall_drift();
    let drifted = agent.sweep().await.unwrap();
    assert_eq!(
        (drifted.fail, drifted.opened, drifted.escalated),
        (1, 1, 1),
        "{drifted:?}"
    );
    assert!(
        !host.firewall_ruleset().contains("policy drop"),
        "nothing ran unapproved"
    );
    agent.checkin().await.unwrap();

    let order_id = approve(
        &site,
        "RB-DEB-FIREWALL-002",
        json!({"osiris_ip": host.namespace.appliance.to_string()}),
        "ehr01",
    )
    .await;
    let delivered = agent.checkin().await.unwrap();
    assert_eq!(
        delivered.orders,
        vec![(order_id, "executed".to_owned())],
        "{delivered:?}"
    );
    assert!(
        host.firewall_ruleset().contains("policy drop"),
        "{}",
        host.firewall_ruleset()
    );

    let after = agent.sweep().await.unwrap();
    assert_eq!((after.pass, after.resolved), (1, 1), "{after:?}");
    let summary = agent.checkin().await.unwrap();
    assert!(summary.rejected.is_empty(), "{summary:?}");
    let orders = site.admin.orders(&site.tenant.site).await;
    assert_eq!(orders[0]["state"], "executed", "{orders:#?}");
    let bundles = stored_bundles(&site).await;
    assert!(
        bundles
            .iter()
            .all(|b| b["host"] == "ehr01" || b["kind"] == "rule_change")
    );
    assert_eq!(bundles.iter().filter(|b| b["kind"] == "check").count(), 3);
}

/// A setting something else keeps reverting (group policy, say) is healed,
/// reverts, is healed again… until the third reopening within a day: then
/// it is escalated as flapping and never fought again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_that_keeps_reverting_is_escalated_as_flapping_not_fought() {
    use osiris_testkit::{ServerOptions, TestClock};

    let server =
        TestServer::start_options(ServerOptions::https().with_clock(TestClock::manual_now())).await;
    let site = site_with_appliance(&server, "Hillcrest").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab));
    let clock = server.clock.clone();
    let agent = enrolled_agent_on(&server, &site, &config, Arc::new(clock.clone())).await;

    let mut healed = 0;
    for round in 0..4 {
        lab.set_state("defender.realtime_enabled", json!(false))
            .unwrap();
        let swept = agent.sweep().await.unwrap();
        healed += swept.healed;
        if round < 3 {
            assert_eq!(
                (swept.opened, swept.healed, swept.escalated),
                (1, 1, 0),
                "round {round}: {swept:?}"
            );
        } else {
            assert_eq!(
                (swept.opened, swept.healed, swept.escalated),
                (1, 0, 1),
                "round {round}: {swept:?}"
            );
        }
        // Past the rule's cooldown, well within a day.
        clock.advance(chrono::Duration::minutes(20));
    }
    assert_eq!(healed, 3);
    assert_eq!(
        lab.state("defender.realtime_enabled"),
        Some(json!(false)),
        "the fourth time it is left for a person"
    );
    let incidents = agent.state().incidents().await.unwrap();
    let open: Vec<_> = incidents.iter().filter(|i| i.open).collect();
    assert_eq!(open.len(), 1);
    assert!(open[0].flapping);
    let escalations = agent.state().escalations().await.unwrap();
    assert_eq!(escalations.len(), 1);
    assert!(
        escalations[0].reason.contains("reverting"),
        "{}",
        escalations[0].reason
    );
    // Still failing later: no new run, no second escalation.
    clock.advance(chrono::Duration::minutes(20));
    let later = agent.sweep().await.unwrap();
    assert_eq!(
        (later.fail, later.healed, later.escalated),
        (1, 0, 0),
        "{later:?}"
    );
    assert_eq!(agent.state().escalations().await.unwrap().len(), 1);
    let summary = agent.checkin().await.unwrap();
    assert!(summary.rejected.is_empty(), "{summary:?}");
    // The admin's session idled out while the clock moved: log in again.
    let site = Site {
        admin: server.admin().await,
        ..site
    };
    let bundles = stored_bundles(&site).await;
    let flapping: Vec<_> = bundles
        .iter()
        .filter(|b| b["kind"] == "escalation" && b["detail"]["gate"] == "flapping")
        .collect();
    assert_eq!(flapping.len(), 1, "{bundles:#?}");
}

/// Dry-run records exactly what would run and changes nothing; a host that
/// cannot be reached is recorded check by check as unknown, and unknown
/// never heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing_and_an_unreachable_host_is_unknown_not_healed() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Oakridge").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    // A second target where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/wsman", dead.local_addr().unwrap());
    drop(dead);
    let targets = format!(
        "{}\n[[targets]]\nname = \"dc02\"\nplatform = \"windows\"\nconnection = \"winrm\"\naddress = \"{dead_url}\"\ncredentials = {{ user = '{LAB_USER}', password_env = \"LAB_PASSWORD\" }}\n",
        windows_target("dc01", &lab)
    );
    let config = config_text(dir.path(), &server, &targets)
        .replace("[limits]", "[healing]\nmode = \"dry_run\"\n[limits]");
    let agent = enrolled_agent(&server, &site, &config).await;

    lab.set_state("defender.realtime_enabled", json!(false))
        .unwrap();
    let swept = agent.sweep().await.unwrap();
    assert_eq!(swept.checks, 14, "{swept:?}");
    assert_eq!((swept.unreachable, swept.unknown), (1, 7), "{swept:?}");
    assert_eq!(
        (swept.fail, swept.healed, swept.recorded_only),
        (1, 0, 1),
        "{swept:?}"
    );
    assert_eq!(
        lab.state("defender.realtime_enabled"),
        Some(json!(false)),
        "dry-run ran nothing"
    );

    agent.checkin().await.unwrap();
    let bundles = stored_bundles(&site).await;
    let plan: Vec<_> = bundles
        .iter()
        .filter(|b| b["outcome"] == "dry_run")
        .collect();
    assert_eq!(plan.len(), 1, "{bundles:#?}");
    assert_eq!(plan[0]["detail"]["runbook_id"], "RB-WIN-AV-001");
    let steps = plan[0]["detail"]["plan"].to_string();
    assert!(
        steps.contains("remediate") && steps.contains("verify"),
        "{steps}"
    );
    let unknown: Vec<_> = bundles.iter().filter(|b| b["host"] == "dc02").collect();
    assert_eq!(unknown.len(), 7);
    assert!(
        unknown
            .iter()
            .all(|b| b["kind"] == "check" && b["outcome"] == "unknown")
    );
    assert!(
        unknown[0].to_string().contains("unreachable"),
        "{}",
        unknown[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_opened_just_before_a_crash_is_reported_at_the_next_start() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "North Valley").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_text(dir.path(), &server, &windows_target("dc01", &lab));
    let agent = enrolled_agent(&server, &site, &config).await;

    // The appliance stopped between opening an incident (the state
    // database) and queueing its report (the queue): two files, so no one
    // transaction covers both.
    let opened = agent
        .state()
        .observe(
            "dc01",
            "win.backup.wsb",
            "high",
            osiris_agent::state::Seen::Fail,
            osiris_core::Clock::now(&SystemClock),
        )
        .await
        .unwrap();
    assert!(matches!(
        opened,
        osiris_agent::state::Observation::Opened(_)
    ));
    assert_eq!(agent.queue().stats().await.unwrap().incidents.count, 0);
    assert_eq!(agent.state().unreported().await.unwrap().len(), 1);
    agent.queue().clone().close().await.unwrap();
    agent.state().close().await;
    drop(agent);

    // The next start queues the report, once.
    let config = AgentConfig::from_toml(&config).unwrap();
    let agent = Agent::open(config.clone(), Arc::new(SystemClock), env())
        .await
        .unwrap();
    assert_eq!(agent.queue().stats().await.unwrap().incidents.count, 1);
    let incidents = agent.state().incidents().await.unwrap();
    assert!(incidents.iter().all(|i| i.reported), "{incidents:?}");
    agent.checkin().await.unwrap();
    let reported = site.admin.incidents(&site.tenant.site).await;
    assert!(
        reported.iter().any(|i| i["check_id"] == "win.backup.wsb"),
        "{reported:#?}"
    );
    agent.queue().clone().close().await.unwrap();
    agent.state().close().await;
    drop(agent);
    let agent = Agent::open(config, Arc::new(SystemClock), env())
        .await
        .unwrap();
    assert_eq!(agent.queue().stats().await.unwrap().incidents.count, 0);
}

/// A model for the appliance's L2 tier, scripted at the `LanguageModel`
/// boundary (the OpenAI-compatible client that normally sits there is
/// tested against a wire-protocol peer in `osiris-llm`); it keeps every
/// prompt it was given.
#[derive(Debug, Default)]
pub(crate) struct ScriptedModel {
    pub(crate) answers: std::sync::Mutex<Vec<String>>,
    pub(crate) prompts: std::sync::Mutex<Vec<String>>,
}

impl osiris_planner::LanguageModel for ScriptedModel {
    fn complete<'a>(
        &'a self,
        prompt: &'a osiris_planner::Prompt,
    ) -> osiris_planner::BoxFuture<
        'a,
        Result<osiris_planner::ModelAnswer, osiris_planner::ModelError>,
    > {
        self.prompts
            .lock()
            .unwrap()
            .push(format!("{}\n{}", prompt.system(), prompt.user()));
        let answer = self.answers.lock().unwrap().pop();
        Box::pin(async move {
            answer
                .map(|text| osiris_planner::ModelAnswer {
                    model: "scripted".to_owned(),
                    text,
                    form: osiris_planner::AnswerForm::Content,
                })
                .ok_or(osiris_planner::ModelError::Unavailable {
                    reason: "no answer scripted".to_owned(),
                })
        })
    }
}

/// A catalog without the Windows L1 rules, so drift reaches L2.
pub(crate) fn catalog_without_windows_rules(dir: &Path) -> std::path::PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../catalog");
    let target = dir.join("catalog");
    for entry in walk(&source) {
        let relative = entry.strip_prefix(&source).unwrap();
        if relative == Path::new("rules/windows.yaml") {
            continue;
        }
        let to = target.join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    target
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// What no L1 rule handles goes to the L2 planner: a valid plan runs
/// through the gates and is verified (tier L2, with the decision record);
/// a plan outside the whitelist is refused and the incident goes to a
/// person; PHI on the host never reaches the prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rule_goes_to_the_l2_planner_whose_plan_is_held_to_the_whitelist() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Westgate").await;
    let lab = domain_controller().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_without_windows_rules(dir.path());
    let data = dir.path().join("data");
    let config = config_text(&data, &server, &windows_target("dc01", &lab)).replacen(
        "[server]",
        &format!("catalog_dir = \"{}\"\n[server]", catalog.display()),
        1,
    ) + "[planner]\nmin_confidence = 0.7\ncalls_per_hour = 10\n\
         [[planner.endpoints]]\nname = \"local\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"scripted\"\n";
    let model = Arc::new(ScriptedModel::default());
    // Answers are popped from the end: first a plan outside the whitelist,
    // then a good one.
    *model.answers.lock().unwrap() = vec![
        r#"{"runbook_id":"RB-WIN-AV-001","params":{},"confidence":0.93,"reasoning":"real-time protection is off; restart it"}"#.to_owned(),
        r#"{"runbook_id":"RB-WIN-FORMAT-C-001","params":{},"confidence":0.99,"reasoning":"wipe it"}"#.to_owned(),
    ];
    let agent = enrolled_agent_with_model(&server, &site, &config, model.clone()).await;

    // PHI in the host's output must not reach the model.
    lab.set_state("defender.realtime_enabled", json!(false))
        .unwrap();
    lab.set_state(
        "defender.exclusion_paths",
        json!(["D:\\Scans\\Patient: Jane Doe SSN 219-09-9999"]),
    )
    .unwrap();
    let refused = agent.sweep().await.unwrap();
    assert_eq!(
        (refused.planned, refused.healed, refused.escalated),
        (1, 0, 1),
        "{refused:?}"
    );
    assert_eq!(lab.state("defender.realtime_enabled"), Some(json!(false)));
    let escalations = agent.state().escalations().await.unwrap();
    assert!(
        escalations[0].reason.contains("not_whitelisted"),
        "{}",
        escalations[0].reason
    );

    lab.set_state("defender.exclusion_paths", json!([]))
        .unwrap();
    let planned = agent.sweep().await.unwrap();
    assert_eq!((planned.planned, planned.healed), (1, 1), "{planned:?}");
    assert_eq!(lab.state("defender.realtime_enabled"), Some(json!(true)));

    let prompts = model.prompts.lock().unwrap().clone();
    assert_eq!(prompts.len(), 2);
    assert!(
        prompts[0].contains("[PHI:"),
        "the output reached the prompt scrubbed: {}",
        prompts[0]
    );
    for prompt in &prompts {
        assert!(
            prompt.contains("RB-WIN-AV-001"),
            "the candidates are listed"
        );
        assert!(
            !prompt.contains("Jane Doe") && !prompt.contains("219-09-9999"),
            "{prompt}"
        );
    }

    agent.checkin().await.unwrap();
    let bundles = stored_bundles(&site).await;
    let l2: Vec<_> = bundles
        .iter()
        .filter(|b| b["detail"]["tier"] == "L2")
        .collect();
    assert_eq!(l2.len(), 2, "{bundles:#?}");
    assert_eq!(l2[0]["kind"], "escalation");
    assert_eq!(l2[0]["detail"]["validation"]["code"], "not_whitelisted");
    assert_eq!(l2[1]["kind"], "remediation");
    assert_eq!(l2[1]["outcome"], "verified");
    assert_eq!(l2[1]["detail"]["l2"]["model"], "scripted");
    assert_eq!(l2[1]["detail"]["runbook_id"], "RB-WIN-AV-001");
}
