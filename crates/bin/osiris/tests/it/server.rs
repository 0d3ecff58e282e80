//! `osiris server` and `osiris admin` as an operator runs them.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn osiris_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn curl(ca: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--cacert"])
        .arg(ca)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_server_starts_on_embedded_defaults_and_prints_the_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["server", "--data-dir", data, "--listen", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("with password ").nth(1) {
            password = Some(rest.trim().to_owned());
            break;
        }
    }
    let password = password.expect("the first start prints the admin password");
    let ca = dir.path().join("tls/ca.pem");
    let base = format!("https://localhost:{port}");
    let health = curl(&ca, &[&format!("{base}/health")]);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let login = curl(
        &ca,
        &[
            "-H",
            "content-type: application/json",
            "-d",
            &format!("{{\"username\":\"admin\",\"password\":\"{password}\"}}"),
            &format!("{base}/api/auth/login"),
        ],
    );
    let login: serde_json::Value = serde_json::from_str(&login).unwrap();
    assert!(login["token"].as_str().unwrap().starts_with("oss_"));
    let openapi = curl(&ca, &[&format!("{base}/openapi.json")]);
    assert!(openapi.contains("/api/appliances") || openapi.contains("/api/sites"));
    child.kill().unwrap();
    child.wait().unwrap();

    // A second start reuses everything and prints no password.
    let mut again = Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(["server", "--data-dir", data, "--listen", &listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first_line = BufReader::new(again.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert!(first_line.contains("listening"), "{first_line}");
    curl(&ca, &[&format!("{base}/health")]);
    again.kill().unwrap();
    again.wait().unwrap();
}

#[test]
fn server_configuration_errors_name_the_setting_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = osiris_env(
        &["server", "--data-dir", data, "--listen", "127.0.0.1:0"],
        &[
            ("OSIRIS_AUTH__LOCKOUT_FAILURES", "0"),
            ("OSIRIS_ORDERS__TTL_MINUTES", "99"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("auth.lockout_failures"), "{stderr}");
    assert!(stderr.contains("orders.ttl_minutes"), "{stderr}");
    let out = osiris_env(&["server"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-dir"));
}

#[test]
fn admin_creates_users_resets_passwords_and_rotates_vault_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let weak = osiris_env(
        &[
            "admin",
            "create-user",
            "--data-dir",
            data,
            "--username",
            "ops",
            "--role",
            "operator",
            "--password-env",
            "PW",
        ],
        &[("PW", "short")],
    );
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("--password-env"));
    let created = osiris_env(
        &[
            "admin",
            "create-user",
            "--data-dir",
            data,
            "--username",
            "ops",
            "--role",
            "operator",
            "--password-env",
            "PW",
            "--json",
        ],
        &[("PW", "a long operator passphrase")],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let user: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(user["role"], "operator");
    let missing = osiris_env(
        &[
            "admin",
            "create-user",
            "--data-dir",
            data,
            "--username",
            "p",
            "--role",
            "partner",
            "--password-env",
            "PW",
        ],
        &[("PW", "a long operator passphrase")],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--partner-id"));
    let reset = osiris_env(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            data,
            "--username",
            "ops",
            "--password-env",
            "NEWPW",
        ],
        &[("NEWPW", "another long passphrase")],
    );
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let unknown = osiris_env(
        &[
            "admin",
            "reset-password",
            "--data-dir",
            data,
            "--username",
            "ghost",
            "--password-env",
            "NEWPW",
        ],
        &[("NEWPW", "another long passphrase")],
    );
    assert_eq!(unknown.status.code(), Some(2));
    for expected in [2, 3] {
        let rotated = osiris_env(&["admin", "rotate-keys", "--data-dir", data, "--json"], &[]);
        assert!(
            rotated.status.success(),
            "{}",
            String::from_utf8_lossy(&rotated.stderr)
        );
        let rotation: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
        assert_eq!(rotation["key_version"], expected);
    }
}
