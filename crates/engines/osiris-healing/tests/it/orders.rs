//! Signed orders: each refusal reason, and acceptance; every order ends in
//! one result and one `order` bundle, and a nonce is remembered only when
//! an order is accepted.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use osiris_catalog::Platform;
use osiris_core::{ApplianceId, OrderId};
use osiris_evidence::{KeyPair, Kind};
use osiris_healing::{
    BoxError, BoxFuture, Gate, InventoryTarget, Mode, NonceLog, OrderContext, OrderOutcome,
    OrderRefusal, verify_order,
};
use osiris_proto::orders::{OrderBody, SignedOrder};
use serde_json::{Value, json};

use crate::world::{Nonces, Reply, World, catalog, detail, facts, now};

fn server_key() -> KeyPair {
    KeyPair::from_seed([9; 32])
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn body(appliance_id: ApplianceId, runbook: &str, params: Value) -> OrderBody {
    OrderBody {
        order_id: OrderId::random(),
        appliance_id,
        runbook_id: runbook.parse().unwrap(),
        params,
        target: None,
        issued_at: time(now() - TimeDelta::minutes(1)),
        expires_at: time(now() + TimeDelta::minutes(14)),
        nonce: format!("nonce-{}", OrderId::random()),
        approval: None,
    }
}

/// Signs as Central Command does: the canonical bytes of the body.
fn sign(body: OrderBody, key: &KeyPair) -> SignedOrder {
    let bytes = osiris_evidence::canonical::to_vec("order", &body).unwrap();
    SignedOrder {
        signature: key.sign_base64(&bytes),
        body,
    }
}

fn inventory() -> Vec<InventoryTarget> {
    vec![
        InventoryTarget {
            name: "deb01".to_owned(),
            platform: Platform::Debian,
        },
        InventoryTarget {
            name: "win01".to_owned(),
            platform: Platform::Windows,
        },
    ]
}

/// A world whose av runbook heals. An order comes without a check, so
/// every check naming the runbook verifies it (three here).
fn healing_world(mode: Mode) -> World {
    let world = World::new(mode);
    for check in ["DETECT av", "DETECT orphan", "DETECT encryption"] {
        world.host.on(check, vec![facts(true)]);
    }
    world.host.on(
        "REMEDIATE tav",
        vec![Reply::out(r#"{"before":{"running":false}}"#)],
    );
    world.host.on("CONFIRM tav", vec![Reply::out("")]);
    world
}

async fn run(world: &World, order: &SignedOrder) -> osiris_healing::OrderReport {
    world
        .healer
        .run_order(order, &server_key().public_key(), &inventory(), &world.host)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_accepted_order_runs_on_the_targets_its_runbook_suits() {
    let world = healing_world(Mode::Heal);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({"level": 2})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(report.outcome, OrderOutcome::Executed, "{}", report.detail);
    assert_eq!(report.order_id, order.body.order_id);
    assert_eq!(report.detail, "deb01: verified");
    assert!(!report.escalate);

    let remediate = &world.host.ran_with("REMEDIATE tav")[0];
    assert!(remediate.body.starts_with("OSIRIS_PARAMS='{\"level\":2}'"));
    assert_eq!(world.nonces.len(), 1);

    let bundles = world.drafts.of(Kind::Order);
    assert_eq!(bundles.len(), 1);
    let bundle = &bundles[0];
    assert_eq!(
        (bundle.outcome.as_str(), bundle.host.as_str()),
        ("executed", "deb01")
    );
    assert_eq!(
        detail(bundle, "order_id"),
        &json!(order.body.order_id.to_string())
    );
    assert_eq!(detail(bundle, "runbook_id"), "RB-DEB-TAV-001");
    assert_eq!(detail(bundle, "targets")[0]["outcome"], "verified");
    assert_eq!(bundle.hipaa[0].as_str(), "164.308(a)(5)(ii)(B)");
    assert!(
        bundle
            .artifacts
            .iter()
            .any(|a| a.name() == "remediate.stdout")
    );
    // Nothing else was recorded: one order, one bundle.
    assert_eq!(world.drafts.all().len(), 1);
}

#[tokio::test]
async fn a_targeted_order_runs_on_its_target_only() {
    let world = healing_world(Mode::Heal);
    let mut inventory = inventory();
    inventory.push(InventoryTarget {
        name: "deb02".to_owned(),
        platform: Platform::Debian,
    });
    let untargeted = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let report = world
        .healer
        .run_order(
            &untargeted,
            &server_key().public_key(),
            &inventory,
            &world.host,
        )
        .await
        .unwrap();
    assert_eq!(report.detail, "deb01: verified; deb02: verified");
    let bundle = world.drafts.last();
    assert_eq!(bundle.host, "deb01, deb02");
    // With two targets, each artifact names its target.
    assert!(
        bundle
            .artifacts
            .iter()
            .any(|a| a.name() == "deb02/remediate.stdout")
    );

    let targeted = sign(
        OrderBody {
            target: Some("deb02".to_owned()),
            ..body(world.appliance_id, "RB-DEB-TAV-001", json!({}))
        },
        &server_key(),
    );
    let report = world
        .healer
        .run_order(
            &targeted,
            &server_key().public_key(),
            &inventory,
            &world.host,
        )
        .await
        .unwrap();
    assert_eq!(report.detail, "deb02: verified");
    assert_eq!(world.drafts.last().host, "deb02");
}

#[tokio::test]
async fn an_order_is_the_approval_an_approval_only_runbook_needs() {
    let world = World::new(Mode::Heal);
    world.host.on("DETECT firewall", vec![facts(true)]);
    world.host.on(
        "REMEDIATE tfw",
        vec![Reply::out(r#"{"before":{"active":false}}"#)],
    );
    world.host.on("CONFIRM tfw", vec![Reply::out("")]);
    let order = sign(
        body(
            world.appliance_id,
            "RB-DEB-TFW-001",
            json!({"osiris_ip": "10.0.0.5"}),
        ),
        &server_key(),
    );
    assert_eq!(run(&world, &order).await.outcome, OrderOutcome::Executed);
}

#[tokio::test]
async fn an_order_whose_verify_fails_is_rolled_back() {
    let world = healing_world(Mode::Heal);
    world.host.on("DETECT av", vec![facts(false)]);
    world.host.on("ROLLBACK tav", vec![Reply::out("")]);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(report.outcome, OrderOutcome::RolledBack);
    let rollback = &world.host.ran_with("ROLLBACK tav")[0];
    assert_eq!(
        rollback.input.as_deref(),
        Some(&br#"{"before":{"running":false}}"#[..])
    );
    assert_eq!(world.drafts.last().outcome, "rolled_back");
}

/// Each way an order can be wrong, with the refusal it must get.
fn refusals(appliance_id: ApplianceId) -> Vec<(&'static str, SignedOrder, &'static str)> {
    let key = server_key();
    let good = || body(appliance_id, "RB-DEB-TAV-001", json!({}));
    let mut unsigned = sign(good(), &key);
    unsigned.signature = String::new();
    let mut not_base64 = sign(good(), &key);
    not_base64.signature = "not base64!".to_owned();
    let mut short = sign(good(), &key);
    short.signature = "c2ln".to_owned();
    let mut tampered = sign(good(), &key);
    tampered.body.params = json!({"level": 3});
    let other_key = sign(good(), &KeyPair::from_seed([1; 32]));
    let mut future = good();
    future.issued_at = time(now() + TimeDelta::minutes(6));
    future.expires_at = time(now() + TimeDelta::minutes(16));
    let mut expired = good();
    expired.issued_at = time(now() - TimeDelta::minutes(15));
    expired.expires_at = time(now());
    let mut long = good();
    long.expires_at = time(now() + TimeDelta::minutes(15));
    let mut backwards = good();
    backwards.expires_at = time(now() - TimeDelta::minutes(2));
    let mut bad_time = good();
    bad_time.issued_at = "yesterday".to_owned();
    vec![
        ("unsigned", unsigned, "unsigned"),
        ("not base64", not_base64, "malformed_signature"),
        ("short signature", short, "malformed_signature"),
        ("tampered after signing", tampered, "bad_signature"),
        ("signed by another key", other_key, "bad_signature"),
        (
            "another appliance",
            sign(
                body(ApplianceId::random(), "RB-DEB-TAV-001", json!({})),
                &key,
            ),
            "wrong_appliance",
        ),
        ("issued 6 min ahead", sign(future, &key), "issued_in_future"),
        ("expired", sign(expired, &key), "expired"),
        ("lives 16 min", sign(long, &key), "bad_lifetime"),
        (
            "expires before issue",
            sign(backwards, &key),
            "bad_lifetime",
        ),
        ("unreadable time", sign(bad_time, &key), "malformed_time"),
        (
            "runbook not in the catalog",
            sign(body(appliance_id, "RB-DEB-GHOST-001", json!({})), &key),
            "not_whitelisted",
        ),
        (
            "target not in the inventory",
            sign(
                OrderBody {
                    target: Some("ghost01".to_owned()),
                    ..good()
                },
                &key,
            ),
            "unknown_target",
        ),
        (
            "target of another platform",
            sign(
                OrderBody {
                    target: Some("win01".to_owned()),
                    ..good()
                },
                &key,
            ),
            "wrong_platform",
        ),
        (
            "runbook for no inventory platform",
            sign(body(appliance_id, "RB-DEB-TAV-001", json!({})), &key),
            "no_target",
        ),
        (
            "params against the schema",
            sign(
                body(appliance_id, "RB-DEB-TAV-001", json!({"level": 9})),
                &key,
            ),
            "invalid_params",
        ),
        (
            "params not an object",
            sign(body(appliance_id, "RB-DEB-TAV-001", json!([1])), &key),
            "invalid_params",
        ),
    ]
}

#[tokio::test]
async fn every_refusal_reason_refuses_records_and_runs_nothing() {
    let count = refusals(ApplianceId::random()).len();
    for index in 0..count {
        // A fresh world per case, its orders addressed to its appliance.
        let world = healing_world(Mode::Heal);
        let (case, order, code) = refusals(world.appliance_id).swap_remove(index);
        let inventory: Vec<InventoryTarget> = if code == "no_target" {
            vec![InventoryTarget {
                name: "win01".to_owned(),
                platform: Platform::Windows,
            }]
        } else {
            inventory()
        };
        let report = world
            .healer
            .run_order(&order, &server_key().public_key(), &inventory, &world.host)
            .await
            .unwrap();
        assert_eq!(report.outcome, OrderOutcome::Refused, "{case}");
        let bundle = world.drafts.last();
        assert_eq!(
            (
                bundle.kind,
                bundle.outcome.as_str(),
                detail(&bundle, "refusal")
            ),
            (Kind::Order, "refused", &json!(code)),
            "{case}: {:#}",
            bundle.detail
        );
        let host = order.body.target.as_deref().unwrap_or("*");
        assert_eq!(bundle.host, host, "{case}");
        assert_eq!(
            detail(&bundle, "order_id"),
            &json!(order.body.order_id.to_string())
        );
        assert!(
            report.detail.starts_with("refused by "),
            "{case}: {}",
            report.detail
        );
        assert!(world.host.ran().is_empty(), "{case}: something ran");
        assert_eq!(
            world.nonces.len(),
            0,
            "{case}: a refused order burnt its nonce"
        );
    }
}

#[tokio::test]
async fn a_replayed_order_is_refused_after_the_first_is_accepted() {
    let world = healing_world(Mode::Heal);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    assert_eq!(run(&world, &order).await.outcome, OrderOutcome::Executed);
    let again = run(&world, &order).await;
    assert_eq!(again.outcome, OrderOutcome::Refused);
    assert_eq!(again.gate, Some(Gate::Order));
    assert_eq!(detail(&world.drafts.last(), "refusal"), "replayed");
    assert_eq!(world.host.ran_with("REMEDIATE").len(), 1);
}

#[tokio::test]
async fn an_order_issued_within_the_skew_is_accepted() {
    let world = healing_world(Mode::Heal);
    let mut ahead = body(world.appliance_id, "RB-DEB-TAV-001", json!({}));
    ahead.issued_at = time(now() + TimeDelta::minutes(4));
    ahead.expires_at = time(now() + TimeDelta::minutes(19));
    let report = run(&world, &sign(ahead, &server_key())).await;
    assert_eq!(report.outcome, OrderOutcome::Executed, "{}", report.detail);
}

/// A nonce log that two copies of one order race through: neither has
/// been seen, but only one insert can win.
#[derive(Debug)]
struct LostRace;

impl NonceLog for LostRace {
    fn contains<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async { Ok(false) })
    }

    fn insert<'a>(&'a self, _: &'a str, _: DateTime<Utc>) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async { Ok(false) })
    }
}

#[derive(Debug)]
struct Broken;

impl NonceLog for Broken {
    fn contains<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async { Err(BoxError::from("database is locked")) })
    }

    fn insert<'a>(&'a self, _: &'a str, _: DateTime<Utc>) -> BoxFuture<'a, Result<bool, BoxError>> {
        Box::pin(async { Ok(true) })
    }
}

#[tokio::test]
async fn the_nonce_is_claimed_atomically_and_a_failing_nonce_log_refuses() {
    let catalog = catalog();
    let appliance_id = ApplianceId::random();
    let key = server_key().public_key();
    let inventory = inventory();
    let order = sign(
        body(appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let context = |nonces: &'static dyn NonceLog| OrderContext {
        server_key: &key,
        appliance_id,
        catalog: &catalog,
        inventory: &inventory,
        now: now(),
        nonces,
    };
    assert_eq!(
        verify_order(&order, &context(&LostRace)).await,
        Err(OrderRefusal::Replayed)
    );
    let refusal = verify_order(&order, &context(&Broken)).await.unwrap_err();
    assert!(matches!(refusal, OrderRefusal::NonceLogFailed { .. }));
    assert!(refusal.to_string().contains("database is locked"));

    static NONCES: std::sync::LazyLock<Nonces> = std::sync::LazyLock::new(Nonces::default);
    let verified = verify_order(&order, &context(&*NONCES)).await.unwrap();
    assert_eq!(verified.runbook_id().as_str(), "RB-DEB-TAV-001");
    assert_eq!(verified.targets().len(), 1);
    assert_eq!(verified.targets()[0].name, "deb01");
    assert_eq!(verified.expires_at(), now() + TimeDelta::minutes(14));
}

#[tokio::test]
async fn in_dry_run_an_order_is_refused_with_the_plan_and_nothing_runs() {
    let world = healing_world(Mode::DryRun);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(
        (report.outcome, report.gate),
        (OrderOutcome::Refused, Some(Gate::Mode))
    );
    let bundle = world.drafts.last();
    assert_eq!(detail(&bundle, "plans")[0]["runbook_id"], "RB-DEB-TAV-001");
    assert_eq!(detail(&bundle, "plans")[0]["target"], "deb01");
    assert!(world.host.ran().is_empty());
    // Accepted, so its nonce is spent: the result is final.
    assert_eq!(world.nonces.len(), 1);
}

#[tokio::test]
async fn in_observe_mode_an_order_is_refused() {
    let world = healing_world(Mode::Observe);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(
        (report.outcome, report.gate),
        (OrderOutcome::Refused, Some(Gate::Mode))
    );
    assert!(world.host.ran().is_empty());
}

#[tokio::test]
async fn a_disruptive_order_outside_the_window_is_refused_with_the_next_opening() {
    let world = World::new(Mode::Heal);
    let order = sign(
        body(world.appliance_id, "RB-DEB-TBACKUP-001", json!({})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(
        (report.outcome, report.gate),
        (OrderOutcome::Refused, Some(Gate::MaintenanceWindow))
    );
    assert_eq!(
        detail(&world.drafts.last(), "next_window"),
        "2024-06-23T02:00:00+00:00"
    );
    assert!(world.host.ran().is_empty());
}

#[tokio::test]
async fn an_unreachable_target_fails_the_order() {
    let world = healing_world(Mode::Heal);
    world.host.refuse_sessions();
    let order = sign(
        body(world.appliance_id, "RB-DEB-TAV-001", json!({})),
        &server_key(),
    );
    let report = run(&world, &order).await;
    assert_eq!(report.outcome, OrderOutcome::Failed);
    assert!(
        report.detail.contains("connection refused"),
        "{}",
        report.detail
    );
    assert_eq!(
        detail(&world.drafts.last(), "targets")[0]["outcome"],
        "unreachable"
    );
}
