//! A test appliance: its own key, enrolled by claim code, sealing real
//! bundles into its chain and signing its requests as the agent does.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use osiris_core::{ApplianceId, Clock as _, SiteId};
use osiris_evidence::{ChainHash, ChainHead, KeyPair, SealedBundle, Sealer};
use osiris_store::{EvidenceEntry, TenantScope};
use osiris_testkit::intake::check_draft;
use osiris_worm::{KeyPrefix, ObjectKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{Api, TestServer, http_client};

pub(crate) const CHECKIN: &str = "/api/appliances/checkin";

pub(crate) struct TestAppliance {
    pub(crate) id: ApplianceId,
    pub(crate) site: SiteId,
    pub(crate) key: KeyPair,
    /// The server's order-signing key, as the claim returned it.
    pub(crate) server_key: String,
    pub(crate) head: Option<ChainHead>,
    base: String,
    http: reqwest::Client,
}

/// Creates an appliance at `site` as `operator`; returns its id and code.
pub(crate) use osiris_testkit::create_appliance as create;

/// Claims with `code` and `key`; returns the status and body.
pub(crate) async fn claim(server: &TestServer, code: &str, key: &KeyPair) -> (StatusCode, Value) {
    claim_at(&server.base, code, key).await
}

/// Claims at the server (or replica) answering at `base`.
async fn claim_at(base: &str, code: &str, key: &KeyPair) -> (StatusCode, Value) {
    Api {
        base: base.to_owned(),
        token: None,
        http: http_client(None),
    }
    .post(
        "/api/appliances/claim",
        json!({"claim_code": code, "public_key": key.public_key().to_base64()}),
    )
    .await
}

impl TestAppliance {
    /// Creates, then claims, an appliance at `site`.
    pub(crate) async fn enrol(server: &TestServer, operator: &Api, site: &str) -> Self {
        Self::enrol_at(&server.base, operator, site).await
    }

    /// Creates the appliance through `operator`, then claims it and sends
    /// its requests to the server answering at `base`.
    pub(crate) async fn enrol_at(base: &str, operator: &Api, site: &str) -> Self {
        let (id, code) = create(operator, site, "Front office appliance").await;
        let key = KeyPair::generate().unwrap();
        let (status, claimed) = claim_at(base, &code.to_lowercase(), &key).await;
        assert_eq!(status, StatusCode::OK, "{claimed}");
        assert_eq!(claimed["appliance_id"], id);
        assert_eq!(claimed["site_id"], site);
        Self {
            id: id.parse().unwrap(),
            site: site.parse().unwrap(),
            key,
            server_key: claimed["server_public_key"].as_str().unwrap().to_owned(),
            head: None,
            base: base.to_owned(),
            http: http_client(None),
        }
    }

    /// Sends this appliance's requests to another replica from now on.
    pub(crate) fn use_replica(&mut self, base: &str) {
        base.clone_into(&mut self.base);
    }

    /// Seals the next bundle of this appliance's chain.
    pub(crate) fn seal(&mut self, now: DateTime<Utc>) -> SealedBundle {
        let mut sealer = Sealer::new(&self.key, self.site, self.id, self.head);
        let sealed = sealer
            .seal(&check_draft(now, "deb.av.clamav", "pass"))
            .unwrap();
        self.head = sealer.head();
        sealed
    }

    /// Seals a bundle after `head`, claiming `site`, with `key`, without
    /// moving this appliance's own chain.
    pub(crate) fn seal_as(
        &self,
        key: &KeyPair,
        site: SiteId,
        head: Option<ChainHead>,
        now: DateTime<Utc>,
        outcome: &str,
    ) -> SealedBundle {
        Sealer::new(key, site, self.id, head)
            .seal(&check_draft(now, "deb.av.clamav", outcome))
            .unwrap()
    }

    /// A head whose hash is not any bundle's.
    pub(crate) fn bogus_head(seq: u64) -> ChainHead {
        ChainHead {
            seq,
            hash: ChainHash::of(b"not a bundle"),
        }
    }

    pub(crate) fn checkin_body(&self, bundles: &[&SealedBundle]) -> Value {
        json!({
            "appliance_id": self.id,
            "agent_version": "0.1.0",
            "rule_set_version": null,
            "bundles": bundles
                .iter()
                .map(|b| String::from_utf8(b.bytes().to_vec()).unwrap())
                .collect::<Vec<_>>(),
            "incidents": [],
            "telemetry": [],
            "order_results": [],
        })
    }

    /// Sends `body` signed with `key` as appliance `id`, dated `date`.
    pub(crate) async fn send_as(
        &self,
        id: &str,
        key: &KeyPair,
        date: DateTime<Utc>,
        body: &Value,
    ) -> (StatusCode, Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        let date = date.to_rfc3339_opts(SecondsFormat::Secs, true);
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let message = format!("osiris-request-v1\nPOST\n{CHECKIN}\n{date}\n{digest}");
        let response = self
            .http
            .request(Method::POST, format!("{}{CHECKIN}", self.base))
            .header("content-type", "application/json")
            .header("X-Osiris-Appliance", id)
            .header("X-Osiris-Date", date)
            .header("X-Osiris-Signature", key.sign_base64(message.as_bytes()))
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// A correctly signed check-in with `body`.
    pub(crate) async fn send(&self, server: &TestServer, body: &Value) -> (StatusCode, Value) {
        self.send_as(&self.id.to_string(), &self.key, server.clock.now(), body)
            .await
    }

    /// A correctly signed check-in carrying `bundles`, asserting 200.
    pub(crate) async fn checkin(&self, server: &TestServer, bundles: &[&SealedBundle]) -> Value {
        let (status, body) = self.send(server, &self.checkin_body(bundles)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// What the server stored for this appliance: index entries and WORM
    /// objects with their bytes.
    pub(crate) async fn stored(&self, server: &TestServer) -> Stored {
        let state = &server.running.state;
        let index = state
            .store
            .list_evidence(&TenantScope::platform(), self.id, 0, 1000)
            .await
            .unwrap();
        let prefix = KeyPrefix::parse(&format!("evidence/{}/{}/", self.site, self.id)).unwrap();
        let keys = state.evidence.list(&prefix, None, 1000).await.unwrap();
        let mut objects = Vec::new();
        for key in keys {
            let bytes = state.evidence.get(&key).await.unwrap();
            objects.push((key, bytes));
        }
        Stored { index, objects }
    }

    /// Verifies an order's signature with the server key from the claim.
    pub(crate) fn order_signature_holds(&self, order: &Value) -> bool {
        let mut unsigned = order.clone();
        let signature = unsigned
            .as_object_mut()
            .unwrap()
            .remove("signature")
            .unwrap();
        let message = osiris_evidence::canonical::to_vec("order", &unsigned).unwrap();
        let raw: [u8; 64] = STANDARD
            .decode(signature.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        osiris_evidence::PublicKey::from_base64(&self.server_key)
            .unwrap()
            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&raw))
    }
}

pub(crate) struct Stored {
    pub(crate) index: Vec<EvidenceEntry>,
    pub(crate) objects: Vec<(ObjectKey, Vec<u8>)>,
}

impl Stored {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty() && self.objects.is_empty()
    }
}
