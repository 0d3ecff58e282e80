use osiris_core::{CredentialId, SealedCredential, Secret, SiteId};
use osiris_vault::keyring::parse_key_file;
use osiris_vault::{Error, KeyRing};

const V1: &str = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const V2: &str = "v2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

fn ring(text: &str) -> KeyRing {
    parse_key_file("test keys", text).unwrap()
}

fn password() -> Secret<String> {
    Secret::new("correct horse battery staple".to_owned())
}

fn sealed_one() -> (KeyRing, SiteId, CredentialId, SealedCredential) {
    let ring = ring(V1);
    let (site, id) = (SiteId::random(), CredentialId::random());
    let sealed = ring.seal(site, id, &password()).unwrap();
    (ring, site, id, sealed)
}

#[track_caller]
fn assert_does_not_open(result: osiris_vault::Result<Secret<String>>, step: &str) {
    match result {
        Err(Error::Open { .. }) => {}
        other => panic!("{step}: expected Open error, got {other:?}"),
    }
}

#[test]
fn a_sealed_credential_opens_to_its_plaintext() {
    let (ring, site, id, sealed) = sealed_one();
    assert_eq!(sealed.key_version, 1);
    assert_eq!(sealed.ciphertext.len(), password().expose().len() + 16);
    assert!(
        !sealed
            .ciphertext
            .windows(8)
            .any(|w| w == b"correct ".as_slice()),
        "no plaintext in the ciphertext"
    );
    let opened = ring.open(site, id, &sealed).unwrap();
    assert_eq!(opened.expose(), password().expose());
}

#[test]
fn sealing_twice_uses_two_nonces() {
    let (ring, site, id, first) = sealed_one();
    let second = ring.seal(site, id, &password()).unwrap();
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);
}

#[test]
fn an_empty_secret_round_trips() {
    let ring = ring(V1);
    let (site, id) = (SiteId::random(), CredentialId::random());
    let sealed = ring.seal(site, id, &Secret::new(String::new())).unwrap();
    assert_eq!(ring.open(site, id, &sealed).unwrap().expose(), "");
}

#[test]
fn an_altered_ciphertext_tag_or_nonce_does_not_open() {
    let (ring, site, id, sealed) = sealed_one();
    for index in [0, sealed.ciphertext.len() - 1] {
        let mut altered = sealed.clone();
        altered.ciphertext[index] ^= 0x01;
        assert_does_not_open(ring.open(site, id, &altered), "a flipped ciphertext bit");
    }
    let mut truncated = sealed.clone();
    truncated.ciphertext.truncate(10);
    assert_does_not_open(ring.open(site, id, &truncated), "a truncated ciphertext");
    let mut altered = sealed;
    altered.nonce[23] ^= 0x80;
    assert_does_not_open(ring.open(site, id, &altered), "a flipped nonce bit");
}

#[test]
fn a_credential_does_not_open_for_another_site_or_another_id() {
    let (ring, site, id, sealed) = sealed_one();
    assert_does_not_open(
        ring.open(SiteId::random(), id, &sealed),
        "the row copied to another site",
    );
    assert_does_not_open(
        ring.open(site, CredentialId::random(), &sealed),
        "the row copied under another credential id",
    );
}

#[test]
fn a_credential_relabelled_with_another_key_version_does_not_open() {
    // Both versions hold the SAME key, so only the AAD tells them apart.
    let same_key = "v1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\
                    v2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let ring = ring(same_key);
    let (site, id) = (SiteId::random(), CredentialId::random());
    let mut sealed = ring.seal(site, id, &password()).unwrap();
    assert_eq!(sealed.key_version, 2);
    sealed.key_version = 1;
    assert_does_not_open(ring.open(site, id, &sealed), "version 2 relabelled 1");
}

#[test]
fn an_unknown_key_version_is_named() {
    let (_, site, id, mut sealed) = sealed_one();
    sealed.key_version = 7;
    let error = ring(V1).open(site, id, &sealed).unwrap_err();
    assert!(
        matches!(error, Error::UnknownKeyVersion { version: 7 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("key version 7"), "{error}");
}

#[test]
fn another_key_under_the_same_version_does_not_open() {
    let (_, site, id, sealed) = sealed_one();
    let other = ring("v1:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=");
    assert_does_not_open(other.open(site, id, &sealed), "another key");
}

#[test]
fn rotation_reseals_under_the_current_key_and_then_leaves_it() {
    let (old, site, id, sealed) = sealed_one();
    let rotated = ring(&format!("{V1}\n{V2}"));
    assert_eq!(rotated.current_version(), 2);
    let resealed = rotated
        .reseal(site, id, &sealed)
        .unwrap()
        .expect("a version 1 credential is re-sealed");
    assert_eq!(resealed.key_version, 2);
    assert_ne!(resealed.nonce, sealed.nonce);
    assert_eq!(
        rotated.open(site, id, &resealed).unwrap().expose(),
        password().expose()
    );
    assert!(rotated.reseal(site, id, &resealed).unwrap().is_none());
    assert!(
        matches!(
            old.open(site, id, &resealed),
            Err(Error::UnknownKeyVersion { version: 2 })
        ),
        "the old ring cannot open what the new key sealed"
    );
    let only_new = ring(V2);
    assert!(only_new.open(site, id, &resealed).is_ok());
}

#[test]
fn rotation_reports_a_damaged_credential_instead_of_skipping_it() {
    let (_, site, id, mut sealed) = sealed_one();
    sealed.ciphertext[0] ^= 1;
    let rotated = ring(&format!("{V1}\n{V2}"));
    assert!(matches!(
        rotated.reseal(site, id, &sealed),
        Err(Error::Open { version: 1 })
    ));
}

#[test]
fn keys_never_print() {
    let ring = ring(&format!("{V1}\n{V2}"));
    let shown = format!("{ring:?}");
    assert!(
        !shown.contains("AQEB") && !shown.contains("AgIC"),
        "{shown}"
    );
    assert!(!shown.contains("[1, 1, 1"), "{shown}");
    assert!(shown.contains("current_version: 2"), "{shown}");
}
