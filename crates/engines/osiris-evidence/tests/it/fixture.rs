//! Deterministic exports for tests: fixed keys, ids and times, so the same
//! call always writes the same bytes.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use osiris_core::{ApplianceId, BundleId, SiteId};
use osiris_evidence::export::{ApplianceExport, ExportFormat, ExportWriter};
use osiris_evidence::{Artifact, BundleDraft, Checkpoint, KeyPair, Kind, SealedBundle, Sealer};
use serde_json::json;
use uuid::Uuid;

pub(crate) const SERVER_SEED: [u8; 32] = [0x5e; 32];

pub(crate) fn site() -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(0x5173_0000_0000_4000_8000_0000_0000_0001))
}

pub(crate) fn appliance(index: usize) -> ApplianceId {
    ApplianceId::from_uuid(Uuid::from_u128(
        0xa991_0000_0000_4000_8000_0000_0000_0000 + index as u128,
    ))
}

pub(crate) fn appliance_key(index: usize) -> KeyPair {
    KeyPair::from_seed([u8::try_from(index).unwrap() + 1; 32])
}

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

pub(crate) fn draft(appliance: usize, n: u64) -> BundleDraft {
    let check = [
        "win.patch.status",
        "win.av.defender",
        "win.firewall.profiles",
    ][n as usize % 3];
    let failed = n.is_multiple_of(5);
    BundleDraft {
        bundle_id: BundleId::from_uuid(Uuid::from_u128(
            ((appliance as u128) << 64) | u128::from(n),
        )),
        created_at: start() + Duration::minutes(i64::try_from(n).unwrap() * 10),
        kind: if failed {
            Kind::Remediation
        } else {
            Kind::Check
        },
        host: format!("NVC-SRV{appliance:02}"),
        hipaa: vec!["164.308(a)(5)(ii)(B)".parse().unwrap()],
        outcome: if failed {
            "rolled_back".into()
        } else {
            "pass".into()
        },
        detail: json!({"check_id": check, "tier": if failed { json!("L1") } else { json!(null) }, "pre": {"enabled": false}, "post": {"enabled": true}}),
        artifacts: vec![Artifact::of("stdout", format!("{{\"n\":{n}}}").as_bytes())],
    }
}

pub(crate) fn chain(appliance: usize, key: &KeyPair, count: u64) -> Vec<SealedBundle> {
    let mut sealer = Sealer::new(key, site(), self::appliance(appliance), None);
    (1..=count)
        .map(|n| sealer.seal(&draft(appliance, n)).unwrap())
        .collect()
}

/// Writes an export of `appliances` chains of `count` bundles each, with a
/// checkpoint every 5 bundles and one at the head.
pub(crate) fn write_export(
    out: &Path,
    format: ExportFormat,
    appliances: usize,
    count: u64,
) -> PathBuf {
    let server = KeyPair::from_seed(SERVER_SEED);
    let to = start() + Duration::days(30);
    let mut writer = ExportWriter::create(out, format, site(), (start(), to), to, &server).unwrap();
    for index in 0..appliances {
        let key = appliance_key(index);
        let bundles = chain(index, &key, count);
        let checkpoints: Vec<Checkpoint> = bundles
            .iter()
            .filter(|b| b.seq().is_multiple_of(5) || b.seq() == count)
            .map(|b| {
                let head = osiris_evidence::ChainHead {
                    seq: b.seq(),
                    hash: b.hash(),
                };
                Checkpoint::sign(appliance(index), head, to, &server).unwrap()
            })
            .collect();
        writer
            .add_appliance(ApplianceExport {
                appliance_id: appliance(index),
                public_key: &key.public_key(),
                bundles: bundles.iter().map(SealedBundle::bytes),
                checkpoints: &checkpoints,
            })
            .unwrap();
    }
    writer.finish().unwrap()
}
