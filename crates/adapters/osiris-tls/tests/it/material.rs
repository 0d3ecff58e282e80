//! Certificate files: made on first start, reused, re-issued, refused.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use chrono::Duration;
use osiris_tls::{Error, Origin, TlsMaterial};

use crate::support::{names, t0};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed for these tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn first_start_creates_the_ca_and_server_files_with_private_keys_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    let material = TlsMaterial::load_or_create(&tls_dir, &[], t0()).unwrap();
    assert_eq!(material.origin(), Origin::Created);
    assert_eq!(mode(&tls_dir), 0o700);
    assert_eq!(mode(&tls_dir.join("ca.key")), 0o600);
    assert_eq!(mode(&tls_dir.join("server.key")), 0o600);
    assert_eq!(material.certificate_chain().len(), 2);
    material.server_config().unwrap();
}

#[test]
fn openssl_agrees_on_the_chain_names_and_ca_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let material =
        TlsMaterial::load_or_create(dir.path(), &names(&["cc.example.org", "10.0.0.5"]), t0())
            .unwrap();
    let ca = dir.path().join("ca.pem");
    let server = dir.path().join("server.pem");
    // The certificates are valid from t0 (the test's fixed time), which may
    // be in the future of the machine's clock: check at t0.
    let at = (t0() + Duration::hours(1)).timestamp().to_string();
    let verified = openssl(&[
        "verify",
        "-attime",
        &at,
        "-purpose",
        "sslserver",
        "-CAfile",
        ca.to_str().unwrap(),
        server.to_str().unwrap(),
    ]);
    assert!(verified.contains(": OK"), "{verified}");
    let text = openssl(&["x509", "-in", server.to_str().unwrap(), "-noout", "-text"]);
    assert!(text.contains("DNS:cc.example.org"), "{text}");
    assert!(text.contains("IP Address:10.0.0.5"), "{text}");
    let fingerprint = openssl(&[
        "x509",
        "-in",
        ca.to_str().unwrap(),
        "-noout",
        "-fingerprint",
        "-sha256",
    ]);
    let hex: String = fingerprint
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_ascii_lowercase();
    assert_eq!(material.ca_fingerprint().unwrap().to_string(), hex);
}

#[test]
fn second_start_reuses_the_ca_and_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let server_pem = fs::read(dir.path().join("server.pem")).unwrap();
    let second = TlsMaterial::load_or_create(dir.path(), &[], t0() + Duration::days(100)).unwrap();
    assert_eq!(second.origin(), Origin::Loaded);
    assert_eq!(first.ca_fingerprint(), second.ca_fingerprint());
    assert_eq!(fs::read(dir.path().join("server.pem")).unwrap(), server_pem);
    assert_eq!(first.certificate_chain(), second.certificate_chain());
}

#[test]
fn a_server_certificate_expiring_within_thirty_days_is_reissued_under_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let later = t0() + Duration::days(340);
    let renewed = TlsMaterial::load_or_create(dir.path(), &[], later).unwrap();
    assert_eq!(renewed.origin(), Origin::Reissued);
    assert_eq!(first.ca_fingerprint(), renewed.ca_fingerprint());
    assert_ne!(first.certificate_chain()[0], renewed.certificate_chain()[0]);
    // The new certificate is good for another year from `later`.
    let again = TlsMaterial::load_or_create(dir.path(), &[], later + Duration::days(300)).unwrap();
    assert_eq!(again.origin(), Origin::Loaded);
}

#[test]
fn a_change_of_names_reissues_the_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let same =
        TlsMaterial::load_or_create(dir.path(), &names(&["127.0.0.1", "LOCALHOST"]), t0()).unwrap();
    assert_eq!(same.origin(), Origin::Loaded);
    let renamed =
        TlsMaterial::load_or_create(dir.path(), &names(&["cc.example.org"]), t0()).unwrap();
    assert_eq!(renamed.origin(), Origin::Reissued);
    assert_eq!(first.ca_fingerprint(), renamed.ca_fingerprint());
}

#[test]
fn a_group_readable_key_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let key = dir.path().join("server.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    let err = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap_err();
    assert!(
        matches!(err, Error::KeyFileTooOpen { mode: 0o640, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("server.key"), "{err}");
}

#[test]
fn a_ca_certificate_without_its_key_is_refused_rather_than_replaced() {
    let dir = tempfile::tempdir().unwrap();
    TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let ca_pem = fs::read(dir.path().join("ca.pem")).unwrap();
    fs::remove_file(dir.path().join("ca.key")).unwrap();
    let err = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap_err();
    assert!(matches!(err, Error::CaKeyMissing { .. }), "{err}");
    assert_eq!(fs::read(dir.path().join("ca.pem")).unwrap(), ca_pem);
}

#[test]
fn a_lost_server_key_gets_a_new_key_and_certificate_under_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let first = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    fs::remove_file(dir.path().join("server.key")).unwrap();
    let second = TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    assert_eq!(second.origin(), Origin::Reissued);
    assert_eq!(first.ca_fingerprint(), second.ca_fingerprint());
    assert_ne!(first.certificate_chain()[0], second.certificate_chain()[0]);
}

#[test]
fn an_invalid_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = TlsMaterial::load_or_create(dir.path(), &names(&["not a/name"]), t0()).unwrap_err();
    assert!(matches!(err, Error::BadName { .. }), "{err}");
}

#[test]
fn operator_files_load_and_have_no_ca_to_pin() {
    let dir = tempfile::tempdir().unwrap();
    TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let material = TlsMaterial::from_operator_files(
        &dir.path().join("server.pem"),
        &dir.path().join("server.key"),
    )
    .unwrap();
    assert_eq!(material.origin(), Origin::Operator);
    assert_eq!(material.ca_fingerprint(), None);
    assert_eq!(material.certificate_chain().len(), 2);
    material.server_config().unwrap();
}

#[test]
fn an_operator_key_that_does_not_match_the_certificate_is_refused_naming_both_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    TlsMaterial::load_or_create(a.path(), &[], t0()).unwrap();
    TlsMaterial::load_or_create(b.path(), &[], t0()).unwrap();
    let cert = a.path().join("server.pem");
    let key = b.path().join("server.key");
    let err = TlsMaterial::from_operator_files(&cert, &key).unwrap_err();
    assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(cert.to_str().unwrap()), "{message}");
    assert!(message.contains(key.to_str().unwrap()), "{message}");
}

#[test]
fn unreadable_or_malformed_operator_files_are_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    TlsMaterial::load_or_create(dir.path(), &[], t0()).unwrap();
    let key = dir.path().join("server.key");
    let missing = dir.path().join("missing.pem");
    let err = TlsMaterial::from_operator_files(&missing, &key).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let garbage = dir.path().join("garbage.pem");
    fs::write(&garbage, "not a certificate\n").unwrap();
    let err = TlsMaterial::from_operator_files(&garbage, &key).unwrap_err();
    assert!(matches!(err, Error::BadFile { .. }), "{err}");
    assert!(err.to_string().contains("garbage.pem"), "{err}");

    // A certificate where the key should be.
    let cert = dir.path().join("server.pem");
    let wrong_key = dir.path().join("wrong.key");
    fs::copy(&cert, &wrong_key).unwrap();
    fs::set_permissions(&wrong_key, fs::Permissions::from_mode(0o600)).unwrap();
    let err = TlsMaterial::from_operator_files(&cert, &wrong_key).unwrap_err();
    assert!(err.to_string().contains("wrong.key"), "{err}");
}
