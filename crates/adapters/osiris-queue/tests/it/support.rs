//! A queue in a temporary directory, drafts and items to put in it, and a
//! chain checker that trusts nothing but the public key.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use osiris_core::{ApplianceId, BundleId, ManualClock, SiteId};
use osiris_evidence::parse::parse_bundle;
use osiris_evidence::{Artifact, BundleDraft, ChainHash, KeyPair, Kind, PublicKey};
use osiris_queue::{PendingBundle, Queue, QueueConfig};
use osiris_scrub::{ScrubConfig, ScrubKey, Scrubbed, Scrubber};
use serde_json::{Value, json};

pub(crate) struct Fixture {
    // Kept for its Drop: the directory goes with the fixture.
    _dir: tempfile::TempDir,
    pub(crate) path: PathBuf,
    pub(crate) seed: [u8; 32],
    pub(crate) site_id: SiteId,
    pub(crate) appliance_id: ApplianceId,
    pub(crate) clock: ManualClock,
    pub(crate) scrubber: Scrubber,
    pub(crate) max_bytes: u64,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        Self::at(dir, path, [7; 32], SiteId::random(), ApplianceId::random())
    }

    pub(crate) fn at(
        dir: tempfile::TempDir,
        path: PathBuf,
        seed: [u8; 32],
        site_id: SiteId,
        appliance_id: ApplianceId,
    ) -> Self {
        Self {
            _dir: dir,
            path,
            seed,
            site_id,
            appliance_id,
            clock: ManualClock::new(Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()),
            scrubber: scrubber(),
            max_bytes: osiris_queue::DEFAULT_MAX_BYTES,
        }
    }

    pub(crate) fn key(&self) -> KeyPair {
        KeyPair::from_seed(self.seed)
    }

    pub(crate) fn public_key(&self) -> PublicKey {
        self.key().public_key()
    }

    pub(crate) fn config(&self) -> QueueConfig {
        let mut config = QueueConfig::new(&self.path, Arc::new(self.clock.clone()));
        config.max_bytes = self.max_bytes;
        config
    }

    pub(crate) async fn try_open(&self) -> osiris_queue::Result<Queue> {
        Queue::open(self.config(), self.key(), self.site_id, self.appliance_id).await
    }

    pub(crate) async fn open(&self) -> Queue {
        self.try_open().await.unwrap()
    }

    /// A scrubbed remediation draft (about 700 bytes sealed) with `padding`
    /// more bytes of detail.
    pub(crate) fn draft(&self, n: u64, padding: usize) -> Scrubbed<BundleDraft> {
        self.scrubber.scrub_draft(raw_draft(n, padding))
    }

    pub(crate) fn item(&self, n: u64, padding: usize) -> Scrubbed<Value> {
        self.scrubber.scrub_json(&json!({
            "check_id": "win.firewall.profiles",
            "host": "NVC-DC01",
            "n": n,
            "note": "x".repeat(padding),
        }))
    }
}

pub(crate) fn scrubber() -> Scrubber {
    let key = ScrubKey::from_hex(&"11".repeat(osiris_scrub::KEY_LEN)).unwrap();
    Scrubber::new(&key, &ScrubConfig::it_evidence()).unwrap()
}

pub(crate) fn raw_draft(n: u64, padding: usize) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
            + Duration::seconds(i64::try_from(n).unwrap()),
        kind: Kind::Remediation,
        host: "NVC-DC01".into(),
        hipaa: vec!["164.312(a)(1)".parse().unwrap()],
        outcome: "verified".into(),
        detail: json!({
            "check_id": "win.firewall.profiles", "runbook_id": "RB-WIN-FIREWALL-001", "tier": "L1",
            "rule_id": "L1-FIREWALL-001", "pre": {"Domain": false, "Private": true, "Public": true},
            "post": {"Domain": true, "Private": true, "Public": true}, "duration_ms": 812,
            "n": n, "padding": "p".repeat(padding),
        }),
        artifacts: vec![Artifact::of(
            "stdout",
            b"{\"profiles\":[{\"name\":\"Domain\",\"enabled\":true}]}",
        )],
    }
}

/// Checks that `bundles` are consecutive seqs of one chain of `site_id` /
/// `appliance_id`, each signed by `key` over its canonical bytes, the first
/// linking to `previous` when it is known. Returns the last hash.
pub(crate) fn verify_chain(
    bundles: &[PendingBundle],
    key: &PublicKey,
    site_id: SiteId,
    appliance_id: ApplianceId,
    previous: Option<ChainHash>,
) -> Option<ChainHash> {
    let mut previous = previous;
    let mut last_seq = None;
    for bundle in bundles {
        let parsed = parse_bundle(bundle.canonical.as_bytes())
            .unwrap_or_else(|e| panic!("bundle {} does not parse: {e}", bundle.seq));
        assert_eq!(parsed.seq, bundle.seq);
        assert_eq!(parsed.site_id, site_id);
        assert_eq!(parsed.appliance_id, appliance_id);
        assert_eq!(parsed.key_id, key.key_id());
        assert!(
            key.verify_strict(&parsed.signed_message, &parsed.signature),
            "bundle {} signature does not verify",
            bundle.seq
        );
        if let Some(last) = last_seq {
            assert_eq!(bundle.seq, last + 1, "seqs must be consecutive");
        }
        if bundle.seq == 1 {
            assert_eq!(parsed.prev_hash, ChainHash::GENESIS);
        }
        if let Some(previous) = previous {
            assert_eq!(
                parsed.prev_hash, previous,
                "bundle {} does not link to its predecessor",
                bundle.seq
            );
        }
        previous = Some(parsed.hash);
        last_seq = Some(bundle.seq);
    }
    previous
}
