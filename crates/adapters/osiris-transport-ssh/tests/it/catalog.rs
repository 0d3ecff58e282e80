//! Every Debian check of the shipped catalog, run for real over SSH against
//! this machine, judged by its criteria, and compared with what an
//! independent look at the machine (files read from Rust, other tools)
//! says the verdict must be. The RHEL family cannot run here; its recorded
//! outputs are judged in `osiris-catalog`'s tests (tests/data/detect/rhel.*).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Check, Evaluation, Outcome, Platform};
use osiris_testkit::linux::Sshd;
use osiris_testkit::linux::sshd::SSHD;
use osiris_transport::Transport;
use serde_json::Value;

use crate::transport::sh;

/// What the machine's real state says a check must conclude.
struct Expected {
    outcome: Outcome,
    /// Criteria that must be among the failed ones.
    failed: BTreeSet<&'static str>,
    /// Whether `failed` is the complete list (the oracle knows every fact).
    exact: bool,
}

impl Expected {
    fn unknown() -> Self {
        Self {
            outcome: Outcome::Unknown,
            failed: BTreeSet::new(),
            exact: true,
        }
    }

    /// Fail when a violation is known, else `otherwise`.
    fn from_failures(failed: BTreeSet<&'static str>, exact: bool, otherwise: Outcome) -> Self {
        let outcome = if failed.is_empty() {
            otherwise
        } else {
            Outcome::Fail
        };
        Self {
            outcome,
            failed,
            exact,
        }
    }
}

const PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

fn installed(tool: &str) -> bool {
    PATH.iter().any(|dir| Path::new(dir).join(tool).is_file())
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

fn stdout(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// The last `key <sep> number` setting of a config file, ignoring comments.
fn setting(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix(key)?;
            let rest = rest.trim_start().trim_start_matches('=').trim();
            rest.split_whitespace().next()?.parse().ok()
        })
        .next_back()
}

fn systemd_active(unit: &str) -> bool {
    succeeds("systemctl", &["is-active", unit])
}

fn accounts(_: DateTime<Utc>) -> Expected {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let other_roots = passwd.lines().any(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        fields.len() > 2 && fields[2] == "0" && fields[0] != "root"
    });
    let max_days = setting("/etc/login.defs", "PASS_MAX_DAYS");
    let min_len = setting("/etc/security/pwquality.conf", "minlen");
    let deny = setting("/etc/security/faillock.conf", "deny");
    let synced =
        stdout("timedatectl", &["show", "-p", "NTPSynchronized", "--value"]).trim() == "yes";
    let mut failed = BTreeSet::new();
    for (violated, id) in [
        (other_roots, "single-root"),
        // An absent policy setting is itself a violation (`missing: fail`).
        (max_days.is_none_or(|d| d > 365), "password-expiry"),
        (min_len.is_none_or(|l| l < 12), "password-length"),
        (deny.is_none_or(|d| d == 0), "lockout-enabled"),
        (deny.is_none_or(|d| d > 10), "lockout-threshold-low"),
        (!synced, "time-synchronised"),
    ] {
        if violated {
            failed.insert(id);
        }
    }
    Expected::from_failures(failed, true, Outcome::Pass)
}

fn antivirus(now: DateTime<Utc>) -> Expected {
    let database = ["/var/lib/clamav/daily.cld", "/var/lib/clamav/daily.cvd"]
        .iter()
        .find_map(|path| std::fs::metadata(path).ok());
    if !installed("freshclam") && database.is_none() {
        return Expected::unknown();
    }
    let fresh = database
        .as_ref()
        .and_then(|meta| meta.modified().ok())
        .is_some_and(|modified| {
            now - DateTime::<Utc>::from(modified) < chrono::Duration::hours(48)
        });
    let mut failed = BTreeSet::new();
    for (violated, id) in [
        (!fresh, "signatures-fresh"),
        (!systemd_active("clamav-freshclam"), "freshclam-running"),
        (!systemd_active("clamav-daemon"), "clamd-running"),
    ] {
        if violated {
            failed.insert(id);
        }
    }
    Expected::from_failures(failed, true, Outcome::Pass)
}

fn backup(_: DateTime<Utc>) -> Expected {
    if !Path::new("/etc/osiris/backup.env").exists() {
        return Expected::unknown();
    }
    // A configured repository needs restic or borg and its password file; the
    // oracle only knows that without the tool the facts cannot be collected.
    let text = std::fs::read_to_string("/etc/osiris/backup.env").unwrap();
    let tool = text
        .lines()
        .find_map(|l| l.strip_prefix("TOOL="))
        .unwrap_or("")
        .trim_matches('"');
    if !installed(tool) {
        return Expected::unknown();
    }
    Expected {
        outcome: Outcome::Fail,
        failed: BTreeSet::new(),
        exact: false,
    }
}

/// Whether a block device has a dm-crypt device among itself and the devices it sits on.
fn on_dm_crypt(name: &str) -> bool {
    let block = Path::new("/sys/class/block").join(name);
    let uuid = std::fs::read_to_string(block.join("dm/uuid")).unwrap_or_default();
    if uuid.starts_with("CRYPT-") {
        return true;
    }
    std::fs::read_dir(block.join("slaves"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|entry| on_dm_crypt(&entry.file_name().to_string_lossy()))
        })
        .unwrap_or(false)
}

fn source_encrypted(source: &str) -> bool {
    std::fs::canonicalize(source)
        .ok()
        .and_then(|device| device.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|name| on_dm_crypt(&name))
}

fn encryption(_: DateTime<Utc>) -> Expected {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let mut unencrypted = false;
    for target in ["/", "/var", "/home", "/srv"] {
        // The last mount on a path is the one in effect.
        if let Some(source) = mounts
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some((fields.next()?, fields.next()?))
            })
            .filter(|(_, point)| *point == target)
            .map(|(source, _)| source)
            .next_back()
        {
            unencrypted |= !source_encrypted(source);
        }
    }
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
    let swap_unencrypted = swaps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .any(|s| !source_encrypted(s));
    let mut failed = BTreeSet::new();
    if unencrypted {
        failed.insert("mounts-encrypted");
    }
    if swap_unencrypted {
        failed.insert("swap-encrypted");
    }
    // The cipher needs cryptsetup; the oracle does not judge it.
    Expected::from_failures(failed, false, Outcome::Pass)
}

fn firewall(_: DateTime<Utc>) -> Expected {
    if !installed("ufw") {
        return Expected::unknown();
    }
    let status = stdout("ufw", &["status", "verbose"]);
    let mut failed = BTreeSet::new();
    if !status.contains("Status: active") {
        failed.insert("ufw-active");
    }
    Expected::from_failures(failed, false, Outcome::Pass)
}

/// Judged from `nft -j list ruleset`, the JSON form the check does not read.
fn nftables(_: DateTime<Utc>) -> Expected {
    if !installed("nft") {
        return Expected::unknown();
    }
    let ruleset: Value = serde_json::from_str(&stdout("nft", &["-j", "list", "ruleset"])).unwrap();
    let dropping = ruleset["nftables"].as_array().unwrap().iter().any(|item| {
        let chain = &item["chain"];
        chain["hook"] == "input" && chain["type"] == "filter" && chain["policy"] == "drop"
    });
    let managers = ["ufw", "firewalld", "nftables"]
        .iter()
        .filter(|unit| systemd_active(unit))
        .count();
    let mut failed = BTreeSet::new();
    if !dropping {
        failed.insert("inbound-dropped");
    }
    if managers > 1 {
        failed.insert("one-firewall-manager");
    }
    Expected::from_failures(failed, true, Outcome::Pass)
}

fn logging(_: DateTime<Utc>) -> Expected {
    if !installed("auditctl") || !succeeds("auditctl", &["-s"]) {
        return Expected::unknown();
    }
    let mut failed = BTreeSet::new();
    if !systemd_active("auditd") {
        failed.insert("auditd-running");
    }
    if !Path::new("/var/log/journal").is_dir() {
        failed.insert("journal-persistent");
    }
    Expected::from_failures(failed, false, Outcome::Pass)
}

fn patching(now: DateTime<Utc>) -> Expected {
    // `apt list --upgradable` is a different front end over the same cache than
    // the check's simulated dist-upgrade.
    let security = stdout("apt", &["list", "--upgradable"])
        .lines()
        .filter(|l| l.contains("-security"))
        .count();
    let unattended_installed = stdout("dpkg-query", &["-W", "-f=${Status}", "unattended-upgrades"])
        .contains("install ok installed");
    let stale_reboot = std::fs::metadata("/var/run/reboot-required")
        .and_then(|meta| meta.modified())
        .is_ok_and(|since| now - DateTime::<Utc>::from(since) > chrono::Duration::days(7));
    let mut failed = BTreeSet::new();
    for (violated, id) in [
        (security > 0, "no-security-updates-pending"),
        (!unattended_installed, "automatic-updates"),
        (stale_reboot, "no-stale-reboot"),
    ] {
        if violated {
            failed.insert(id);
        }
    }
    Expected::from_failures(failed, !unattended_installed, Outcome::Pass)
}

/// Judged from `sshd -T` parsed here, independently of the check's awk.
fn sshd_hardening(_: DateTime<Utc>) -> Expected {
    let output = Command::new(SSHD).arg("-T").output().unwrap();
    if !output.status.success() {
        return Expected::unknown();
    }
    let text = String::from_utf8(output.stdout).unwrap();
    let effective = |key: &str| -> String {
        text.lines()
            .find_map(|line| {
                let (name, value) = line.split_once(' ')?;
                (name == key).then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let offered = |key: &str, weak: &dyn Fn(&str) -> bool| {
        effective(key)
            .split(',')
            .any(|name| !name.is_empty() && weak(name))
    };
    let weak_cipher = |name: &str| {
        name.ends_with("-cbc")
            || name.contains("-cbc@")
            || ["arcfour", "3des", "blowfish", "cast128"]
                .iter()
                .any(|legacy| name.starts_with(legacy))
    };
    let weak_mac = |name: &str| {
        name.contains("md5")
            || name.contains("ripemd")
            || (name.starts_with("hmac-sha1") && !name.contains("-etm@"))
    };
    let max_tries: Option<u64> = effective("maxauthtries").parse().ok();
    let mut failed = BTreeSet::new();
    for (violated, id) in [
        (
            !["no", "prohibit-password", "without-password"]
                .contains(&effective("permitrootlogin").as_str()),
            "root-login-restricted",
        ),
        (
            effective("passwordauthentication") != "no",
            "password-login-off",
        ),
        (
            effective("permitemptypasswords") != "no",
            "empty-passwords-refused",
        ),
        (max_tries.is_none_or(|n| n > 4), "few-auth-tries"),
        (effective("x11forwarding") != "no", "x11-forwarding-off"),
        (offered("ciphers", &weak_cipher), "strong-ciphers"),
        (offered("macs", &weak_mac), "strong-macs"),
    ] {
        if violated {
            failed.insert(id);
        }
    }
    Expected::from_failures(failed, true, Outcome::Pass)
}

fn oracle(check_id: &str) -> fn(DateTime<Utc>) -> Expected {
    match check_id {
        "deb.accounts.local" => accounts,
        "deb.av.clamav" => antivirus,
        "deb.backup.repo" => backup,
        "deb.encryption.luks" => encryption,
        "deb.firewall.ufw" => firewall,
        "deb.firewall.nftables" => nftables,
        "deb.logging.audit" => logging,
        "deb.patch.apt" => patching,
        "deb.ssh.sshd" => sshd_hardening,
        other => panic!("no oracle for the Debian check {other}: add one to this file"),
    }
}

fn judge(check: &Check, stdout: &str) -> (Evaluation, DateTime<Utc>) {
    let document: Value =
        serde_json::from_str(stdout).unwrap_or_else(|err| panic!("{}: {err}: {stdout}", check.id));
    assert_eq!(document["check"], check.id.as_str());
    // The host's own collection time is the reference for age criteria.
    let now: DateTime<Utc> = document["collected_utc"].as_str().unwrap().parse().unwrap();
    (check.criteria.evaluate(stdout, now), now)
}

#[tokio::test]
async fn every_debian_check_runs_over_ssh_and_reaches_the_verdict_this_machine_deserves() {
    let catalog = Catalog::embedded().unwrap();
    let sshd = Sshd::start();
    let mut ssh = sshd.connect_as_root().await;
    let checks: Vec<&Check> = catalog
        .checks()
        .values()
        .filter(|c| c.platform == Platform::Debian)
        .collect();
    assert!(checks.len() >= 7, "{} Debian checks", checks.len());
    for check in checks {
        let mut script = sh(&check.detect.script);
        script.timeout = check.detect.timeout.as_std();
        let output = ssh
            .run(&script)
            .await
            .unwrap_or_else(|err| panic!("{}: {err}", check.id));
        assert_eq!(
            output.exit_code,
            0,
            "{}: {}",
            check.id,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (evaluation, now) = judge(check, &stdout);
        let expected = oracle(&check.id)(now);
        let failed: BTreeSet<&str> = evaluation
            .failed
            .iter()
            .map(|f| f.criterion.as_str())
            .collect();
        assert_eq!(
            evaluation.outcome, expected.outcome,
            "{}: {stdout}\n{evaluation:#?}",
            check.id
        );
        if expected.exact {
            assert_eq!(failed, expected.failed, "{}: {stdout}", check.id);
        } else {
            assert!(
                failed.is_superset(&expected.failed),
                "{}: {failed:?} lacks {:?}: {stdout}",
                check.id,
                expected.failed
            );
        }
    }
    // The whole sweep used one login.
    assert_eq!(sshd.log().matches("Accepted publickey").count(), 1);
}
