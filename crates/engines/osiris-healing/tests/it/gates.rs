//! Every gate refusing its failing case, and leaving evidence saying so:
//! the bundle names the gate, the reason, and the gates passed before it;
//! nothing that changes the host ran.

use chrono::{DateTime, TimeDelta, Utc};
use osiris_evidence::{BundleDraft, Kind};
use osiris_healing::{Episode, Gate, HealOutcome, Mode};
use osiris_limits::Quota;
use serde_json::json;

use crate::world::{self, Reply, World, detail, facts, policy, rogue_rules};

/// A world whose av check fails and whose remediation would work.
fn av_world(mode: Mode) -> World {
    let world = World::new(mode);
    world.host.on("DETECT av", vec![facts(false)]);
    world.host.on(
        "REMEDIATE tav",
        vec![Reply::out(r#"{"before":{"running":false}}"#)],
    );
    world.host.on("CONFIRM tav", vec![Reply::out("")]);
    world
}

fn assert_refusal(bundle: &BundleDraft, kind: Kind, outcome: &str, gate: &str) {
    assert_eq!(
        (
            bundle.kind,
            bundle.outcome.as_str(),
            detail(bundle, "gate").as_str()
        ),
        (kind, outcome, Some(gate)),
        "{:#}",
        bundle.detail
    );
    assert!(
        detail(bundle, "reason")
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(detail(bundle, "tier"), "L1");
    let trail = detail(bundle, "gates").as_array().unwrap();
    let last = trail.last().unwrap();
    assert_eq!(
        (&last["gate"], &last["decision"]),
        (&json!(gate), &json!("refuse"))
    );
    assert!(
        trail[..trail.len() - 1]
            .iter()
            .all(|g| g["decision"] == "allow")
    );
}

fn nothing_changed(world: &World) {
    for marker in ["REMEDIATE", "CONFIRM", "ROLLBACK"] {
        assert!(world.host.ran_with(marker).is_empty(), "{marker} ran");
    }
}

#[tokio::test]
async fn outside_the_window_a_disruptive_runbook_is_deferred_to_the_next_opening() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT backup", vec![facts(false)]);
    let report = world.heal("deb.test.backup").await;
    // Monday noon in New York; the window opens Saturday 22:00 EDT.
    let opening: DateTime<Utc> = "2024-06-23T02:00:00Z".parse().unwrap();
    assert!(matches!(
        report.outcome,
        HealOutcome::Deferred { gate: Gate::MaintenanceWindow, until, .. } if until == opening
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "deferred", "maintenance_window");
    assert_eq!(
        detail(&bundle, "deferred_until"),
        "2024-06-23T02:00:00+00:00"
    );
    assert_eq!(detail(&bundle, "runbook_id"), "RB-DEB-TBACKUP-001");
    assert_eq!(detail(&bundle, "rule_id"), "L1-T-BACKUP");
    nothing_changed(&world);

    // Inside the window the same runbook runs.
    world.clock.set(opening + TimeDelta::minutes(30));
    world
        .host
        .on("DETECT backup", vec![facts(false), facts(true)]);
    world.host.on(
        "REMEDIATE tbackup",
        vec![Reply::out(r#"{"before":{"last":"x"}}"#)],
    );
    let report = world.heal("deb.test.backup").await;
    assert_eq!(report.outcome, HealOutcome::Verified);
}

#[tokio::test]
async fn a_runbook_not_in_the_catalog_is_refused() {
    let world = World::with(policy(Mode::Heal), Some(rogue_rules()));
    world.host.on("DETECT av", vec![facts(false)]);
    let report = world.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Refused {
            gate: Gate::Whitelist,
            ..
        }
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "refused", "whitelist");
    assert_eq!(detail(&bundle, "requested_runbook"), "RB-DEB-GHOST-001");
    assert!(
        detail(&bundle, "reason")
            .as_str()
            .unwrap()
            .contains("not in the catalog")
    );
    nothing_changed(&world);
}

#[tokio::test]
async fn a_runbook_for_another_platform_is_refused() {
    let world = World::with(policy(Mode::Heal), Some(rogue_rules()));
    world.host.on("DETECT backup", vec![facts(false)]);
    let report = world.heal("deb.test.backup").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Refused {
            gate: Gate::Whitelist,
            ..
        }
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "refused", "whitelist");
    // The shipped catalog is not the test world's: the id is simply unknown here.
    assert!(
        detail(&bundle, "reason")
            .as_str()
            .unwrap()
            .contains("RB-WIN-AV-001")
    );
    nothing_changed(&world);
}

#[tokio::test]
async fn an_approval_only_runbook_is_escalated_never_run() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT firewall", vec![facts(false)]);
    let report = world.heal("deb.test.firewall").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Escalate {
            gate: Some(Gate::Approval),
            ..
        }
    ));
    assert_refusal(
        &world.drafts.last(),
        Kind::Escalation,
        "escalated",
        "approval",
    );
    nothing_changed(&world);
}

#[tokio::test]
async fn a_rule_cooling_down_on_the_host_is_deferred() {
    let world = av_world(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    assert_eq!(
        world.heal("deb.test.av").await.outcome,
        HealOutcome::Verified
    );

    world.clock.advance(TimeDelta::seconds(100));
    world.host.on("DETECT av", vec![facts(false)]);
    let report = world.heal("deb.test.av").await;
    let until = world::now() + TimeDelta::seconds(300);
    assert!(matches!(
        report.outcome,
        HealOutcome::Deferred { gate: Gate::Cooldown, until: u, .. } if u == until
    ));
    assert_refusal(
        &world.drafts.last(),
        Kind::Remediation,
        "deferred",
        "cooldown",
    );
    assert_eq!(world.host.ran_with("REMEDIATE").len(), 1);
}

#[tokio::test]
async fn retries_exhausted_escalate() {
    let world = av_world(Mode::Heal);
    // Verify never passes: each attempt rolls back and counts as a failure.
    world.host.on("ROLLBACK tav", vec![Reply::out("")]);
    for _ in 0..2 {
        assert_eq!(
            world.heal("deb.test.av").await.outcome,
            HealOutcome::RolledBack
        );
        world.clock.advance(TimeDelta::minutes(10));
    }
    let report = world.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Escalate {
            gate: Some(Gate::Retries),
            ..
        }
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Escalation, "escalated", "retries");
    assert_eq!(detail(&bundle, "rule_id"), "L1-T-AV");
    assert_eq!(world.host.ran_with("REMEDIATE").len(), 2);
}

#[tokio::test]
async fn a_restored_ledger_keeps_cooldowns_and_retries_across_a_restart() {
    let before = av_world(Mode::Heal);
    before.host.on("ROLLBACK tav", vec![Reply::out("")]);
    assert_eq!(
        before.heal("deb.test.av").await.outcome,
        HealOutcome::RolledBack
    );
    let entry = before.healer.ledger_entry("L1-T-AV", "deb01").unwrap();
    assert_eq!((entry.last_fired, entry.failures), (world::now(), 1));

    // A new healer (a restarted appliance) given the kept entry.
    let after = av_world(Mode::Heal);
    let mut ledger = osiris_rules::Ledger::new();
    ledger.record_fired("L1-T-AV", "deb01", entry.last_fired);
    ledger.record_outcome("L1-T-AV", "deb01", false);
    after.healer.restore_ledger(ledger);
    let report = after.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Deferred {
            gate: Gate::Cooldown,
            ..
        }
    ));
}

#[tokio::test]
async fn the_host_action_rate_defers_a_run_and_says_when() {
    let mut limits = policy(Mode::Heal);
    limits.host_actions = Quota::new(1, TimeDelta::hours(1)).unwrap();
    let world = World::with(limits, None);
    world
        .host
        .on("DETECT logging", vec![facts(false), facts(true)]);
    world
        .host
        .on("REMEDIATE tlog", vec![Reply::out(r#"{"before":{}}"#)]);
    assert_eq!(
        world.heal("deb.test.logging").await.outcome,
        HealOutcome::Verified
    );
    world.host.on("DETECT logging", vec![facts(false)]);
    let report = world.heal("deb.test.logging").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Deferred { gate: Gate::HostRate, until, .. } if until == world::now() + TimeDelta::hours(1)
    ));
    assert_refusal(
        &world.drafts.last(),
        Kind::Remediation,
        "deferred",
        "host_rate",
    );
    assert_eq!(world.host.ran_with("REMEDIATE").len(), 1);
}

#[tokio::test]
async fn the_site_action_rate_defers_runs_on_every_host() {
    let mut limits = policy(Mode::Heal);
    limits.site_actions = Quota::new(1, TimeDelta::hours(1)).unwrap();
    let world = World::with(limits, None);
    world
        .host
        .on("DETECT logging", vec![facts(false), facts(true)]);
    world
        .host
        .on("REMEDIATE tlog", vec![Reply::out(r#"{"before":{}}"#)]);
    assert_eq!(
        world.heal("deb.test.logging").await.outcome,
        HealOutcome::Verified
    );
    // Another rule, same site: the site quota is spent.
    world.host.on("DETECT av", vec![facts(false)]);
    let report = world.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Deferred {
            gate: Gate::SiteRate,
            ..
        }
    ));
    assert_refusal(
        &world.drafts.last(),
        Kind::Remediation,
        "deferred",
        "site_rate",
    );
    assert!(world.host.ran_with("REMEDIATE tav").is_empty());
}

#[tokio::test]
async fn dry_run_runs_nothing_and_records_the_exact_plan() {
    let world = av_world(Mode::DryRun);
    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::DryRun);
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "dry_run", "mode");
    let plan = detail(&bundle, "plan");
    assert_eq!(plan["runbook_id"], "RB-DEB-TAV-001");
    assert_eq!(plan["target"], "deb01");
    assert_eq!(plan["params"], json!({}));
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["remediate", "verify", "confirm", "rollback"]);
    // The remediate digest is of the exact text that would be sent.
    let sent = osiris_healing::script::with_env("echo REMEDIATE tav", &[("OSIRIS_PARAMS", "{}")]);
    assert_eq!(
        plan["steps"][0]["script_sha256"],
        sha256_hex(sent.as_bytes())
    );
    assert_eq!(plan["steps"][1]["check_id"], "deb.test.av");
    nothing_changed(&world);
    // Only the initial detect ran.
    assert_eq!(world.host.ran().len(), 1);
}

#[tokio::test]
async fn observe_runs_nothing_and_records_what_it_saw() {
    let world = av_world(Mode::Observe);
    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::Observed);
    assert_eq!(report.rule_id.as_deref(), Some("L1-T-AV"));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "observed", "mode");
    assert_eq!(detail(&bundle, "mode"), "observe");
    assert_eq!(world.host.ran().len(), 1);
}

#[tokio::test]
async fn invalid_runbook_params_are_refused() {
    let mut bad = policy(Mode::Heal);
    bad.runbook_params.insert(
        "RB-DEB-TAV-001".parse().unwrap(),
        json!({"level": 9}).as_object().unwrap().clone(),
    );
    let world = World::with(bad, None);
    world.host.on("DETECT av", vec![facts(false)]);
    let report = world.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Refused {
            gate: Gate::Params,
            ..
        }
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Remediation, "refused", "params");
    assert!(
        detail(&bundle, "reason")
            .as_str()
            .unwrap()
            .contains("/level")
    );
    nothing_changed(&world);
}

#[tokio::test]
async fn no_matching_rule_escalates() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT orphan", vec![facts(false)]);
    let report = world.heal("deb.test.orphan").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Escalate {
            gate: Some(Gate::Rule),
            ..
        }
    ));
    assert_eq!(report.rule_id, None);
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Escalation, "escalated", "rule");
    assert_eq!(detail(&bundle, "check_id"), "deb.test.orphan");
    nothing_changed(&world);
}

#[tokio::test]
async fn an_escalating_rule_escalates_with_its_id() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT encryption", vec![facts(false)]);
    let report = world.heal("deb.test.encryption").await;
    assert_eq!(report.rule_id.as_deref(), Some("L1-T-ENC"));
    assert_refusal(&world.drafts.last(), Kind::Escalation, "escalated", "rule");
    nothing_changed(&world);
}

#[tokio::test]
async fn a_flapping_incident_is_escalated_not_fought() {
    let world = av_world(Mode::Heal);
    let hour = |h: i64| world::now() - TimeDelta::hours(6) + TimeDelta::hours(h);
    let history = [
        Episode {
            opened_at: hour(0),
            resolved_at: Some(hour(1)),
        },
        Episode {
            opened_at: hour(2),
            resolved_at: Some(hour(3)),
        },
        Episode {
            opened_at: hour(4),
            resolved_at: Some(hour(5)),
        },
        Episode {
            opened_at: hour(6),
            resolved_at: None,
        },
    ];
    let report = world.heal_with("deb.test.av", &history).await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Escalate {
            gate: Some(Gate::Flapping),
            ..
        }
    ));
    let bundle = world.drafts.last();
    assert_refusal(&bundle, Kind::Escalation, "escalated", "flapping");
    assert_eq!(detail(&bundle, "reopenings"), 3);
    nothing_changed(&world);
    // Two reopenings are healed as usual.
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    let report = world.heal_with("deb.test.av", &history[1..]).await;
    assert_eq!(report.outcome, HealOutcome::Verified);
}

fn sha256_hex(bytes: &[u8]) -> String {
    osiris_evidence::Artifact::of("x", bytes)
        .sha256()
        .to_owned()
}
