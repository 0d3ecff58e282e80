//! The catalog as shipped: every file loads, every reference resolves.

use std::path::Path;

use osiris_catalog::{Catalog, Disruptive, Platform};
use osiris_core::RunbookId;

fn catalog_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../catalog"))
}

#[test]
fn the_embedded_catalog_loads_with_every_reference_resolved() {
    let catalog = Catalog::embedded().unwrap_or_else(|err| panic!("{err}"));
    assert!(
        catalog.checks().len() >= 21,
        "{} checks",
        catalog.checks().len()
    );
    for check in catalog.checks().values() {
        let runbook = catalog.runbook(&check.runbook).unwrap();
        assert!(runbook.platforms.contains(&check.platform), "{}", check.id);
    }
    for (_, file) in catalog.rule_files() {
        for rule in &file.rules {
            let id: RunbookId = rule.runbook_id().unwrap().parse().unwrap();
            let runbook = catalog.runbook(&id).unwrap();
            assert!(
                runbook.platforms.contains(&rule.platform.unwrap()),
                "{}",
                rule.id
            );
        }
    }
}

#[test]
fn the_directory_on_disk_equals_the_embedded_catalog() {
    let embedded = Catalog::embedded().unwrap();
    let on_disk = Catalog::load_dir(catalog_dir()).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(embedded.checks(), on_disk.checks());
    assert_eq!(embedded.runbooks(), on_disk.runbooks());
    assert_eq!(embedded.rule_files(), on_disk.rule_files());
}

#[test]
fn the_seven_spec_checks_exist_for_windows_debian_and_rhel() {
    let catalog = Catalog::embedded().unwrap();
    let kinds = [
        "patching",
        "antivirus",
        "backup",
        "logging",
        "firewall",
        "encryption",
    ];
    for platform in [Platform::Windows, Platform::Debian, Platform::Rhel] {
        let types: Vec<&str> = catalog
            .checks()
            .values()
            .filter(|c| c.platform == platform)
            .map(|c| c.check_type.as_str())
            .collect();
        for kind in kinds {
            assert!(
                types.contains(&kind),
                "{platform} has no {kind} check: {types:?}"
            );
        }
        let directory = if platform == Platform::Windows {
            "ad_health"
        } else {
            "accounts"
        };
        assert!(
            types.contains(&directory),
            "{platform} has no {directory} check"
        );
    }
    for id in [
        "RB-WIN-PATCH-001",
        "RB-WIN-AV-001",
        "RB-WIN-BACKUP-001",
        "RB-WIN-LOGGING-001",
        "RB-WIN-FIREWALL-001",
        "RB-WIN-ENCRYPTION-001",
        "RB-WIN-AD-001",
    ] {
        assert!(
            catalog.runbook(&id.parse().unwrap()).is_some(),
            "{id} missing"
        );
    }
}

#[test]
fn patching_and_encryption_runbooks_are_disruptive() {
    let catalog = Catalog::embedded().unwrap();
    for check in catalog.checks().values() {
        let runbook = catalog.runbook(&check.runbook).unwrap();
        if matches!(check.check_type.as_str(), "patching" | "encryption") {
            assert_ne!(runbook.disruptive, Disruptive::No, "{}", runbook.id);
        }
    }
    let av = catalog.runbook(&"RB-WIN-AV-001".parse().unwrap()).unwrap();
    assert_eq!(av.disruptive, Disruptive::No);
}

#[test]
fn committed_json_schemas_match_the_rust_types() {
    let dir = catalog_dir().join("schema");
    for (name, generated) in osiris_catalog::schema::generate() {
        let path = dir.join(name);
        if std::env::var_os("OSIRIS_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `OSIRIS_UPDATE_SCHEMAS=1 cargo test -p osiris-catalog` and commit it",
            path.display()
        );
    }
}

#[test]
fn linux_detect_scripts_print_one_json_envelope_on_this_host() {
    // The Linux scripts are real sh: run each here (read-only by contract) and
    // check that whatever this host has installed, the output is one envelope
    // the criteria can judge.
    let catalog = Catalog::embedded().unwrap();
    let now: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for check in catalog
        .checks()
        .values()
        .filter(|c| c.platform != Platform::Windows)
    {
        let output = std::process::Command::new("timeout")
            .args(["120", "sh", "-c", &check.detect.script])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} exited {:?}",
            check.id,
            output.status
        );
        let stdout = String::from_utf8(output.stdout).unwrap();
        let document: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("{}: {err}: {stdout}", check.id));
        assert_eq!(document["check"], check.id.as_str());
        assert!(document["ok"].is_boolean(), "{}: {stdout}", check.id);
        assert!(document["facts"].is_object(), "{}: {stdout}", check.id);
        let _ = check.criteria.evaluate(&stdout, now);
    }
}

#[test]
fn every_dead_man_timer_a_remediation_starts_is_stopped_by_confirm_and_by_rollback() {
    // A revert timer left running undoes a verified heal minutes later.
    let catalog = Catalog::embedded().unwrap();
    let mut timers = 0;
    for runbook in catalog.runbooks().values() {
        let remediate = &runbook.steps.remediate.script;
        let Some(start) = remediate.find("systemd-run --unit=") else {
            continue;
        };
        timers += 1;
        let unit: String = remediate[start + "systemd-run --unit=".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let stop = format!("systemctl stop {unit}.timer");
        let confirm = runbook
            .steps
            .confirm
            .as_ref()
            .unwrap_or_else(|| panic!("{} starts {unit} but has no confirm step", runbook.id));
        assert!(confirm.script.contains(&stop), "{}: confirm", runbook.id);
        let rollback = runbook.steps.rollback.as_ref().unwrap();
        assert!(rollback.script.contains(&stop), "{}: rollback", runbook.id);
    }
    assert!(timers >= 2, "{timers} runbooks with a dead-man timer");
}
