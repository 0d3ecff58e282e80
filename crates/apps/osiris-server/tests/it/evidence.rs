//! Reading evidence: scoped to the caller's tenant, open to auditors on
//! their granted sites.

use osiris_core::Clock as _;
use reqwest::StatusCode;
use serde_json::json;

use crate::fleet::TestAppliance;
use crate::support::{TestServer, tenant, user};

#[tokio::test]
async fn evidence_of_another_tenant_is_not_found() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let mut theirs = TestAppliance::enrol(&server, &admin, &other.site).await;
    let bundle = theirs.seal(server.clock.now());
    theirs.checkin(&server, &[&bundle]).await;
    let partner = user(
        &server,
        &admin,
        "acme-ops",
        "partner",
        json!({"partner_id": acme.partner}),
    )
    .await;
    let id = bundle.bundle_id();
    for path in [
        format!("/api/evidence/{id}"),
        format!("/api/evidence/{id}/raw"),
        format!("/api/sites/{}/evidence", other.site),
        format!(
            "/api/sites/{}/evidence?appliance_id={}",
            acme.site, theirs.id
        ),
    ] {
        let (status, body) = partner.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, own) = partner
        .get(&format!("/api/sites/{}/evidence", acme.site))
        .await;
    assert_eq!((status, own), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn an_auditor_reads_the_evidence_of_granted_sites_only() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let other = tenant(&admin, "Other").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let bundle = appliance.seal(server.clock.now());
    appliance.checkin(&server, &[&bundle]).await;
    let auditor = user(&server, &admin, "auditor", "auditor", json!({})).await;
    let (_, me) = auditor.get("/api/auth/me").await;
    let auditor_id = me["id"].as_str().unwrap();
    assert_eq!(
        auditor
            .get(&format!("/api/sites/{}/evidence", acme.site))
            .await
            .0,
        StatusCode::NOT_FOUND,
        "nothing before the grant"
    );
    let (status, body) = admin
        .put(
            &format!("/api/users/{auditor_id}/sites/{}", acme.site),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let (status, page) = auditor
        .get(&format!(
            "/api/sites/{}/evidence?appliance_id={}",
            acme.site, appliance.id
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page[0]["bundle_id"], bundle.bundle_id().to_string());
    let (status, _) = auditor
        .request(
            reqwest::Method::GET,
            &format!("/api/evidence/{}/raw", bundle.bundle_id()),
        )
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        auditor
            .get(&format!("/api/sites/{}/evidence", other.site))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = auditor
        .get(&format!("/api/sites/{}/evidence?limit=0", acme.site))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn staff_sign_checkpoints_on_demand_and_the_schedule_signs_moved_heads() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let path = format!("/api/appliances/{}/checkpoint", appliance.id);
    let (status, _) = admin.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no evidence yet");
    let first = appliance.seal(server.clock.now());
    let second = appliance.seal(server.clock.now());
    appliance.checkin(&server, &[&first, &second]).await;
    let (status, checkpoint) = admin.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    assert_eq!(checkpoint["seq"], 2);
    assert_eq!(checkpoint["head_hash"], second.hash().to_string());
    let statement: osiris_evidence::Checkpoint =
        serde_json::from_value(checkpoint.clone()).unwrap();
    assert!(statement.is_signed_by(&server.running.state.server_key.public_key()));
    let (_, again) = admin.post(&path, json!({})).await;
    assert_eq!(again, checkpoint, "an unmoved head keeps its checkpoint");
    let stored = server
        .running
        .state
        .evidence
        .get(
            &osiris_worm::ObjectKey::parse(&format!(
                "checkpoints/{}/{}/{:020}.json",
                acme.site, appliance.id, 2
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&stored).unwrap(),
        checkpoint
    );

    let client = user(
        &server,
        &admin,
        "acme-client",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    assert_eq!(client.post(&path, json!({})).await.0, StatusCode::FORBIDDEN);

    let third = appliance.seal(server.clock.now());
    appliance.checkin(&server, &[&third]).await;
    let signed = osiris_server::checkpoints::checkpoint_all(&server.running.state)
        .await
        .unwrap();
    assert_eq!(signed, 1, "only the moved head is signed again");
    assert_eq!(
        osiris_server::checkpoints::checkpoint_all(&server.running.state)
            .await
            .unwrap(),
        0
    );
}

/// Downloads the site's export as `who` and writes it to `dir/name`.
async fn download(
    who: &crate::support::Api,
    site: &str,
    dir: &std::path::Path,
    name: &str,
) -> std::path::PathBuf {
    let response = who
        .request(
            reqwest::Method::GET,
            &format!("/api/sites/{site}/evidence/export"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let path = dir.join(name);
    std::fs::write(&path, response.bytes().await.unwrap()).unwrap();
    path
}

#[tokio::test]
async fn an_export_from_the_api_verifies_offline_and_a_bundle_removed_below_the_server_is_caught() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let bundles: Vec<_> = (0..5).map(|_| appliance.seal(server.clock.now())).collect();
    appliance
        .checkin(&server, &bundles.iter().collect::<Vec<_>>())
        .await;
    // An appliance without evidence is left out of the export.
    TestAppliance::enrol(&server, &admin, &acme.site).await;
    let client = user(
        &server,
        &admin,
        "acme-client",
        "client",
        json!({"client_id": acme.client}),
    )
    .await;
    let out = tempfile::tempdir().unwrap();
    let export = download(&client, &acme.site, out.path(), "first.tar.gz").await;
    let report = osiris_evidence::verify_export(
        &export,
        &osiris_evidence::VerifyOptions {
            server_key: Some(server.running.state.server_key.public_key()),
        },
        &osiris_evidence::verify::NoProgress,
    )
    .unwrap();
    assert!(report.ok, "{:?}", report.failures);
    assert_eq!(report.bundles_checked, 5);
    assert_eq!(report.chains.len(), 1);

    // Tampering below the server: the object of seq 3 disappears.
    let object = server.dir.path().join(format!(
        "evidence/objects/evidence/{}/{}/{:020}.json",
        acme.site, appliance.id, 3
    ));
    assert!(object.exists(), "{}", object.display());
    std::fs::remove_file(&object).unwrap();
    let tampered = download(&admin, &acme.site, out.path(), "tampered.tar.gz").await;
    let report = osiris_evidence::verify_export(
        &tampered,
        &osiris_evidence::VerifyOptions::default(),
        &osiris_evidence::verify::NoProgress,
    )
    .unwrap();
    assert!(!report.ok);
    assert!(
        report.failures.iter().any(|f| f.appliance_id.as_deref()
            == Some(appliance.id.to_string().as_str())
            && f.seq == Some(3)),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn health_and_the_fleet_say_the_local_store_guarantees_the_retention() {
    let server = TestServer::start_with(&[("OSIRIS_EVIDENCE__RETENTION_DAYS", "2555")]).await;
    let (status, health) = server.anonymous().get("/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(
        health["evidence_retention"],
        json!({"days": 2555, "guaranteed": true, "warning": null})
    );
    assert_eq!(health["warnings"], json!([]));
    let admin = server.admin().await;
    let (status, fleet) = admin.get("/api/dashboard/fleet").await;
    assert_eq!(status, StatusCode::OK, "{fleet}");
    assert_eq!(fleet["evidence_retention"]["guaranteed"], true);
}

/// Restart during ingestion: Central Command is stopped while intake runs,
/// at pseudo-random moments (the intake task aborted mid-way, the server
/// shut down), and started again on the same data directory; the appliance
/// re-uploads what was not acknowledged. Every seq ever acknowledged is in
/// the WORM store and the index, and the chain ends whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_during_ingestion_never_loses_an_acknowledged_bundle() {
    let mut server = TestServer::start().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let mut appliance = TestAppliance::enrol(&server, &admin, &acme.site).await;
    let bundles: Vec<String> = (0..120)
        .map(|_| String::from_utf8(appliance.seal(server.clock.now()).bytes().to_vec()).unwrap())
        .collect();
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    let clock = server.clock.clone();
    server.stop().await;

    let config = osiris_testkit::config_for(dir.path(), &[]);
    let mut acknowledged = 0u64;
    let mut ever_acknowledged = Vec::new();
    // A small linear congruential generator: reproducible "random" moments.
    let mut seed = 0x2545_f491_u64;
    let mut next = |bound: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) % bound
    };
    let mut restarts = 0;
    // The latest moment a stop may land, in µs. It starts short so most
    // stops land mid-intake, and doubles after every 20 stops in a row that
    // all landed before an intake finished: a busy machine's intake takes
    // longer, and the appliance must still get through in the end.
    let mut latest_stop = 4_000u64;
    let mut misses = 0u32;
    while acknowledged < 120 {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = osiris_server::start(&config, std::sync::Arc::new(clock.clone()), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        let state = running.state.clone();
        let identity = state.store.appliance_identity(appliance.id).await.unwrap();
        let scope = osiris_store::TenantScope::for_appliance(&identity);
        let from = usize::try_from(acknowledged).unwrap();
        let batch: Vec<String> =
            bundles[from..(from + 1 + usize::try_from(next(16)).unwrap()).min(120)].to_vec();
        let now = clock.now();
        let intake = tokio::spawn(async move {
            osiris_server::intake::accept(&state, &identity, &scope, &batch, now).await
        });
        // Stop somewhere between "before anything" and "after everything".
        tokio::time::sleep(std::time::Duration::from_micros(next(latest_stop))).await;
        intake.abort();
        if let Ok(Ok(outcome)) = intake.await {
            assert!(outcome.acknowledged_through_seq >= acknowledged);
            acknowledged = outcome.acknowledged_through_seq;
            ever_acknowledged.push(acknowledged);
            misses = 0;
        } else {
            misses += 1;
            if misses.is_multiple_of(20) {
                latest_stop = (latest_stop * 2).min(2_000_000);
            }
        }
        // Every seq acknowledged so far is in the index and the WORM store.
        let entries = running
            .state
            .store
            .list_evidence(
                &osiris_store::TenantScope::platform(),
                appliance.id,
                0,
                1000,
            )
            .await
            .unwrap();
        for seq in 1..=acknowledged {
            let entry = entries
                .iter()
                .find(|e| e.seq == seq)
                .unwrap_or_else(|| panic!("acknowledged seq {seq} missing from the index"));
            let stored = running
                .state
                .evidence
                .get(&osiris_worm::ObjectKey::parse(&entry.object_key).unwrap())
                .await
                .unwrap_or_else(|e| {
                    panic!("acknowledged seq {seq} missing from the WORM store: {e}")
                });
            assert_eq!(
                stored,
                bundles[usize::try_from(seq - 1).unwrap()].as_bytes()
            );
        }
        let _ = stop.send(());
        let _ = running.task.await;
        restarts += 1;
        assert!(restarts < 2000, "intake never completes");
    }
    assert!(ever_acknowledged.len() > 1);
    assert!(
        restarts > ever_acknowledged.len(),
        "some stops landed mid-intake"
    );
}
