use std::fs;
use std::os::unix::fs::PermissionsExt;

use osiris_core::{CredentialId, Secret, SiteId};
use osiris_vault::keyring::{
    add_key_version, create_key_file, load_key_file, parse_key_file, parse_key_variable,
};
use osiris_vault::{Error, KeyRing};
use proptest::prelude::*;

const KEY_1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

#[track_caller]
fn format_error(result: osiris_vault::Result<KeyRing>) -> (String, usize, String) {
    match result {
        Err(Error::KeyFormat {
            origin,
            line,
            reason,
        }) => (origin, line, reason),
        other => panic!("expected a KeyFormat error, got {other:?}"),
    }
}

#[test]
fn a_created_key_file_is_private_and_loads_back_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.keys");
    let created = create_key_file(&path).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let loaded = load_key_file(&path).unwrap();
    assert_eq!(loaded.current_version(), 1);
    let (site, id) = (SiteId::random(), CredentialId::random());
    let sealed = created
        .seal(site, id, &Secret::new("pw".to_owned()))
        .unwrap();
    assert_eq!(loaded.open(site, id, &sealed).unwrap().expose(), "pw");
}

#[test]
fn an_existing_key_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.keys");
    create_key_file(&path).unwrap();
    let before = fs::read(&path).unwrap();
    assert!(matches!(create_key_file(&path), Err(Error::KeyFile { .. })));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_key_file_others_can_access_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.keys");
    create_key_file(&path).unwrap();
    for mode in [0o640, 0o604, 0o620, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let error = load_key_file(&path).unwrap_err();
        assert!(
            matches!(error, Error::KeyFilePermissions { mode: found, .. } if found == mode),
            "{mode:o}: {error:?}"
        );
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }
}

#[test]
fn a_missing_key_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.keys");
    let error = load_key_file(&path).unwrap_err();
    assert!(matches!(error, Error::KeyFile { .. }), "{error:?}");
    assert!(error.to_string().contains("absent.keys"), "{error}");
}

#[test]
fn adding_a_key_version_keeps_the_old_keys_and_the_file_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.keys");
    let first = create_key_file(&path).unwrap();
    let (site, id) = (SiteId::random(), CredentialId::random());
    let sealed = first.seal(site, id, &Secret::new("pw".to_owned())).unwrap();
    let added = add_key_version(&path).unwrap();
    assert_eq!(added.current_version(), 2);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let loaded = load_key_file(&path).unwrap();
    assert_eq!(loaded.versions().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(loaded.open(site, id, &sealed).unwrap().expose(), "pw");
    let resealed = loaded.reseal(site, id, &sealed).unwrap().unwrap();
    assert_eq!(resealed.key_version, 2);
    assert_eq!(added.open(site, id, &resealed).unwrap().expose(), "pw");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no staging file left"
    );
}

#[test]
fn the_highest_version_is_current_whatever_the_order() {
    let text = format!("# keys\n\nv7:{KEY_2}\n  v3:{KEY_1}  \n");
    let ring = parse_key_file("vault.keys", &text).unwrap();
    assert_eq!(ring.current_version(), 7);
    assert_eq!(ring.versions().collect::<Vec<_>>(), [3, 7]);
}

#[test]
fn a_malformed_entry_names_the_file_and_line_but_not_the_key() {
    let cases = [
        (
            format!("v1:{KEY_1}\nv2 {KEY_2}"),
            2,
            "expected `v<N>:<base64 key>`",
        ),
        (format!("# c\n1:{KEY_1}"), 2, "`v<N>`"),
        (format!("v0:{KEY_1}"), 1, "from 1 to"),
        (format!("v+1:{KEY_1}"), 1, "from 1 to"),
        (format!("v4294967296:{KEY_1}"), 1, "from 1 to"),
        ("v1:AQEBAQ==".to_owned(), 1, "32 bytes, got 4"),
        ("v1:not base64!".to_owned(), 1, "not standard padded base64"),
        (
            format!("v1:{KEY_1}\n\nv1:{KEY_2}"),
            3,
            "already given on line 1",
        ),
    ];
    for (text, line, reason) in cases {
        let (origin, found_line, found_reason) =
            format_error(parse_key_file("/etc/osiris/vault.keys", &text));
        assert_eq!(origin, "/etc/osiris/vault.keys");
        assert_eq!(found_line, line, "{text:?}");
        assert!(found_reason.contains(reason), "{text:?}: {found_reason}");
        let message = parse_key_file("/etc/osiris/vault.keys", &text)
            .unwrap_err()
            .to_string();
        assert!(
            !message.contains("AQEB") && !message.contains("AgIC"),
            "{message}"
        );
        assert!(message.contains(&format!("line {line}")), "{message}");
    }
}

#[test]
fn a_file_without_keys_is_refused() {
    for text in ["", "# only a comment\n\n"] {
        assert!(matches!(
            parse_key_file("vault.keys", text),
            Err(Error::NoKeys { origin }) if origin == "vault.keys"
        ));
    }
}

#[test]
fn the_variable_takes_entries_or_one_bare_key() {
    let ring = parse_key_variable("OSIRIS_VAULT_KEYS", &format!("v1:{KEY_1},v2:{KEY_2}")).unwrap();
    assert_eq!(ring.current_version(), 2);
    let ring = parse_key_variable("OSIRIS_VAULT_KEYS", &format!("v1:{KEY_1} v2:{KEY_2}")).unwrap();
    assert_eq!(ring.versions().collect::<Vec<_>>(), [1, 2]);
    let bare = parse_key_variable("OSIRIS_VAULT_KEYS", &format!(" {KEY_1}\n")).unwrap();
    let entry = parse_key_file("f", &format!("v1:{KEY_1}")).unwrap();
    let (site, id) = (SiteId::random(), CredentialId::random());
    let sealed = bare.seal(site, id, &Secret::new("pw".to_owned())).unwrap();
    assert_eq!(entry.open(site, id, &sealed).unwrap().expose(), "pw");
}

#[test]
fn a_bad_variable_names_the_variable_and_entry() {
    let (origin, line, _) = format_error(parse_key_variable(
        "OSIRIS_VAULT_KEYS",
        &format!("v1:{KEY_1},v2:short"),
    ));
    assert_eq!((origin.as_str(), line), ("OSIRIS_VAULT_KEYS", 2));
    let (_, line, reason) = format_error(parse_key_variable("OSIRIS_VAULT_KEYS", "hunter2"));
    assert_eq!(line, 1);
    assert!(!reason.contains("hunter2"));
    assert!(matches!(
        parse_key_variable("OSIRIS_VAULT_KEYS", "  "),
        Err(Error::NoKeys { .. })
    ));
    assert!(matches!(
        osiris_vault::keyring::load_key_variable("OSIRIS_VAULT_TEST_SURELY_UNSET_VARIABLE"),
        Err(Error::KeyVariable { name }) if name == "OSIRIS_VAULT_TEST_SURELY_UNSET_VARIABLE"
    ));
}

proptest! {
    #[test]
    fn arbitrary_key_file_text_never_panics(text in "\\PC*") {
        let _ = parse_key_file("vault.keys", &text);
        let _ = parse_key_variable("OSIRIS_VAULT_KEYS", &text);
    }

    #[test]
    fn key_file_like_text_never_panics(
        lines in proptest::collection::vec(
            "(v[0-9+-]{0,11}|#|[a-z]{0,3})(:| )?[A-Za-z0-9+/=]{0,48}",
            0..6,
        ),
    ) {
        let text = lines.join("\n");
        if let Ok(ring) = parse_key_file("vault.keys", &text) {
            prop_assert!(ring.versions().count() <= lines.len());
        }
    }
}

#[test]
fn an_oversized_key_file_is_refused_before_parsing() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.keys");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    let comment = format!("# {}\n", "x".repeat(1000));
    for _ in 0..70 {
        file.write_all(comment.as_bytes()).unwrap();
    }
    file.write_all(format!("v1:{KEY_1}\n").as_bytes()).unwrap();
    let error = load_key_file(&path).unwrap_err();
    assert!(
        matches!(error, Error::KeyFileTooLarge { limit: 65536, .. }),
        "{error:?}"
    );
}
