//! A committed export that must keep verifying, and that the current code
//! must reproduce byte for byte: the format cannot drift silently.
//! Regenerate deliberately with `OSIRIS_REGENERATE_GOLDEN=1 cargo test`.

use std::path::{Path, PathBuf};

use osiris_evidence::export::ExportFormat;
use osiris_evidence::verify::{NoProgress, VerifyOptions, verify_export};
use osiris_evidence::{KeyPair, PublicKey};

use crate::fixture;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden-export")
}

fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for folder in ["", "bundles", "checkpoints"] {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[test]
fn committed_golden_export_verifies_with_the_pinned_server_key() {
    let pinned = KeyPair::from_seed(fixture::SERVER_SEED).public_key();
    let options = VerifyOptions {
        server_key: Some(pinned),
    };
    let report = verify_export(&golden(), &options, &NoProgress).unwrap();
    assert!(report.ok, "{:#?}", report.failures);
    assert_eq!(report.bundles_checked, 24);
    assert_eq!(report.chains.len(), 2);
}

#[test]
fn golden_export_is_reproduced_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = fixture::write_export(
        &dir.path().join("golden-export"),
        ExportFormat::Directory,
        2,
        12,
    );
    if std::env::var_os("OSIRIS_REGENERATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(golden());
        std::fs::rename(&fresh, golden()).unwrap();
        return;
    }
    let (expected, actual) = (files(&golden()), files(&fresh));
    assert_eq!(expected.len(), actual.len());
    for ((name, want), (_, got)) in expected.iter().zip(&actual) {
        assert!(
            want == got,
            "{name} differs from the committed golden copy: the evidence format changed"
        );
    }
}

#[test]
fn golden_export_fails_against_another_pinned_server_key() {
    let other: PublicKey = KeyPair::from_seed([0x77; 32]).public_key();
    let report = verify_export(
        &golden(),
        &VerifyOptions {
            server_key: Some(other),
        },
        &NoProgress,
    )
    .unwrap();
    assert!(!report.ok);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.what.contains("not the expected server key"))
    );
}
