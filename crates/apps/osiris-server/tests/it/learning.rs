//! The learning loop through the API and the check-in: L2 remediations
//! become patterns, an eligible pattern is a candidate with its figures,
//! an unapproved candidate reaches no appliance, an approved candidate
//! reaches its partner's appliances (and only theirs) in the rule set, a
//! catalog-invalid rule is refused with the reason, shadow mode holds a
//! promotion until it agreed with L2, a promoted rule that fails is
//! demoted over a window on the server's manual clock (at check-in and on
//! the schedule) with an alert, and a site may opt into automatic
//! promotion.

use chrono::{DateTime, Duration, Utc};
use osiris_core::{BundleId, Clock as _};
use osiris_evidence::{BundleDraft, Kind, SealedBundle, Sealer};
use osiris_store::TenantScope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fleet::TestAppliance;
use crate::support::{Api, TestServer, settings, tenant, user};

/// A remediation bundle as the appliance's healer writes it.
pub(crate) fn remediation(
    now: DateTime<Utc>,
    tier: &str,
    outcome: &str,
    params: Value,
    rule: Option<&str>,
) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: now,
        kind: Kind::Remediation,
        host: "dc01".to_owned(),
        hipaa: vec!["164.308(a)(5)(ii)(B)".parse().unwrap()],
        outcome: outcome.to_owned(),
        detail: json!({
            "check_id": "win.av.defender",
            "check_type": "antivirus",
            "platform": "windows",
            "rule_id": rule,
            "runbook_id": "RB-WIN-AV-001",
            "tier": tier,
            "gates": [],
            "failed": ["realtime-on"],
            "params": params,
        }),
        artifacts: vec![],
    }
}

fn seal(appliance: &mut TestAppliance, draft: &BundleDraft) -> SealedBundle {
    let mut sealer = Sealer::new(&appliance.key, appliance.site, appliance.id, appliance.head);
    let sealed = sealer.seal(draft).unwrap();
    appliance.head = sealer.head();
    sealed
}

/// Uploads `drafts` in one check-in reporting rule-set `version`; the answer.
pub(crate) async fn upload(
    server: &TestServer,
    appliance: &mut TestAppliance,
    drafts: &[BundleDraft],
    version: Option<&str>,
) -> Value {
    let sealed: Vec<SealedBundle> = drafts.iter().map(|d| seal(appliance, d)).collect();
    let mut body = appliance.checkin_body(&sealed.iter().collect::<Vec<_>>());
    body["rule_set_version"] = json!(version);
    let (status, answer) = appliance.send(server, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    answer
}

fn l2(now: DateTime<Utc>, n: usize, outcome: &str) -> Vec<BundleDraft> {
    (0..n)
        .map(|_| remediation(now, "L2", outcome, json!({}), None))
        .collect()
}

fn promoted_file(answer: &Value) -> Option<&Value> {
    answer["rule_set"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "rules/promoted.yaml")
}

async fn setup() -> (TestServer, Api, TestAppliance, TestAppliance, String) {
    // 5/5 verified has a 95% Wilson lower bound of 0.566; the default
    // 0.90 needs 35 in a row, so these tests lower the bar.
    let server = TestServer::start_with(&[("OSIRIS_LEARNING__MIN_LOWER_BOUND", "0.5")]).await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let a = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let b = TestAppliance::enrol(&server, &admin, &other.site).await;
    (server, admin, a, b, acme.partner)
}

async fn audit_actions(server: &TestServer) -> Vec<String> {
    server
        .running
        .state
        .store
        .list_audit(&TenantScope::platform(), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect()
}

#[tokio::test]
async fn an_approved_candidate_reaches_only_its_partners_appliances() {
    let (server, admin, mut a, mut b, acme_partner) = setup().await;
    let now = server.clock.now();
    let builtin = upload(&server, &mut b, &[], None).await["rule_set"]["version"]
        .as_str()
        .unwrap()
        .to_owned();

    // Four runs: not enough samples; a refused plan is no sample at all.
    let mut drafts = l2(now, 4, "verified");
    drafts.push(remediation(now, "L2", "refused", json!({}), None));
    upload(&server, &mut a, &drafts, Some(&builtin)).await;
    assert_eq!(admin.get_ok("/api/learning/candidates").await, json!([]));
    let status = admin.get_ok("/api/learning/status").await;
    assert_eq!(
        (
            status["samples"].as_u64(),
            status["patterns"].as_u64(),
            status["candidates"].as_u64()
        ),
        (Some(4), Some(1), Some(0)),
        "{status}"
    );

    let answer = upload(&server, &mut a, &l2(now, 1, "verified"), Some(&builtin)).await;
    assert!(
        answer["rule_set"].is_null(),
        "an unapproved candidate changes no rule set: {answer}"
    );
    // Asked for the whole set (no version reported), it is the built-in
    // one: the candidate's rule is in no file.
    let answer = upload(&server, &mut a, &[], None).await;
    assert_eq!(answer["rule_set"]["version"], builtin);
    assert!(promoted_file(&answer).is_none(), "{answer}");
    assert!(
        !answer["rule_set"].to_string().contains("L1-LRN-"),
        "{answer}"
    );
    let candidates = admin.get_ok("/api/learning/candidates").await;
    let candidate = &candidates[0];
    assert_eq!(candidates.as_array().unwrap().len(), 1, "{candidates}");
    assert_eq!(
        (
            candidate["samples"].as_u64(),
            candidate["successes"].as_u64()
        ),
        (Some(5), Some(5))
    );
    assert_eq!(candidate["success_rate"], 1.0);
    assert!(
        (candidate["lower_bound"].as_f64().unwrap() - 0.5655).abs() < 1e-3,
        "{candidate}"
    );
    assert_eq!(candidate["facts"], json!(["realtime-on"]));
    assert_eq!(candidate["partner_id"], acme_partner);
    let rule = &candidate["rule"];
    assert!(
        rule["id"].as_str().unwrap().starts_with("L1-LRN-"),
        "{rule}"
    );
    assert_eq!(rule["action_params"]["runbook_id"], "RB-WIN-AV-001");
    assert_eq!(rule["source"], "promoted");
    let id = candidate["id"].as_str().unwrap().to_owned();

    // Another partner neither sees nor promotes it; a client may not.
    let other_partner = b_partner_user(&server, &admin).await;
    assert_eq!(
        other_partner.get_ok("/api/learning/candidates").await,
        json!([])
    );
    let (code, _) = other_partner
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    let (code, promoted) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{promoted}");
    assert_eq!(promoted["state"], "active");
    assert_eq!(promoted["rule_id"], rule["id"]);
    let (code, _) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CONFLICT, "promoted once");
    assert_eq!(admin.get_ok("/api/learning/candidates").await, json!([]));

    // Acme's appliance gets the rule at its next check-in, with the change.
    let answer = upload(&server, &mut a, &[], Some(&builtin)).await;
    let set = &answer["rule_set"];
    assert_ne!(set["version"], builtin);
    let file = promoted_file(&answer).expect("the learned rules file");
    assert_eq!(file["content"]["rules"][0]["id"], rule["id"]);
    assert_eq!(set["changes"][0]["change"], "promoted");
    assert_eq!(set["changes"][0]["rule_id"], rule["id"]);
    assert_eq!(set["changes"][0]["samples"], 5);
    // Reporting that version, it gets nothing more.
    let again = upload(&server, &mut a, &[], set["version"].as_str()).await;
    assert!(again["rule_set"].is_null());
    // The other partner's appliance never receives it.
    let answer = upload(&server, &mut b, &[], None).await;
    assert!(promoted_file(&answer).is_none(), "{answer}");
    assert_eq!(answer["rule_set"]["version"], builtin);
    assert!(
        answer["rule_set"].get("changes").is_none(),
        "left out when empty"
    );

    let status = admin.get_ok("/api/learning/status").await;
    assert_eq!(status["promoted"], 1);
    assert_eq!(status["fleets"][0]["rule_set_version"], set["version"]);
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.promote".to_owned())
    );

    // A manual demotion: by the other partner 404, then 200, then 409.
    let path = format!("/api/learning/rules/{}/demote", promoted["id"]);
    let (code, _) = other_partner.post(&path, json!({"reason": "mine"})).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    let (code, error) = admin.post(&path, json!({"reason": " "})).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["field"], "reason");
    let (code, demoted) = admin
        .post(&path, json!({"reason": "the vendor changed the service"}))
        .await;
    assert_eq!(code, StatusCode::OK, "{demoted}");
    assert_eq!(demoted["state"], "demoted");
    let (code, _) = admin.post(&path, json!({"reason": "again"})).await;
    assert_eq!(code, StatusCode::CONFLICT);
    let answer = upload(&server, &mut a, &[], set["version"].as_str()).await;
    assert!(promoted_file(&answer).is_none());
    assert_eq!(answer["rule_set"]["version"], builtin);
    assert_eq!(answer["rule_set"]["changes"][0]["change"], "demoted");
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.demote".to_owned())
    );
}

async fn b_partner_user(server: &TestServer, admin: &Api) -> Api {
    let other = admin.get_ok("/api/partners").await;
    let other_id = other
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Other IT")
        .unwrap()["id"]
        .clone();
    user(
        server,
        admin,
        "other-ops",
        "partner",
        json!({"partner_id": other_id}),
    )
    .await
}

#[tokio::test]
async fn a_client_may_not_use_the_learning_api() {
    let (server, admin, ..) = setup().await;
    let clients = admin.get_ok("/api/clients").await;
    let client_id = clients[0]["id"].clone();
    let client = user(
        &server,
        &admin,
        "manager",
        "client",
        json!({"client_id": client_id}),
    )
    .await;
    let (code, _) = client.get("/api/learning/candidates").await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _) = client
        .post("/api/learning/rules/1/demote", json!({"reason": "x"}))
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_generated_rule_that_fails_catalog_validation_is_refused_with_the_reason() {
    let (server, admin, mut a, _, _) = setup().await;
    let now = server.clock.now();
    // The runbook takes no parameters; an appliance with another catalog
    // ran it with one.
    let drafts: Vec<_> = (0..5)
        .map(|_| remediation(now, "L2", "verified", json!({"force": true}), None))
        .collect();
    upload(&server, &mut a, &drafts, None).await;
    let candidates = admin.get_ok("/api/learning/candidates").await;
    let candidate = &candidates[0];
    assert!(candidate["rule"].is_null());
    assert!(
        candidate["rule_error"]
            .as_str()
            .unwrap()
            .contains("parameters for runbook RB-WIN-AV-001 are invalid"),
        "{candidate}"
    );
    let (code, error) = admin
        .post(
            &format!(
                "/api/learning/candidates/{}/promote",
                candidate["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["error"]["code"], "invalid_rule");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("parameters for runbook RB-WIN-AV-001 are invalid"),
        "{error}"
    );
    assert_eq!(
        admin.get_ok("/api/learning/rules").await,
        json!([]),
        "nothing stored"
    );
}

#[tokio::test]
async fn a_promoted_rule_that_fails_in_its_window_is_demoted_automatically() {
    let (server, admin, mut a, _, _) = setup().await;
    let t0 = server.clock.now();
    upload(&server, &mut a, &l2(t0, 5, "verified"), None).await;
    let id = admin.get_ok("/api/learning/candidates").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, promoted) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let rule = promoted["rule_id"].as_str().unwrap().to_owned();
    let l1 = |at, outcome: &str| remediation(at, "L1", outcome, json!({}), Some(&rule));

    // Twelve verified runs and one failure: 8% fails, the rule stays.
    let mut drafts: Vec<_> = (0..12).map(|_| l1(t0, "verified")).collect();
    drafts.push(l1(t0, "rolled_back"));
    let answer = upload(&server, &mut a, &drafts, None).await;
    assert!(promoted_file(&answer).is_some());

    // Eight days later the old runs are out of the 7-day window: 2 of 5
    // fail (40%, over 20%), though 3 of 18 overall (17%) would not.
    server.clock.advance(Duration::days(8));
    let t1 = server.clock.now();
    let drafts = vec![
        l1(t1, "verified"),
        l1(t1, "failed"),
        l1(t1, "verified"),
        l1(t1, "rolled_back"),
        l1(t1, "verified"),
    ];
    let answer = upload(&server, &mut a, &drafts, None).await;
    // Eight days idle ended the admin's session.
    let admin = server.admin().await;
    assert!(
        promoted_file(&answer).is_none(),
        "its incidents return to L2: {answer}"
    );
    let change = &answer["rule_set"]["changes"][0];
    assert_eq!(change["change"], "demoted");
    assert_eq!(change["demoted_by"], "automatic");
    assert!(
        change["reason"].as_str().unwrap().contains("2 of 5 runs"),
        "{change}"
    );
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "demoted");
    assert!(rules[0]["demoted_by"].is_null());
    let status = admin.get_ok("/api/learning/status").await;
    assert_eq!(
        (status["promoted"].as_u64(), status["demoted"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.demote".to_owned())
    );
}

/// An L2 remediation that carried what a shadow rule would have run.
fn compared(now: DateTime<Utc>, outcome: &str, rule: &str, shadow_params: Value) -> BundleDraft {
    let mut draft = remediation(now, "L2", outcome, json!({}), None);
    draft.detail["shadow"] =
        json!({"rule_id": rule, "runbook_id": "RB-WIN-AV-001", "params": shadow_params});
    draft
}

/// A server on lowered thresholds with shadow mode on (two agreements).
async fn shadow_setup() -> (TestServer, Api, TestAppliance) {
    let server = TestServer::start_with(&[
        ("OSIRIS_LEARNING__MIN_LOWER_BOUND", "0.5"),
        ("OSIRIS_LEARNING__SHADOW_SAMPLES", "2"),
    ])
    .await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let a = TestAppliance::enrol(&server, &admin, &acme.site).await;
    (server, admin, a)
}

/// Five verified L2 runs, then the candidate promoted; the promotion.
async fn promote_candidate(server: &TestServer, admin: &Api, a: &mut TestAppliance) -> Value {
    upload(server, a, &l2(server.clock.now(), 5, "verified"), None).await;
    let candidates = admin.get_ok("/api/learning/candidates").await;
    let id = candidates[0]["id"].as_str().unwrap().to_owned();
    let (code, promoted) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{promoted}");
    promoted
}

#[tokio::test]
async fn a_promotion_in_shadow_mode_acts_only_after_agreeing_with_l2() {
    let (server, admin, mut a) = shadow_setup().await;
    let now = server.clock.now();
    upload(&server, &mut a, &l2(now, 5, "verified"), None).await;
    let candidates = admin.get_ok("/api/learning/candidates").await;
    assert_eq!(candidates[0]["shadow_samples"], 2, "{candidates}");
    let id = candidates[0]["id"].as_str().unwrap().to_owned();
    let (code, promoted) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{promoted}");
    assert_eq!(promoted["state"], "shadow");
    assert!(promoted["live_at"].is_null());
    assert_eq!(
        promoted["shadow"],
        json!({"required": 2, "agreements": 0, "disagreements": 0, "remaining": 2,
               "last_disagreement": null, "last_disagreement_at": null})
    );
    let rule = promoted["rule_id"].as_str().unwrap().to_owned();

    // The appliance receives it flagged shadow, with the change saying so.
    let answer = upload(&server, &mut a, &[], None).await;
    let file = promoted_file(&answer).expect("the learned rules file");
    assert_eq!(file["content"]["rules"][0]["id"], rule);
    assert_eq!(file["content"]["rules"][0]["shadow"], true);
    let change = &answer["rule_set"]["changes"][0];
    assert_eq!(change["change"], "shadow");
    assert_eq!(change["shadow_samples"], 2);
    assert!(change.get("live_at").is_none(), "{change}");
    let shadow_version = answer["rule_set"]["version"].as_str().unwrap().to_owned();
    let status = admin.get_ok("/api/learning/status").await;
    assert_eq!(
        (status["promoted"].as_u64(), status["in_shadow"].as_u64()),
        (Some(1), Some(1)),
        "{status}"
    );
    assert_eq!(status["fleets"][0]["shadow_rules"], 1);
    assert_eq!(status["settings"]["shadow_mode"], true);
    assert_eq!(status["settings"]["shadow_samples"], 2);

    // One agreement: still in shadow, the figures count it.
    let answer = upload(
        &server,
        &mut a,
        &[compared(now, "verified", &rule, json!({}))],
        Some(&shadow_version),
    )
    .await;
    assert!(answer["rule_set"].is_null(), "{answer}");
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "shadow");
    assert_eq!(rules[0]["shadow"]["agreements"], 1);
    assert_eq!(rules[0]["shadow"]["remaining"], 1);

    // The second agreement makes it act: the next set carries it plain.
    let answer = upload(
        &server,
        &mut a,
        &[compared(now, "verified", &rule, json!({}))],
        Some(&shadow_version),
    )
    .await;
    let file = promoted_file(&answer).expect("the learned rule, now acting");
    assert!(
        file["content"]["rules"][0].get("shadow").is_none(),
        "{file}"
    );
    assert_ne!(answer["rule_set"]["version"], shadow_version.as_str());
    let change = &answer["rule_set"]["changes"][0];
    assert_eq!(change["change"], "promoted");
    assert!(change["live_at"].is_string(), "{change}");
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "active");
    assert!(rules[0]["live_at"].is_string());
    assert_eq!(rules[0]["shadow"]["agreements"], 2);
    assert_eq!(rules[0]["shadow"]["disagreements"], 0);
    assert_eq!(admin.get_ok("/api/learning/status").await["in_shadow"], 0);
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.activate".to_owned())
    );
}

#[tokio::test]
async fn a_disagreement_keeps_the_rule_in_shadow_and_is_an_alert() {
    let (server, admin, mut a) = shadow_setup().await;
    let now = server.clock.now();
    let promoted = promote_candidate(&server, &admin, &mut a).await;
    let rule = promoted["rule_id"].as_str().unwrap().to_owned();
    upload(&server, &mut a, &[], None).await;

    // L2 ran the same fix but it was rolled back: not an agreement.
    upload(
        &server,
        &mut a,
        &[compared(now, "rolled_back", &rule, json!({}))],
        None,
    )
    .await;
    // Agreements afterwards do not free it.
    let drafts: Vec<_> = (0..3)
        .map(|_| compared(now, "verified", &rule, json!({})))
        .collect();
    let answer = upload(&server, &mut a, &drafts, None).await;
    let file = promoted_file(&answer).unwrap();
    assert_eq!(file["content"]["rules"][0]["shadow"], true);
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "shadow");
    assert_eq!(rules[0]["shadow"]["agreements"], 3);
    assert_eq!(rules[0]["shadow"]["disagreements"], 1);
    assert!(
        rules[0]["shadow"]["last_disagreement"]
            .as_str()
            .unwrap()
            .contains("not verified"),
        "{rules}"
    );
    let status = admin.get_ok("/api/learning/status").await;
    let alert = &status["alerts"][0];
    assert_eq!(alert["kind"], "shadow_disagreement", "{status}");
    assert_eq!(alert["rule_id"], rule);
    assert!(alert["message"].as_str().unwrap().contains("not verified"));
    // Other parameters disagree too; a comparison naming another rule
    // does not count for this one.
    upload(
        &server,
        &mut a,
        &[
            compared(now, "verified", &rule, json!({"force": true})),
            compared(now, "verified", "L1-LRN-000000000000", json!({})),
        ],
        None,
    )
    .await;
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["shadow"]["disagreements"], 2, "{rules}");
    assert!(
        rules[0]["shadow"]["last_disagreement"]
            .as_str()
            .unwrap()
            .contains("parameters"),
        "{rules}"
    );
    assert!(
        !audit_actions(&server)
            .await
            .contains(&"learning.activate".to_owned())
    );
}

/// A promoted rule with six verified runs at `t0` and, five days later,
/// two failures in five: 2 of 11 in the window (18%), so it stays.
async fn rule_that_ages_badly(
    server: &TestServer,
    admin: &Api,
    a: &mut TestAppliance,
) -> (String, String) {
    let t0 = server.clock.now();
    let promoted = promote_candidate(server, admin, a).await;
    let rule = promoted["rule_id"].as_str().unwrap().to_owned();
    let l1 = |at, outcome: &str| remediation(at, "L1", outcome, json!({}), Some(&rule));
    let drafts: Vec<_> = (0..6).map(|_| l1(t0, "verified")).collect();
    upload(server, a, &drafts, None).await;
    server.clock.advance(Duration::days(5));
    let t1 = server.clock.now();
    let drafts = vec![
        l1(t1, "verified"),
        l1(t1, "failed"),
        l1(t1, "verified"),
        l1(t1, "rolled_back"),
        l1(t1, "verified"),
    ];
    let answer = upload(server, a, &drafts, None).await;
    assert!(promoted_file(&answer).is_some(), "18% is under 20%");
    let version = answer["rule_set"]["version"].as_str().unwrap().to_owned();
    (rule, version)
}

#[tokio::test]
async fn a_window_sliding_past_the_successes_demotes_the_rule_on_the_schedule() {
    let (server, admin, mut a, _, _) = setup().await;
    let (rule, version) = rule_that_ages_badly(&server, &admin, &mut a).await;
    let state = &server.running.state;
    assert_eq!(
        osiris_server::learning::evaluate_all(state, server.clock.now())
            .await
            .unwrap(),
        0
    );
    // Three days on, no run arrived; the six successes of t0 left the
    // 7-day window: 2 of 5 failed (40%).
    server.clock.advance(Duration::days(3));
    assert_eq!(
        osiris_server::learning::evaluate_all(state, server.clock.now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        osiris_server::learning::evaluate_all(state, server.clock.now())
            .await
            .unwrap(),
        0,
        "demoted once"
    );
    let admin = server.admin().await;
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules[0]["state"], "demoted");
    assert!(rules[0]["demoted_by"].is_null());
    let alerts = &admin.get_ok("/api/learning/status").await["alerts"];
    assert_eq!(alerts[0]["kind"], "demoted", "{alerts}");
    assert_eq!(alerts[0]["rule_id"], rule);
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap()
            .contains("2 of 5 runs"),
        "{alerts}"
    );
    // Its incidents return to L2: the next set lacks the rule.
    let answer = upload(&server, &mut a, &[], Some(&version)).await;
    assert!(promoted_file(&answer).is_none(), "{answer}");
    assert_eq!(answer["rule_set"]["changes"][0]["change"], "demoted");
    assert_eq!(answer["rule_set"]["changes"][0]["demoted_by"], "automatic");
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.demote".to_owned())
    );
}

#[tokio::test]
async fn a_check_in_without_runs_of_the_rule_still_demotes_it_when_its_window_slid() {
    let (server, admin, mut a, _, _) = setup().await;
    let (rule, version) = rule_that_ages_badly(&server, &admin, &mut a).await;
    server.clock.advance(Duration::days(3));
    // A check-in whose only bundle is an L2 fix of another pattern.
    let other = remediation(server.clock.now(), "L2", "verified", json!({"x": 1}), None);
    let answer = upload(&server, &mut a, &[other], Some(&version)).await;
    assert!(promoted_file(&answer).is_none(), "{answer}");
    let change = &answer["rule_set"]["changes"][0];
    assert_eq!(
        (&change["change"], &change["rule_id"]),
        (&json!("demoted"), &json!(rule))
    );
}

#[tokio::test]
async fn a_site_that_opts_into_automatic_promotion_gets_the_rule_and_its_sibling_does_not() {
    let (server, admin, mut a, _, _) = setup().await;
    let acme_site = a.site.to_string();
    let clients = admin.get_ok("/api/clients").await;
    let acme_client = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Acme Clinic")
        .unwrap()["id"]
        .clone();
    let branch = admin
        .create(
            "/api/sites",
            json!({"client_id": acme_client, "name": "Branch", "settings": settings()}),
        )
        .await;
    let mut sibling = TestAppliance::enrol(&server, &admin, &branch).await;
    let path = format!("/api/sites/{acme_site}/learning");
    assert_eq!(admin.get_ok(&path).await, json!({"auto_promote": false}));
    let (code, error) = admin.put(&path, json!({"auto_promote": "yes"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["field"], "auto_promote", "{error}");
    let other = b_partner_user(&server, &admin).await;
    let (code, _) = other.put(&path, json!({"auto_promote": true})).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "another partner's site");

    // Samples from the sibling site alone: a candidate, not promoted.
    let now = server.clock.now();
    upload(&server, &mut sibling, &l2(now, 5, "verified"), None).await;
    assert_eq!(
        admin
            .get_ok("/api/learning/candidates")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(admin.get_ok("/api/learning/rules").await, json!([]));

    let (code, set) = admin.put(&path, json!({"auto_promote": true})).await;
    assert_eq!(code, StatusCode::OK, "{set}");
    assert_eq!(admin.get_ok(&path).await, json!({"auto_promote": true}));
    assert!(
        audit_actions(&server)
            .await
            .contains(&"learning.site_auto_promote".to_owned())
    );
    // The opted-in site's next L2 sample promotes the fleet's candidate.
    let answer = upload(&server, &mut a, &l2(now, 1, "verified"), None).await;
    let rules = admin.get_ok("/api/learning/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    assert!(rules[0]["approved_by"].is_null(), "automatic");
    assert_eq!(
        promoted_file(&answer).expect("the opted-in site gets it")["content"]["rules"][0]["id"],
        rules[0]["rule_id"]
    );
    // The sibling site did not opt in: its set has no learned rule.
    let answer = upload(&server, &mut sibling, &[], None).await;
    assert!(promoted_file(&answer).is_none(), "{answer}");
    let status = admin.get_ok("/api/learning/status").await;
    let fleet = &status["fleets"][0];
    assert_eq!(fleet["rule_set_version"], answer["rule_set"]["version"]);
    assert!(
        fleet["auto_promote_rule_set_version"].is_string(),
        "{status}"
    );

    // An operator-approved promotion reaches the whole fleet.
    let drafts: Vec<_> = (0..5)
        .map(|_| remediation(now, "L2", "verified", json!({}), None))
        .map(|mut d| {
            d.detail["failed"] = json!(["antivirus-enabled"]);
            d
        })
        .collect();
    upload(&server, &mut sibling, &drafts, None).await;
    let candidates = admin.get_ok("/api/learning/candidates").await;
    let id = candidates[0]["id"].as_str().unwrap().to_owned();
    let (code, _) = admin
        .post(&format!("/api/learning/candidates/{id}/promote"), json!({}))
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let answer = upload(&server, &mut sibling, &[], None).await;
    let file = promoted_file(&answer).expect("the approved rule");
    assert_eq!(file["content"]["rules"].as_array().unwrap().len(), 1);
    let answer = upload(&server, &mut a, &[], None).await;
    assert_eq!(
        promoted_file(&answer).unwrap()["content"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the opted-in site has both"
    );
}
