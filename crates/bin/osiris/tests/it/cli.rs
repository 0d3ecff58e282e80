use std::path::Path;
use std::process::{Command, Output};

fn osiris(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(args)
        .output()
        .unwrap()
}

fn demo(data: &Path) -> serde_json::Value {
    let out = osiris(&[
        "demo",
        "--data-dir",
        data.to_str().unwrap(),
        "--days",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn demo_writes_keys_evidence_and_an_export_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(dir.path());
    assert_eq!(summary["verified"], true);
    assert!(summary["new_bundles"].as_u64().unwrap() >= 200, "{summary}");
    for key in ["appliance_key", "server_key"] {
        let path = summary[key].as_str().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{path}"
        );
    }
    let archive = summary["export_archive"].as_str().unwrap();
    let key = summary["server_public_key"].as_str().unwrap();
    let out = osiris(&["evidence", "verify", archive, "--server-key", key, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["bundles_checked"], summary["chain_length"]);
}

#[test]
fn a_second_demo_run_continues_the_same_chain() {
    let dir = tempfile::tempdir().unwrap();
    let first = demo(dir.path());
    let second = demo(dir.path());
    assert_eq!(first["site_id"], second["site_id"]);
    assert_eq!(
        second["chain_length"].as_u64().unwrap(),
        first["chain_length"].as_u64().unwrap() + second["new_bundles"].as_u64().unwrap()
    );
    assert_eq!(second["verified"], true);
}

#[test]
fn verify_exits_1_and_lists_failures_when_a_bundle_was_altered() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo(dir.path());
    let export = Path::new(summary["export_dir"].as_str().unwrap());
    let appliance = summary["appliance_id"].as_str().unwrap();
    let file = export.join("bundles").join(format!("{appliance}.jsonl"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"outcome\":\"fail\"", "\"outcome\":\"pass\"", 1),
    )
    .unwrap();
    let out = osiris(&["evidence", "verify", export.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("FAILED") && stdout.contains("signature does not verify"),
        "{stdout}"
    );
    assert!(stdout.contains(appliance));
}

#[test]
fn verify_exits_2_on_unusable_input_and_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let out = osiris(&["evidence", "verify", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(body["error"].as_str().unwrap().contains("manifest.json"));
    assert_eq!(osiris(&["evidence", "verify"]).status.code(), Some(2));
    let out = osiris(&["evidence", "verify", ".", "--server-key", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--server-key"));
}

#[test]
fn help_explains_commands_and_exit_codes() {
    let out = osiris(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("demo") && text.contains("evidence") && text.contains("Exit codes"),
        "{text}"
    );
    let out = osiris(&["evidence", "verify", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("--server-key") && text.contains("--json") && text.contains("Exits 0 only"),
        "{text}"
    );
}

#[test]
fn phi_scrub_removes_identifiers_from_stdin_with_a_stable_keyed_token() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("scrub.key");
    assert!(
        osiris(&["phi", "keygen", "--key-file", key.to_str().unwrap()])
            .status
            .success()
    );
    let scrub = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_osiris"))
            .args(["phi", "scrub", "--key-file", key.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let first = scrub("ticket: SSN 123-45-6789 on host 10.0.0.5\n");
    let second = scrub("SSN 123-45-6789\n");
    assert!(
        !first.contains("123-45-6789") && first.contains("10.0.0.5"),
        "{first}"
    );
    let token = first
        .split_whitespace()
        .find(|w| w.starts_with("[PHI:SSN:"))
        .unwrap();
    assert!(
        second.contains(token),
        "same key, same value, same token: {second}"
    );
    assert_eq!(
        osiris(&["phi", "keygen", "--key-file", key.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn lab_refuses_to_start_without_a_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args([
            "lab",
            "windows",
            "--listen",
            "127.0.0.1:0",
            "--user",
            "NVC\\admin",
            "--password-env",
            "OSIRIS_TEST_UNSET_PASSWORD",
        ])
        .env_remove("OSIRIS_TEST_UNSET_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OSIRIS_TEST_UNSET_PASSWORD is not set"));
}

#[test]
fn catalog_validate_accepts_the_built_in_catalog_and_lists_problems_in_a_broken_one() {
    let out = osiris(&["catalog", "validate", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("x.yaml"), "rules:\n  - id: L1-X\n    bogus: 1\n").unwrap();
    let out = osiris(&["catalog", "validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("x.yaml"), "{text}");
}

#[test]
fn rules_match_prints_the_decision_for_a_reference_rule_file_as_json() {
    use std::io::Write;
    let rules = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../engines/osiris-rules/tests/data/reference/sample_rules.yaml"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["rules", "match", "--rules", rules, "--incident", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let incident =
        r#"{"incident_type":"cpu_high","severity":"high","host":"x","details":{"cpu_percent":97}}"#;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(incident.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decision["matched"], "L1-CUSTOM-CPU-001", "{decision}");
}

#[test]
fn target_commands_need_exactly_one_transport_and_its_credentials() {
    assert_eq!(osiris(&["target", "test"]).status.code(), Some(2));
    let both = osiris(&[
        "target",
        "test",
        "--winrm",
        "http://127.0.0.1:1/wsman",
        "--ssh",
        "a@b",
        "--key-file",
        "k",
        "--user",
        "D\\u",
        "--password-env",
        "P",
    ]);
    assert_eq!(both.status.code(), Some(2));
    let no_user = osiris(&["target", "test", "--winrm", "http://127.0.0.1:1/wsman"]);
    assert_eq!(no_user.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_user.stderr).contains("--user"));
    let no_key = osiris(&[
        "target",
        "exec",
        "--ssh",
        "root@127.0.0.1",
        "--command",
        "true",
    ]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("--key-file"));
}

#[test]
fn target_test_reports_an_unreachable_ssh_host_as_255_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    // Port 1 on loopback: nothing listens there.
    let out = osiris(&[
        "target",
        "test",
        "--ssh",
        "root@127.0.0.1:1",
        "--key-file",
        key.to_str().unwrap(),
        "--known-hosts",
        dir.path().join("kh").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(255));
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}
