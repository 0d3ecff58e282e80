//! The uplink against the real Central Command, over its own TLS: enrolment
//! by claim code (CA file or fingerprint), a signed check-in carrying
//! sealed evidence, and each way it can fail, classified; then the backoff
//! policy's properties.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a failed setup step fails the test"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use osiris_agent::uplink::{
    Backoff, BackoffPolicy, Claim, Enrolment, ErrorClass, Identity, PinnedTrust, RandomSource,
    ServerTrust, Timeouts, Uplink, UplinkError, UplinkSettings, enrol, mac_addresses,
};
use osiris_core::{Clock as _, ManualClock};
use osiris_evidence::{SealedBundle, Sealer};
use osiris_proto::CheckinRequest;
use osiris_testkit::intake::check_draft;
use osiris_testkit::{
    Site, TestServer, create_appliance, create_appliance_with_mac, site_with_appliance, tenant,
};
use proptest::prelude::*;
use reqwest::StatusCode;

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(30),
    }
}

fn ca_trust(server: &TestServer) -> ServerTrust {
    ServerTrust::ca_file(&server.ca_file().unwrap()).unwrap()
}

fn by_code(server: &TestServer, trust: ServerTrust, code: &str) -> Enrolment {
    Enrolment {
        server_url: server.base.clone(),
        trust: Some(trust),
        allow_http: false,
        claim: Claim::Code(code.to_owned().into()),
        replace_existing: false,
        timeouts: timeouts(),
    }
}

fn settings() -> UplinkSettings {
    UplinkSettings {
        server_url: None,
        trust: None,
        allow_http: false,
        timeouts: timeouts(),
    }
}

/// An appliance enrolled at a fresh HTTPS server.
async fn enrolled() -> (TestServer, Site, tempfile::TempDir, Identity) {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Acme").await;
    let data = tempfile::tempdir().unwrap();
    let identity = enrol(
        data.path(),
        &by_code(&server, ca_trust(&server), &site.claim_code),
    )
    .await
    .unwrap();
    (server, site, data, identity)
}

fn open(data: &Path, server: &TestServer) -> Uplink {
    Uplink::open(data, Arc::new(server.clock.clone()), &settings()).unwrap()
}

fn seal(
    uplink: &Uplink,
    sealer_head: &mut Option<osiris_evidence::ChainHead>,
    now: DateTime<Utc>,
) -> SealedBundle {
    let identity = uplink.identity();
    let mut sealer = Sealer::new(
        uplink.key(),
        identity.site_id,
        identity.appliance_id,
        *sealer_head,
    );
    let sealed = sealer
        .seal(&check_draft(now, "win.av.defender", "pass"))
        .unwrap();
    *sealer_head = sealer.head();
    sealed
}

fn request(uplink: &Uplink, bundles: &[&SealedBundle]) -> CheckinRequest {
    CheckinRequest {
        appliance_id: uplink.identity().appliance_id,
        agent_version: "0.1.0".to_owned(),
        rule_set_version: None,
        bundles: bundles
            .iter()
            .map(|b| String::from_utf8(b.bytes().to_vec()).unwrap())
            .collect(),
        incidents: vec![],
        telemetry: vec![],
        order_results: vec![],
        inventory: vec![],
    }
}

#[tokio::test]
async fn an_appliance_enrols_by_claim_code_and_its_signed_check_in_is_acknowledged() {
    let (server, site, data, identity) = enrolled().await;
    assert_eq!(identity.appliance_id.to_string(), site.appliance_id);
    assert_eq!(identity.site_id.to_string(), site.tenant.site);
    assert!(matches!(identity.trust, PinnedTrust::Ca(_)));
    let stored = site.admin.appliance(&site.appliance_id).await;
    assert_eq!(stored["claimed"], true);
    assert_eq!(stored["public_key"], identity.public_key.to_base64());

    let uplink = open(data.path(), &server);
    let mut head = None;
    let now = server.clock.now();
    let bundles = [seal(&uplink, &mut head, now), seal(&uplink, &mut head, now)];
    let response = uplink
        .checkin(&request(&uplink, &bundles.iter().collect::<Vec<_>>()))
        .await
        .unwrap();
    assert_eq!(response.acknowledged_through_seq, 2, "{response:?}");
    assert!(response.rejected.is_empty(), "{response:?}");
    assert!(response.rule_set.is_some());
    assert_eq!(response.server_time, now);

    let index = site.admin.evidence(&site.tenant.site).await;
    assert_eq!(index.len(), 2);
    for (entry, bundle) in index.iter().zip(&bundles) {
        let raw = site
            .admin
            .evidence_raw(entry["bundle_id"].as_str().unwrap())
            .await;
        assert_eq!(raw, bundle.bytes(), "stored byte for byte");
    }
    let stored = site.admin.appliance(&site.appliance_id).await;
    assert_eq!(stored["agent_version"], "0.1.0");
    assert!(stored["last_checkin_at"].is_string(), "{stored}");
}

#[tokio::test]
async fn enrolment_by_the_printed_fingerprint_pins_that_ca() {
    let server = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Acme").await;
    let data = tempfile::tempdir().unwrap();
    let printed = server.ca_fingerprint().unwrap().to_owned();
    let identity = enrol(
        data.path(),
        &by_code(
            &server,
            ServerTrust::fingerprint(&printed).unwrap(),
            &site.claim_code,
        ),
    )
    .await
    .unwrap();
    let PinnedTrust::Ca(pinned) = &identity.trust else {
        panic!("{:?}", identity.trust)
    };
    let fingerprints: Vec<String> = pinned
        .fingerprints()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(fingerprints, [printed]);
    // What was pinned is what the identity file holds, and it is enough to
    // check in.
    assert_eq!(Identity::load(data.path()).unwrap(), identity);
    let uplink = open(data.path(), &server);
    let response = uplink.checkin(&request(&uplink, &[])).await.unwrap();
    assert_eq!(response.acknowledged_through_seq, 0);
}

/// A `/sys/class/net` with loopback and two network cards.
fn sys_class_net(cards: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, address) in std::iter::once(&("lo", "00:00:00:00:00:00")).chain(cards) {
        let interface = dir.path().join(name);
        std::fs::create_dir_all(interface.join("device")).unwrap();
        std::fs::write(interface.join("address"), format!("{address}\n")).unwrap();
    }
    dir
}

fn by_mac(server: &TestServer, macs: Vec<osiris_agent::uplink::MacAddress>) -> Enrolment {
    Enrolment {
        claim: Claim::MacAddresses(macs),
        ..by_code(server, ca_trust(server), "unused")
    }
}

#[tokio::test]
async fn an_appliance_armed_with_its_mac_enrols_without_a_code_once() {
    let server = TestServer::start_https().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    let (id, _) =
        create_appliance_with_mac(&admin, &acme.site, "Closet box", "00-1B-21-AB-CD-02").await;
    let net = sys_class_net(&[("eth0", "00:1b:21:12:34:56"), ("eth1", "00:1B:21:ab:cd:02")]);
    let macs = mac_addresses(net.path()).unwrap();
    assert_eq!(macs.len(), 2, "{macs:?}");

    let data = tempfile::tempdir().unwrap();
    let identity = enrol(data.path(), &by_mac(&server, macs.clone()))
        .await
        .unwrap();
    assert_eq!(identity.appliance_id.to_string(), id);
    assert_eq!(identity.site_id.to_string(), acme.site);
    let uplink = open(data.path(), &server);
    uplink.checkin(&request(&uplink, &[])).await.unwrap();

    // The MAC claims once: another machine claiming it later is refused.
    let other = tempfile::tempdir().unwrap();
    let error = enrol(other.path(), &by_mac(&server, macs))
        .await
        .unwrap_err();
    assert_eq!(error.server_code(), Some("not_found"), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Rejected);
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_mac_claim_after_its_window_or_without_a_mac_is_refused() {
    let server = TestServer::start_https().await;
    let admin = server.admin().await;
    let acme = tenant(&admin, "Acme").await;
    create_appliance_with_mac(&admin, &acme.site, "Closet box", "00:1b:21:ab:cd:02").await;
    let net = sys_class_net(&[("eth0", "00:1b:21:ab:cd:02")]);
    let macs = mac_addresses(net.path()).unwrap();
    server.clock.advance(chrono::Duration::hours(25));
    let data = tempfile::tempdir().unwrap();
    let error = enrol(data.path(), &by_mac(&server, macs))
        .await
        .unwrap_err();
    let UplinkError::Refused { status, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*status, StatusCode::NOT_FOUND);

    let error = enrol(data.path(), &by_mac(&server, vec![]))
        .await
        .unwrap_err();
    assert!(matches!(error, UplinkError::NoMacAddress), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Local);
}

#[tokio::test]
async fn a_used_claim_code_is_refused_with_the_servers_code_and_nothing_is_written() {
    let (server, site, _data, _) = enrolled().await;
    let other = tempfile::tempdir().unwrap();
    let error = enrol(
        other.path(),
        &by_code(&server, ca_trust(&server), &site.claim_code),
    )
    .await
    .unwrap_err();
    let UplinkError::Refused { status, code, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        (*status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(error.class(), ErrorClass::Rejected);
    assert!(error.to_string().contains("404"), "{error}");
    assert!(!error.to_string().contains(&site.claim_code), "{error}");
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_second_enrolment_is_refused_unless_it_replaces_the_identity() {
    let (server, site, data, first) = enrolled().await;
    let (_, code) = create_appliance(&site.admin, &site.tenant.site, "Replacement").await;
    let mut again = by_code(&server, ca_trust(&server), &code);
    let error = enrol(data.path(), &again).await.unwrap_err();
    assert!(
        matches!(error, UplinkError::AlreadyEnrolled { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&first.appliance_id.to_string()),
        "{error}"
    );
    assert_eq!(Identity::load(data.path()).unwrap(), first, "untouched");

    again.replace_existing = true;
    let second = enrol(data.path(), &again).await.unwrap();
    assert_ne!(second.appliance_id, first.appliance_id);
    assert_ne!(second.public_key, first.public_key);
    let (loaded, key) = Identity::load_with_key(data.path()).unwrap();
    assert_eq!(loaded, second);
    assert_eq!(key.public_key(), second.public_key);
}

#[tokio::test]
async fn a_wrong_ca_fails_the_handshake_with_a_clear_error() {
    let server = TestServer::start_https().await;
    let elsewhere = TestServer::start_https().await;
    let site = site_with_appliance(&server, "Acme").await;
    let data = tempfile::tempdir().unwrap();

    let error = enrol(
        data.path(),
        &by_code(&server, ca_trust(&elsewhere), &site.claim_code),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, UplinkError::Tls { .. }), "{error:?}");
    assert!(
        error.to_string().contains("not signed by the trusted CA"),
        "{error}"
    );
    assert_eq!(error.class(), ErrorClass::Transient);

    let wrong = ServerTrust::fingerprint(elsewhere.ca_fingerprint().unwrap()).unwrap();
    let error = enrol(data.path(), &by_code(&server, wrong, &site.claim_code))
        .await
        .unwrap_err();
    assert!(matches!(error, UplinkError::Tls { .. }), "{error:?}");
    assert!(
        error.to_string().contains("pinned SHA-256 fingerprint"),
        "{error}"
    );
    assert!(
        error.to_string().contains(server.ca_fingerprint().unwrap()),
        "names what the server sent: {error}"
    );

    let error = enrol(
        data.path(),
        &by_code(&server, ServerTrust::PublicRoots, &site.claim_code),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, UplinkError::Tls { .. }),
        "the system roots are not the server's CA: {error:?}"
    );

    // None of that consumed the code or wrote anything.
    assert_eq!(std::fs::read_dir(data.path()).unwrap().count(), 0);
    enrol(
        data.path(),
        &by_code(&server, ca_trust(&server), &site.claim_code),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let server = TestServer::start().await;
    let site = site_with_appliance(&server, "Acme").await;
    let data = tempfile::tempdir().unwrap();
    let mut enrolment = Enrolment {
        server_url: server.base.clone(),
        trust: None,
        allow_http: false,
        claim: Claim::Code(site.claim_code.clone().into()),
        replace_existing: false,
        timeouts: timeouts(),
    };
    let error = enrol(data.path(), &enrolment).await.unwrap_err();
    assert!(matches!(error, UplinkError::BadUrl { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Local);
    enrolment.allow_http = true;
    let identity = enrol(data.path(), &enrolment).await.unwrap();
    assert_eq!(identity.trust, PinnedTrust::PlainHttp);
    let error = Uplink::open(data.path(), Arc::new(server.clock.clone()), &settings()).unwrap_err();
    assert!(matches!(error, UplinkError::BadUrl { .. }), "{error:?}");
    let uplink = Uplink::open(
        data.path(),
        Arc::new(server.clock.clone()),
        &UplinkSettings {
            allow_http: true,
            ..settings()
        },
    )
    .unwrap();
    uplink.checkin(&request(&uplink, &[])).await.unwrap();
}

#[tokio::test]
async fn a_stale_clock_is_refused_as_date_stale() {
    let (server, _site, data, _) = enrolled().await;
    let behind = ManualClock::new(server.clock.now() - chrono::Duration::minutes(10));
    let uplink = Uplink::open(data.path(), Arc::new(behind), &settings()).unwrap();
    let error = uplink.checkin(&request(&uplink, &[])).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Unauthorized, "{error:?}");
    assert_eq!(error.server_code(), Some("date_stale"));
    assert!(error.is_clock_problem());
    assert!(error.to_string().contains("date_stale"), "{error}");
}

#[tokio::test]
async fn a_body_the_server_refuses_is_not_worth_sending_again() {
    let (server, _site, data, _) = enrolled().await;
    let uplink = open(data.path(), &server);
    let mut body = request(&uplink, &[]);
    body.appliance_id = osiris_core::ApplianceId::random();
    let error = uplink.checkin(&body).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Rejected, "{error:?}");
    let UplinkError::Refused { status, field, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(status.is_client_error());
    assert_eq!(field.as_deref(), Some("appliance_id"), "{error}");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_retryable_error() {
    let (server, _site, data, _) = enrolled().await;
    let uplink = open(data.path(), &server);
    server.stop().await;
    let error = uplink.checkin(&request(&uplink, &[])).await.unwrap_err();
    assert!(matches!(error, UplinkError::Transport { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_retryable() {
    let (server, _site, data, _) = enrolled().await;
    // Accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let uplink = Uplink::open(
        data.path(),
        Arc::new(server.clock.clone()),
        &UplinkSettings {
            server_url: Some(url),
            trust: None,
            allow_http: true,
            timeouts: Timeouts {
                connect: Duration::from_secs(5),
                request: Duration::from_millis(300),
            },
        },
    )
    .unwrap();
    let error = uplink.checkin(&request(&uplink, &[])).await.unwrap_err();
    assert!(matches!(error, UplinkError::Timeout { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Transient);
    held.abort();
}

/// Replays the values a proptest drew.
struct Replay(Vec<u64>, usize);

impl RandomSource for Replay {
    fn next_u64(&mut self) -> u64 {
        let value = self.0[self.1 % self.0.len()];
        self.1 += 1;
        value
    }
}

#[derive(Debug, Clone)]
enum Outcome {
    Failure(Option<u64>),
    Success(u32),
}

fn outcomes() -> impl Strategy<Value = Vec<Outcome>> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::option::of(0u64..100_000).prop_map(Outcome::Failure),
            1 => (0u32..10_000).prop_map(Outcome::Success),
        ],
        1..80,
    )
}

proptest! {
    #[test]
    fn backoff_delays_stay_within_zero_and_the_cap(
        base_ms in 1u64..20_000,
        cap_ms in 1u64..4_000_000,
        draws in prop::collection::vec(any::<u64>(), 1..16),
        outcomes in outcomes(),
    ) {
        let policy = BackoffPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms.max(base_ms)),
        };
        let mut backoff = Backoff::new(policy);
        let mut random = Replay(draws, 0);
        for outcome in outcomes {
            match outcome {
                Outcome::Failure(retry_after) => {
                    let ceiling = backoff.ceiling();
                    let retry_after = retry_after.map(Duration::from_secs);
                    let delay = backoff.failed(retry_after, &mut random);
                    prop_assert!(delay <= policy.cap);
                    prop_assert!(ceiling <= policy.cap);
                    match retry_after {
                        Some(asked) => prop_assert!(delay <= ceiling.max(asked.min(policy.cap))),
                        None => prop_assert!(delay <= ceiling),
                    }
                    if let Some(asked) = retry_after {
                        prop_assert!(delay >= asked.min(policy.cap), "Retry-After is honoured up to the cap");
                    }
                }
                Outcome::Success(next) => {
                    let delay = backoff.succeeded(next);
                    prop_assert_eq!(delay, Duration::from_secs(u64::from(next.max(1))));
                }
            }
        }
    }

    #[test]
    fn the_backoff_ceiling_never_falls_while_failing_and_a_success_resets_it(
        base_ms in 1u64..20_000,
        cap_ms in 1u64..4_000_000,
        draws in prop::collection::vec(any::<u64>(), 1..16),
        failures in 1usize..100,
    ) {
        let policy = BackoffPolicy {
            base: Duration::from_millis(base_ms),
            cap: Duration::from_millis(cap_ms.max(base_ms)),
        };
        let mut backoff = Backoff::new(policy);
        let mut random = Replay(draws, 0);
        let mut previous = backoff.ceiling();
        prop_assert_eq!(previous, policy.base);
        for _ in 0..failures {
            backoff.failed(None, &mut random);
            let ceiling = backoff.ceiling();
            prop_assert!(ceiling >= previous);
            prop_assert!(ceiling <= policy.cap);
            previous = ceiling;
        }
        backoff.succeeded(60);
        prop_assert_eq!(backoff.failures(), 0);
        prop_assert_eq!(backoff.ceiling(), policy.base);
    }
}
