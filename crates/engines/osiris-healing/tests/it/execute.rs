//! Remediate → verify → confirm or rollback, as one `remediation` bundle.

use osiris_evidence::Kind;
use osiris_healing::{HealOutcome, Mode};
use serde_json::json;

use crate::world::{Reply, World, detail, facts};

const BEFORE: &str = r#"{"before":{"running":false,"unit":"clamav"},"note":"started"}"#;

fn steps(bundle: &osiris_evidence::BundleDraft) -> Vec<String> {
    detail(bundle, "steps")
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn remediate_then_verify_pass_then_confirm_over_a_new_session() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("CONFIRM tav", vec![Reply::out("")]);

    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::Verified);
    assert_eq!(report.rule_id.as_deref(), Some("L1-T-AV"));
    assert_eq!(report.runbook_id.unwrap().as_str(), "RB-DEB-TAV-001");

    // Remediate on the sweep's session; verify and confirm on a new one.
    let ran = world.host.ran();
    let sessions: Vec<(usize, bool)> = ran
        .iter()
        .map(|r| (r.session, r.body.contains("DETECT")))
        .collect();
    assert_eq!(sessions, [(0, true), (0, false), (1, true), (1, false)]);
    assert_eq!(world.host.sessions_opened(), 1);
    let confirm = &world.host.ran_with("CONFIRM tav")[0];
    assert_eq!(confirm.input.as_deref(), Some(BEFORE.as_bytes()));
    assert!(confirm.body.starts_with(
        "OSIRIS_PARAMS='{}'; export OSIRIS_PARAMS\n\
         OSIRIS_BEFORE='{\"running\":false,\"unit\":\"clamav\"}'; export OSIRIS_BEFORE\n"
    ));
    assert!(world.host.ran_with("ROLLBACK").is_empty());
    // Verify runs the detect script under the verify step's time limit.
    assert_eq!(ran[2].timeout, std::time::Duration::from_secs(120));

    let bundle = world.drafts.last();
    assert_eq!(
        (bundle.kind, bundle.outcome.as_str()),
        (Kind::Remediation, "verified")
    );
    assert_eq!(steps(&bundle), ["remediate", "verify", "confirm"]);
    assert_eq!(
        detail(&bundle, "before"),
        &json!({"running": false, "unit": "clamav"})
    );
    assert_eq!(detail(&bundle, "verification")[0]["outcome"], "pass");
    assert_eq!(detail(&bundle, "escalate"), false);
    assert_eq!(detail(&bundle, "rule_id"), "L1-T-AV");
    let gates: Vec<&str> = detail(&bundle, "gates")
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(
        gates,
        [
            "flapping",
            "rule",
            "whitelist",
            "params",
            "mode",
            "approval",
            "maintenance_window",
            "cooldown",
            "retries",
            "host_rate",
            "site_rate"
        ]
    );
    // Every step's output is referenced by digest.
    let names: Vec<&str> = bundle.artifacts.iter().map(|a| a.name()).collect();
    assert_eq!(
        names,
        [
            "remediate.stdout",
            "remediate.stderr",
            "verify.stdout",
            "verify.stderr",
            "confirm.stdout",
            "confirm.stderr"
        ]
    );
    assert_eq!(detail(&bundle, "steps")[0]["stdout"].as_str(), Some(BEFORE));
}

#[tokio::test]
async fn verify_failing_rolls_back_with_the_captured_before_on_stdin() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world
        .host
        .on("ROLLBACK tav", vec![Reply::out("restored\n")]);

    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::RolledBack);
    let rollback = &world.host.ran_with("ROLLBACK tav")[0];
    assert_eq!(rollback.input.as_deref(), Some(BEFORE.as_bytes()));
    assert!(
        rollback.body.contains(
            "OSIRIS_BEFORE='{\"running\":false,\"unit\":\"clamav\"}'; export OSIRIS_BEFORE"
        )
    );
    assert_eq!(rollback.session, 1);
    assert!(world.host.ran_with("CONFIRM").is_empty());

    let bundle = world.drafts.last();
    assert_eq!(bundle.outcome, "rolled_back");
    assert_eq!(steps(&bundle), ["remediate", "verify", "rollback"]);
    assert_eq!(detail(&bundle, "verification")[0]["outcome"], "fail");
    assert_eq!(detail(&bundle, "escalate"), false);
}

#[tokio::test]
async fn a_failed_rollback_escalates() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on(
        "ROLLBACK tav",
        vec![Reply::exit(1, "", "systemctl: unit masked")],
    );

    let report = world.heal("deb.test.av").await;
    assert!(matches!(
        report.outcome,
        HealOutcome::Escalate { gate: None, .. }
    ));
    let bundle = world.drafts.last();
    assert_eq!(bundle.outcome, "rollback_failed");
    assert_eq!(detail(&bundle, "escalate"), true);
    assert_eq!(
        detail(&bundle, "steps")[2]["stderr"].as_str(),
        Some("systemctl: unit masked")
    );
}

#[tokio::test]
async fn remediate_without_a_before_fails_and_escalates_without_rollback() {
    for reply in [
        Reply::out("done\n"),
        Reply::out(r#"{"changed":true}"#),
        Reply::exit(2, "", "osiris_ip is required"),
        Reply::Timeout,
    ] {
        let world = World::new(Mode::Heal);
        world.host.on("DETECT av", vec![facts(false)]);
        world.host.on("REMEDIATE tav", vec![reply]);
        let report = world.heal("deb.test.av").await;
        let HealOutcome::Escalate { gate: None, reason } = &report.outcome else {
            panic!("{:?}", report.outcome);
        };
        assert!(reason.contains("nothing can be rolled back"), "{reason}");
        assert!(world.host.ran_with("ROLLBACK").is_empty());
        assert_eq!(world.host.sessions_opened(), 0);
        let bundle = world.drafts.last();
        assert_eq!(bundle.outcome, "failed");
        assert_eq!(detail(&bundle, "escalate"), true);
    }
}

#[tokio::test]
async fn a_remediate_that_exits_non_zero_after_capturing_before_is_rolled_back() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    world
        .host
        .on("REMEDIATE tav", vec![Reply::exit(1, BEFORE, "half done")]);
    world.host.on("ROLLBACK tav", vec![Reply::out("")]);
    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::RolledBack);
    // Verify is pointless after a failed remediate: only the first detect ran.
    assert_eq!(world.host.ran_with("DETECT").len(), 1);
}

#[tokio::test]
async fn without_a_new_session_verify_fails_and_rollback_uses_the_original_one() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("ROLLBACK tav", vec![Reply::out("")]);
    world.host.refuse_sessions();
    let report = world.heal("deb.test.av").await;
    assert_eq!(report.outcome, HealOutcome::RolledBack);
    let rollback = &world.host.ran_with("ROLLBACK tav")[0];
    assert_eq!(rollback.session, 0);
    let bundle = world.drafts.last();
    assert!(
        detail(&bundle, "notes")[0]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
}

#[tokio::test]
async fn a_runbook_without_rollback_whose_verify_fails_escalates() {
    let world = World::new(Mode::Heal);
    world.clock.set("2024-06-23T03:00:00Z".parse().unwrap()); // inside the window
    world.host.on("DETECT backup", vec![facts(false)]);
    world
        .host
        .on("REMEDIATE tbackup", vec![Reply::out(r#"{"before":{}}"#)]);
    let report = world.heal("deb.test.backup").await;
    let HealOutcome::Escalate { reason, .. } = &report.outcome else {
        panic!("{:?}", report.outcome);
    };
    assert!(
        reason.contains("a backup run changes nothing to undo"),
        "{reason}"
    );
    assert_eq!(world.drafts.last().outcome, "failed");
}

#[tokio::test]
async fn a_failed_confirm_escalates_because_the_change_may_still_be_undone() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on(
        "CONFIRM tav",
        vec![Reply::exit(3, "", "the dead-man timer is still active")],
    );
    let report = world.heal("deb.test.av").await;
    assert!(matches!(report.outcome, HealOutcome::Escalate { .. }));
    assert!(world.host.ran_with("ROLLBACK").is_empty());
    assert_eq!(world.drafts.last().outcome, "failed");
}

#[tokio::test]
async fn site_params_reach_the_runbook_as_the_catalog_scripts_read_them() {
    let mut with_params = crate::world::policy(Mode::Heal);
    with_params.runbook_params.insert(
        "RB-DEB-TAV-001".parse().unwrap(),
        json!({"level": 2}).as_object().unwrap().clone(),
    );
    let world = World::with(with_params, None);
    world.host.on("DETECT av", vec![facts(false), facts(true)]);
    world.host.on("REMEDIATE tav", vec![Reply::out(BEFORE)]);
    world.host.on("CONFIRM tav", vec![Reply::out("")]);
    assert_eq!(
        world.heal("deb.test.av").await.outcome,
        HealOutcome::Verified
    );
    let remediate = &world.host.ran_with("REMEDIATE tav")[0];
    assert_eq!(
        remediate.body,
        "OSIRIS_PARAMS='{\"level\":2}'; export OSIRIS_PARAMS\necho REMEDIATE tav"
    );
    assert_eq!(remediate.input, None);
    assert_eq!(detail(&world.drafts.last(), "params"), &json!({"level": 2}));
}

#[tokio::test]
async fn step_output_is_scrubbed_before_it_is_recorded() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    world.host.on(
        "REMEDIATE tav",
        vec![Reply::out(r#"{"before":{"owner":"SSN: 123-45-6789"}}"#)],
    );
    world.host.on("ROLLBACK tav", vec![Reply::out("")]);
    let _ = world.heal("deb.test.av").await;
    let bundle = world.drafts.last();
    let text = bundle.detail.to_string();
    assert!(!text.contains("123-45-6789"), "{text}");
    assert!(text.contains("[PHI:SSN:"), "{text}");
}
