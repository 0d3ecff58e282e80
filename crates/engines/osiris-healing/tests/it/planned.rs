//! A runbook the L2 planner chose goes through the same gates as an L1 fix
//! (but a rule's cooldown) and is recorded as `tier: "L2"` with the
//! planner's decision record.

use osiris_healing::{Gate, HealOutcome, Mode};
use serde_json::{Map, json};

use crate::world::{Reply, World, detail, facts};

const BEFORE: &str = r#"{"before":{"running":false,"unit":"clamav"},"note":"started"}"#;

async fn plan(world: &World, check_id: &str, runbook: &str) -> osiris_healing::HealReport {
    let report = world.check(check_id).await;
    let failed = report.run.failed().expect("the check failed");
    let mut session = world.host.session();
    world
        .healer
        .heal_planned(
            &mut session,
            &world.host,
            failed,
            &runbook.parse().unwrap(),
            &Map::new(),
            json!({"prompt_sha256": "ab12", "model": "scripted"}),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn a_planned_runbook_runs_verifies_and_is_recorded_as_l2() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("CONFIRM tav", vec![Reply::out("")]);

    let report = plan(&world, "deb.test.av", "RB-DEB-TAV-001").await;
    assert_eq!(report.outcome, HealOutcome::Verified);
    assert_eq!(report.rule_id, None);
    let bundle = world.drafts.last();
    assert_eq!(bundle.outcome, "verified");
    assert_eq!(detail(&bundle, "tier"), "L2");
    assert_eq!(detail(&bundle, "l2")["prompt_sha256"], "ab12");
    let gates = detail(&bundle, "gates").to_string();
    assert!(
        !gates.contains("cooldown"),
        "no rule, so no cooldown: {gates}"
    );
    assert!(gates.contains("host_rate"), "{gates}");
}

#[tokio::test]
async fn a_planned_runbook_still_meets_the_whitelist_approval_and_mode_gates() {
    // Another platform's runbook (the planner validated it, but the gate
    // holds on its own).
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    let report = plan(&world, "deb.test.av", "RB-WIN-AV-001").await;
    assert!(
        matches!(
            report.outcome,
            HealOutcome::Refused {
                gate: Gate::Whitelist,
                ..
            }
        ),
        "{:?}",
        report.outcome
    );
    assert!(world.host.ran_with("REMEDIATE").is_empty());

    // Approval-only runbooks are escalated, whoever chose them.
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    let report = plan(&world, "deb.test.av", "RB-DEB-TFW-001").await;
    assert!(
        matches!(
            report.outcome,
            HealOutcome::Escalate {
                gate: Some(Gate::Approval),
                ..
            }
        ),
        "{:?}",
        report.outcome
    );
    assert!(world.host.ran_with("REMEDIATE").is_empty());

    // Observe mode runs nothing.
    let world = World::new(Mode::Observe);
    world.host.on("DETECT av", vec![facts(false)]);
    let report = plan(&world, "deb.test.av", "RB-DEB-TAV-001").await;
    assert_eq!(report.outcome, HealOutcome::Observed);
    assert!(world.host.ran_with("REMEDIATE").is_empty());
    assert_eq!(detail(&world.drafts.last(), "tier"), "L2");
}

/// A learned rule in shadow mode for the antivirus check, and nothing else.
fn shadow_rules() -> osiris_rules::Matcher {
    let yaml = "format: osiris.rules.v1
rules:
  - id: L1-LRN-ABCDEF012345
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: antivirus }
      - { field: status, operator: eq, value: fail }
    action: run_runbook
    action_params: { runbook_id: RB-DEB-TAV-001, level: 2 }
    priority: 50
    source: promoted
    shadow: true
";
    let file = osiris_catalog::parse_rule_file("rules/promoted.yaml", yaml).unwrap();
    osiris_rules::RuleSetBuilder::new()
        .add(
            osiris_rules::RuleSource::Synced,
            "rules/promoted.yaml",
            &file,
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_shadow_rule_never_runs_and_its_decision_travels_with_l1_and_l2_bundles() {
    let world = crate::world::World::with(crate::world::policy(Mode::Heal), Some(shadow_rules()));
    world
        .host
        .on("DETECT av", vec![facts(false), facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("CONFIRM tav", vec![Reply::out("")]);

    // L1: no acting rule, so the incident goes on; the shadow rule's
    // decision is recorded, and nothing ran.
    let report = world.heal("deb.test.av").await;
    assert!(
        matches!(
            report.outcome,
            HealOutcome::Escalate {
                gate: Some(Gate::Rule),
                ..
            }
        ),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.rule_id, None);
    assert!(world.host.ran_with("REMEDIATE").is_empty());
    let expected = json!({
        "rule_id": "L1-LRN-ABCDEF012345",
        "runbook_id": "RB-DEB-TAV-001",
        "params": {"level": 2},
    });
    assert_eq!(detail(&world.drafts.last(), "shadow"), &expected);

    // L2 acts, and its bundle carries what the rule would have done.
    let report = plan(&world, "deb.test.av", "RB-DEB-TAV-001").await;
    assert_eq!(report.outcome, HealOutcome::Verified);
    let bundle = world.drafts.last();
    assert_eq!(detail(&bundle, "tier"), "L2");
    assert_eq!(detail(&bundle, "shadow"), &expected);
    assert_eq!(world.host.ran_with("REMEDIATE").len(), 1);

    // Without a shadow rule the bundles say nothing of one.
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("CONFIRM tav", vec![Reply::out("")]);
    let report = plan(&world, "deb.test.av", "RB-DEB-TAV-001").await;
    assert_eq!(report.outcome, HealOutcome::Verified);
    assert!(detail(&world.drafts.last(), "shadow").is_null());
}
