//! Broken input gets a precise error naming file, line and field; nothing
//! panics, whatever the bytes.

use std::io::Write;
use std::path::Path;

use osiris_evidence::export::ExportFormat;
use osiris_evidence::parse::parse_bundle;
use osiris_evidence::verify::{MAX_LINE_BYTES, NoProgress, Report, VerifyOptions, verify_export};
use osiris_evidence::{Error, KeyPair, Sealer};
use proptest::prelude::*;

use crate::fixture;

fn export(appliances: usize, count: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture::write_export(
        &dir.path().join("e"),
        ExportFormat::Directory,
        appliances,
        count,
    );
    (dir, path)
}

fn verify(root: &Path) -> Result<Report, Error> {
    verify_export(root, &VerifyOptions::default(), &NoProgress)
}

fn one_bundle() -> String {
    let key = KeyPair::from_seed([1; 32]);
    let mut sealer = Sealer::new(&key, fixture::site(), fixture::appliance(0), None);
    String::from_utf8(sealer.seal(&fixture::draft(0, 1)).unwrap().into_bytes()).unwrap()
}

/// `(input, field named, words in the reason)`.
fn check(line: &str, field: Option<&str>, reason: &str) {
    let err = parse_bundle(line.as_bytes()).unwrap_err();
    assert_eq!(err.field.as_deref(), field, "{line}: {err}");
    assert!(err.to_string().contains(reason), "{line}: {err}");
}

#[test]
fn malformed_bundle_lines_name_the_field_at_fault() {
    let good = one_bundle();
    let value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut object = value.as_object().unwrap().clone();
        edit(&mut object);
        serde_json::to_string(&object).unwrap()
    };
    check("not json", None, "expected ident");
    check("{\"schema\":", Some("schema"), "EOF");
    check(
        &with(&|o| {
            o.remove("seq");
        }),
        None,
        "missing field `seq`",
    );
    check(
        &with(&|o| {
            o.insert("seq".into(), "7".into());
        }),
        Some("seq"),
        "invalid type: string",
    );
    check(
        &with(&|o| {
            o.insert("seq".into(), (-1).into());
        }),
        Some("seq"),
        "invalid value",
    );
    check(
        &with(&|o| {
            o.insert("schema".into(), "osiris.evidence.v0".into());
        }),
        Some("schema"),
        "expected \"osiris.evidence.v1\"",
    );
    check(
        &with(&|o| {
            o.insert("prev_hash".into(), "ABC".into());
        }),
        Some("prev_hash"),
        "64 lowercase hex",
    );
    check(
        &with(&|o| {
            o.insert("created_at".into(), "yesterday".into());
        }),
        Some("created_at"),
        "RFC 3339",
    );
    check(
        &with(&|o| {
            o.insert("created_at".into(), "2026-11-01T00:00:00+01:00".into());
        }),
        Some("created_at"),
        "UTC",
    );
    check(
        &with(&|o| {
            o.insert("site_id".into(), "x".into());
        }),
        Some("site_id"),
        "UUID",
    );
    check(
        &with(&|o| {
            o.insert("kind".into(), "party".into());
        }),
        Some("kind"),
        "unknown variant",
    );
    check(
        &with(&|o| {
            o.insert("hipaa".into(), serde_json::json!(["HIPAA"]));
        }),
        Some("hipaa[0]"),
        "invalid HIPAA citation",
    );
    check(
        &with(&|o| {
            o.insert("detail".into(), serde_json::json!([1]));
        }),
        Some("detail"),
        "JSON object",
    );
    check(
        &with(&|o| {
            o["signature"]["sig"] = "not base64!".into();
        }),
        Some("signature.sig"),
        "base64",
    );
    check(
        &with(&|o| {
            o["signature"]["sig"] = "AAAA".into();
        }),
        Some("signature.sig"),
        "64-byte",
    );
    check(
        &with(&|o| {
            o["signature"]["alg"] = "rsa".into();
        }),
        Some("signature.alg"),
        "ed25519",
    );
    check(
        &with(&|o| {
            o["signature"]["key_id"] = "xyz".into();
        }),
        Some("signature.key_id"),
        "16 lowercase hex",
    );
    check(
        &with(&|o| {
            o["signature"]["extra"] = 1.into();
        }),
        Some("signature"),
        "unknown field",
    );
    check(
        &with(&|o| {
            o["artifacts"] = serde_json::json!([{"name": "x"}]);
        }),
        Some("artifacts"),
        "missing field",
    );
    check(
        &good.replace(",\"signature\":{", ", \"signature\":{"),
        Some("signature"),
        "canonical",
    );
}

#[test]
fn a_broken_line_in_an_export_is_reported_with_file_line_and_seq() {
    let (_dir, root) = export(1, 5);
    let path = root
        .join("bundles")
        .join(format!("{}.jsonl", fixture::appliance(0)));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen("\"seq\":3", "\"seq\":\"3\"", 1);
    lines[3] = String::new();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let report = verify(&root).unwrap();
    let file = format!("bundles/{}.jsonl", fixture::appliance(0));
    let third = report.failures.iter().find(|f| f.line == Some(3)).unwrap();
    assert_eq!((third.file.as_str(), third.seq), (file.as_str(), Some(3)));
    assert!(third.what.contains("field `seq`"), "{}", third.what);
    let fourth = report.failures.iter().find(|f| f.line == Some(4)).unwrap();
    assert_eq!(fourth.seq, Some(4));
    assert!(fourth.what.contains("empty line"));
}

#[test]
fn an_oversized_line_is_refused_without_stopping_the_walk() {
    let (_dir, root) = export(1, 3);
    let path = root
        .join("bundles")
        .join(format!("{}.jsonl", fixture::appliance(0)));
    let original = std::fs::read(&path).unwrap();
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&vec![b'x'; MAX_LINE_BYTES + 10]).unwrap();
    file.write_all(b"\n").unwrap();
    file.write_all(&original).unwrap();
    drop(file);
    let report = verify(&root).unwrap();
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.line == Some(1) && f.what.contains("longer than"))
    );
    assert_eq!(report.bundles_checked, 4);
}

#[test]
fn missing_manifest_is_unusable_input() {
    let (_dir, root) = export(1, 2);
    std::fs::remove_file(root.join("manifest.json")).unwrap();
    let err = verify(&root).unwrap_err().to_string();
    assert!(
        err.contains("manifest.json") && err.contains("osiris.export.v1"),
        "{err}"
    );
}

#[test]
fn malformed_manifest_is_unusable_and_names_line_column_and_field() {
    let (_dir, root) = export(1, 2);
    let path = root.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"count\": 2", "\"count\": \"two\"", 1),
    )
    .unwrap();
    let err = verify(&root).unwrap_err().to_string();
    assert!(
        err.contains("appliances[0].count") && err.contains("manifest.json:"),
        "{err}"
    );
    std::fs::write(&path, "{\"schema\": \"osiris.export.v9\"").unwrap();
    assert!(
        verify(&root)
            .unwrap_err()
            .to_string()
            .contains("manifest.json:1:")
    );
    std::fs::write(
        &path,
        text.replacen("osiris.export.v1", "osiris.export.v9", 1),
    )
    .unwrap();
    assert!(
        verify(&root)
            .unwrap_err()
            .to_string()
            .contains("unsupported schema")
    );
}

#[test]
fn malformed_checkpoints_are_a_failure_naming_the_file() {
    let (_dir, root) = export(1, 2);
    let file = format!("checkpoints/{}.json", fixture::appliance(0));
    std::fs::write(root.join(&file), "[{\"appliance_id\": 3}]").unwrap();
    let report = verify(&root).unwrap();
    let failure = report.failures.iter().find(|f| f.file == file).unwrap();
    assert!(
        failure.what.contains("[0].appliance_id"),
        "{}",
        failure.what
    );
}

#[test]
fn neither_directory_nor_archive_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.txt");
    std::fs::write(&path, "hello").unwrap();
    assert!(
        verify(&path)
            .unwrap_err()
            .to_string()
            .contains("not a directory or a .tar.gz")
    );
    assert!(
        verify(&dir.path().join("absent"))
            .unwrap_err()
            .to_string()
            .contains("cannot open")
    );
}

#[test]
fn archive_entries_escaping_the_export_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.tar.gz");
    let file = std::fs::File::create(&path).unwrap();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    let body = b"{}";
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // `append_data` refuses `..`, so write the raw name as an attacker would.
    header.as_gnu_mut().unwrap().name[..16].copy_from_slice(b"../manifest.json");
    header.set_cksum();
    builder.append(&header, &body[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(err.contains("escapes the export"), "{err}");
}

#[test]
fn truncated_archive_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture::write_export(&dir.path().join("e.tar.gz"), ExportFormat::TarGz, 1, 30);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = verify(&path).unwrap_err().to_string();
    assert!(err.contains("damaged archive"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The fuzz target for the bundle parser: arbitrary bytes never panic.
    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_bundle(&bytes);
    }

    /// Arbitrary mutations of a real bundle never panic the parser.
    #[test]
    fn parsing_mutated_bundles_never_panics(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = one_bundle().into_bytes();
        for (at, byte) in edits {
            let len = bytes.len();
            bytes[at % len] = byte;
        }
        let _ = parse_bundle(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The fuzz target for the export reader: arbitrary manifest, bundle,
    /// checkpoint and signature files give a report or an error, never a panic.
    #[test]
    fn verifying_arbitrary_export_files_never_panics(
        manifest in prop::collection::vec(any::<u8>(), 0..512),
        bundles in prop::collection::vec(any::<u8>(), 0..2048),
        checkpoints in prop::collection::vec(any::<u8>(), 0..512),
        which in 0..4usize,
    ) {
        let (_dir, root) = export(1, 3);
        let id = fixture::appliance(0);
        let targets = [
            root.join("manifest.json"),
            root.join(format!("bundles/{id}.jsonl")),
            root.join(format!("checkpoints/{id}.json")),
            root.join("manifest.sig"),
        ];
        let content = [&manifest, &bundles, &checkpoints, &checkpoints][which];
        std::fs::write(&targets[which], content).unwrap();
        if let Ok(report) = verify(&root) {
            prop_assert!(!report.ok);
        }
    }

    #[test]
    fn arbitrary_archive_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if bytes.len() >= 2 { bytes[0] = 0x1f; bytes[1] = 0x8b; }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tar.gz");
        std::fs::write(&path, &bytes).unwrap();
        let _ = verify(&path);
    }
}
