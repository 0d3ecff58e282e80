//! The simulated practice, "North Valley Clinic": three servers and the
//! catalog's checks for each one's platform. What is simulated: the hosts themselves and
//! their drift (a seeded pseudo-random model), the L1 fixes and the human
//! escalations. What is real: every bundle, signature, chain, checkpoint,
//! export and verification.

use chrono::{DateTime, Timelike, Utc};
use osiris_catalog::{Catalog, Disruptive, Platform};
use sha2::{Digest, Sha256};

pub(crate) struct Host {
    pub(crate) name: &'static str,
    pub(crate) platform: Platform,
    pub(crate) role: &'static str,
}

pub(crate) const PRACTICE: &str = "North Valley Clinic";

pub(crate) const HOSTS: [Host; 3] = [
    Host {
        name: "NVC-DC01",
        platform: Platform::Windows,
        role: "domain controller",
    },
    Host {
        name: "NVC-FS01",
        platform: Platform::Windows,
        role: "file and imaging server",
    },
    Host {
        name: "nvc-ehr01",
        platform: Platform::Debian,
        role: "EHR application server",
    },
];

/// One catalog check as the demo runs it, with its runbook's disruption class.
pub(crate) struct Check<'c> {
    pub(crate) check: &'c osiris_catalog::Check,
    pub(crate) disruptive: Disruptive,
}

/// The catalog's checks for `host`'s platform: the same files the
/// appliance runs, so the demo's evidence names real check and runbook ids.
pub(crate) fn checks_for<'c>(catalog: &'c Catalog, host: &Host) -> Vec<Check<'c>> {
    catalog
        .checks()
        .values()
        .filter(|check| check.platform == host.platform)
        .map(|check| Check {
            check,
            disruptive: catalog
                .runbook(&check.runbook)
                .map_or(Disruptive::Approval, |r| r.disruptive),
        })
        .collect()
}

/// What the simulated host reports for one check at one sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drift {
    Compliant,
    /// Drifted; the L1 fix works.
    Fixable,
    /// Drifted; the fix fails verification and is rolled back.
    Stubborn,
    /// The facts could not be collected (unknown never heals).
    Unreachable,
}

/// A deterministic drift model: the same site, host, check and time give
/// the same answer on every run, so the demo is reproducible.
pub(crate) fn drift(seed: &str, host: &Host, check: &Check<'_>, at: DateTime<Utc>) -> Drift {
    let digest = Sha256::digest(format!(
        "{seed}|{}|{}|{}",
        host.name,
        check.check.id,
        at.timestamp()
    ));
    let first: [u8; 2] = digest
        .get(..2)
        .and_then(|b| b.try_into().ok())
        .unwrap_or_default();
    let roll = u16::from_be_bytes(first) % 1000;
    match roll {
        0..=39 => Drift::Fixable,
        40..=47 => Drift::Stubborn,
        48..=52 => Drift::Unreachable,
        _ => Drift::Compliant,
    }
}

/// The practice's maintenance window: 01:00 to 04:59 UTC.
pub(crate) fn in_maintenance_window(at: DateTime<Utc>) -> bool {
    (1..5).contains(&at.hour())
}
