//! Many bundles into the server without HTTP, for the benches that need a
//! store full of evidence: an appliance claimed through the API with a
//! fresh key, and check bundles sealed on its chain, ready for
//! `osiris_server::intake::accept` exactly as a check-in hands them over.

use chrono::{DateTime, Utc};
use osiris_core::BundleId;
use osiris_evidence::{BundleDraft, ChainHead, KeyPair, Kind, Sealer};
use osiris_store::{ApplianceIdentity, TenantScope};
use serde_json::json;

use crate::{Site, TestServer, site_with_appliance};

/// An appliance that has claimed its site and holds its signing key.
pub struct Claimed {
    /// The site it serves and who created it.
    pub site: Site,
    /// The key it signs bundles with.
    pub key: KeyPair,
    /// How the server knows it.
    pub identity: ApplianceIdentity,
    /// The scope its check-ins run in.
    pub scope: TenantScope,
    /// The head of its chain: the last bundle sealed by [`Claimed::seal_checks`].
    pub head: Option<ChainHead>,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("identity", &self.identity.id)
            .finish_non_exhaustive()
    }
}

/// Creates a site named `name` with one appliance and claims it with a
/// fresh key, as an appliance does at enrolment.
pub async fn claimed_appliance(server: &TestServer, name: &str) -> Claimed {
    let site = site_with_appliance(server, name).await;
    let key = KeyPair::generate().unwrap();
    let (status, body) = server
        .anonymous()
        .post(
            "/api/appliances/claim",
            json!({"claim_code": site.claim_code, "public_key": key.public_key().to_base64()}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let identity = server
        .running
        .state
        .store
        .appliance_identity(site.appliance_id.parse().unwrap())
        .await
        .unwrap();
    let scope = TenantScope::for_appliance(&identity);
    Claimed {
        site,
        key,
        identity,
        scope,
        head: None,
    }
}

impl Claimed {
    /// `count` passing check bundles created at `now`, sealed on the chain
    /// after the previous call's, as the canonical text a check-in carries.
    pub fn seal_checks(&mut self, now: DateTime<Utc>, count: usize) -> Vec<String> {
        let mut sealer = Sealer::new(
            &self.key,
            self.identity.site_id,
            self.identity.id,
            self.head.take(),
        );
        let bundles = (0..count)
            .map(|_| {
                let sealed = sealer
                    .seal(&check_draft(now, "win.av.defender", "pass"))
                    .unwrap();
                String::from_utf8(sealed.bytes().to_vec()).unwrap()
            })
            .collect();
        self.head = sealer.head();
        bundles
    }
}

/// A check result of `check_id` on the domain controller `dc01`, about 600
/// bytes once sealed.
#[must_use]
pub fn check_draft(now: DateTime<Utc>, check_id: &str, outcome: &str) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: now,
        kind: Kind::Check,
        host: "dc01".to_owned(),
        hipaa: vec!["164.308(a)(5)(ii)(B)".parse().unwrap()],
        outcome: outcome.to_owned(),
        detail: json!({"check_id": check_id, "tier": "l1"}),
        artifacts: vec![],
    }
}
