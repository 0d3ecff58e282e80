//! The simulated practice, "North Valley Clinic": three servers and the
//! seven SPEC checks on each. What is simulated: the hosts themselves and
//! their drift (a seeded pseudo-random model), the L1 fixes and the human
//! escalations. What is real: every bundle, signature, chain, checkpoint,
//! export and verification.

use chrono::{DateTime, Timelike, Utc};
use sha2::{Digest, Sha256};

pub(crate) struct Host {
    pub(crate) name: &'static str,
    pub(crate) platform: &'static str,
    pub(crate) role: &'static str,
}

pub(crate) struct Check {
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) hipaa: &'static [&'static str],
    pub(crate) runbook: &'static str,
    pub(crate) disruptive: bool,
}

pub(crate) const PRACTICE: &str = "North Valley Clinic";

pub(crate) const HOSTS: [Host; 3] = [
    Host {
        name: "NVC-DC01",
        platform: "windows",
        role: "domain controller",
    },
    Host {
        name: "NVC-FS01",
        platform: "windows",
        role: "file and imaging server",
    },
    Host {
        name: "nvc-ehr01",
        platform: "debian",
        role: "EHR application server",
    },
];

const WINDOWS: [Check; 7] = [
    Check {
        id: "win.patch.status",
        title: "Windows Patch Compliance",
        hipaa: &["164.308(a)(5)(ii)(B)"],
        runbook: "RB-WIN-PATCH-001",
        disruptive: true,
    },
    Check {
        id: "win.av.defender",
        title: "Windows Defender Health",
        hipaa: &["164.308(a)(5)(ii)(B)"],
        runbook: "RB-WIN-AV-001",
        disruptive: false,
    },
    Check {
        id: "win.backup.wsb",
        title: "Backup Verification",
        hipaa: &["164.308(a)(7)(ii)(A)"],
        runbook: "RB-WIN-BACKUP-001",
        disruptive: false,
    },
    Check {
        id: "win.logging.audit",
        title: "Windows Event Logging",
        hipaa: &["164.312(b)"],
        runbook: "RB-WIN-LOGGING-001",
        disruptive: false,
    },
    Check {
        id: "win.firewall.profiles",
        title: "Windows Firewall Status",
        hipaa: &["164.312(a)(1)"],
        runbook: "RB-WIN-FIREWALL-001",
        disruptive: false,
    },
    Check {
        id: "win.encryption.bitlocker",
        title: "BitLocker Encryption",
        hipaa: &["164.312(a)(2)(iv)"],
        runbook: "RB-WIN-ENCRYPTION-001",
        disruptive: true,
    },
    Check {
        id: "win.ad.health",
        title: "Active Directory Health",
        hipaa: &["164.308(a)(4)", "164.312(a)(1)"],
        runbook: "RB-WIN-AD-001",
        disruptive: false,
    },
];

const LINUX: [Check; 6] = [
    Check {
        id: "linux.patch.apt",
        title: "Unattended security upgrades",
        hipaa: &["164.308(a)(5)(ii)(B)"],
        runbook: "RB-LNX-PATCH-001",
        disruptive: true,
    },
    Check {
        id: "linux.av.clamav",
        title: "ClamAV signatures and daemon",
        hipaa: &["164.308(a)(5)(ii)(B)"],
        runbook: "RB-LNX-AV-001",
        disruptive: false,
    },
    Check {
        id: "linux.backup.restic",
        title: "restic snapshot age",
        hipaa: &["164.308(a)(7)(ii)(A)"],
        runbook: "RB-LNX-BACKUP-001",
        disruptive: false,
    },
    Check {
        id: "linux.logging.auditd",
        title: "auditd and persistent journald",
        hipaa: &["164.312(b)"],
        runbook: "RB-LNX-LOGGING-001",
        disruptive: false,
    },
    Check {
        id: "linux.firewall.nftables",
        title: "nftables default deny",
        hipaa: &["164.312(a)(1)"],
        runbook: "RB-LNX-FIREWALL-001",
        disruptive: false,
    },
    Check {
        id: "linux.encryption.luks",
        title: "LUKS volume encryption",
        hipaa: &["164.312(a)(2)(iv)"],
        runbook: "RB-LNX-ENCRYPTION-001",
        disruptive: true,
    },
];

pub(crate) fn checks_for(host: &Host) -> &'static [Check] {
    if host.platform == "windows" {
        &WINDOWS
    } else {
        &LINUX
    }
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
pub(crate) fn drift(seed: &str, host: &Host, check: &Check, at: DateTime<Utc>) -> Drift {
    let digest = Sha256::digest(format!(
        "{seed}|{}|{}|{}",
        host.name,
        check.id,
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
