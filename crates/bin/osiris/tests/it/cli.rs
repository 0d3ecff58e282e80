use std::path::Path;
use std::process::{Command, Output};

fn osiris(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(args)
        .output()
        .unwrap()
}

/// A small signed export (directory form) of one appliance's chain of
/// three bundles, the last of them a failed check.
fn small_export(dir: &Path) -> (std::path::PathBuf, String) {
    use osiris_core::{ApplianceId, BundleId, SiteId};
    use osiris_evidence::export::{ApplianceExport, ExportFormat, ExportWriter};
    use osiris_evidence::{BundleDraft, ChainHead, Checkpoint, KeyPair, Kind, Sealer};
    let appliance_key = KeyPair::load_or_create(&dir.join("appliance.pem")).unwrap();
    let server_key = KeyPair::load_or_create(&dir.join("server.pem")).unwrap();
    let (site, appliance) = (SiteId::random(), ApplianceId::random());
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
        .unwrap()
        .to_utc();
    let mut sealer = Sealer::new(&appliance_key, site, appliance, None);
    let mut head = None;
    let bundles: Vec<Vec<u8>> = ["pass", "pass", "fail"]
        .iter()
        .enumerate()
        .map(|(i, outcome)| {
            let draft = BundleDraft {
                bundle_id: BundleId::random(),
                created_at: start + chrono::Duration::minutes(i64::try_from(i).unwrap()),
                kind: Kind::Check,
                host: "dc01".into(),
                hipaa: Vec::new(),
                outcome: (*outcome).into(),
                detail: serde_json::json!({"check_id": "win.av.defender"}),
                artifacts: Vec::new(),
            };
            let sealed = sealer.seal(&draft).unwrap();
            head = Some(ChainHead {
                seq: sealed.seq(),
                hash: sealed.hash(),
            });
            sealed.bytes().to_vec()
        })
        .collect();
    let out = dir.join("export");
    let mut writer = ExportWriter::create(
        &out,
        ExportFormat::Directory,
        site,
        (start, start + chrono::Duration::hours(1)),
        start + chrono::Duration::hours(1),
        &server_key,
    )
    .unwrap();
    writer
        .add_appliance(ApplianceExport {
            appliance_id: appliance,
            public_key: &appliance_key.public_key(),
            bundles: bundles.iter(),
            checkpoints: &[Checkpoint::sign(
                appliance,
                head.unwrap(),
                start + chrono::Duration::hours(1),
                &server_key,
            )
            .unwrap()],
        })
        .unwrap();
    writer.finish().unwrap();
    (out, appliance.to_string())
}

#[test]
fn verify_exits_1_and_lists_failures_when_a_bundle_was_altered() {
    let dir = tempfile::tempdir().unwrap();
    let (export, appliance) = small_export(dir.path());
    let out = osiris(&["evidence", "verify", export.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
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
    assert!(stdout.contains(&appliance));
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
