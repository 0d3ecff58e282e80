//! Any single change to an export fails verification, and the report names
//! the right appliance and seq; an untouched export always passes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use osiris_evidence::export::ExportFormat;
use osiris_evidence::verify::{NoProgress, Report, VerifyOptions, verify_export};
use osiris_evidence::{KeyPair, Sealer};
use proptest::prelude::*;

use crate::fixture;

const APPLIANCES: usize = 2;
const COUNT: u64 = 12;

/// One pristine export shared by every case; each case mutates a copy.
fn pristine() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture::write_export(
            &dir.path().join("export"),
            ExportFormat::Directory,
            APPLIANCES,
            COUNT,
        );
        (dir, path)
    });
    path
}

fn copy_of_pristine() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("export");
    for folder in ["bundles", "checkpoints"] {
        std::fs::create_dir_all(target.join(folder)).unwrap();
    }
    for entry in walk(pristine()) {
        let relative = entry.strip_prefix(pristine()).unwrap();
        std::fs::copy(&entry, target.join(relative)).unwrap();
    }
    (dir, target)
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

fn bundle_file(root: &Path, appliance: usize) -> PathBuf {
    root.join("bundles")
        .join(format!("{}.jsonl", fixture::appliance(appliance)))
}

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read(path)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    std::fs::write(path, bytes).unwrap();
}

fn verify(root: &Path) -> Report {
    verify_export(root, &VerifyOptions::default(), &NoProgress).unwrap()
}

fn assert_names(report: &Report, appliance: usize, seq: u64) {
    assert!(!report.ok, "tampering went unnoticed");
    let id = fixture::appliance(appliance).to_string();
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.appliance_id.as_deref() == Some(&id) && f.seq == Some(seq)),
        "no failure names appliance {appliance} seq {seq}: {:#?}",
        report.failures
    );
}

#[derive(Debug, Clone)]
enum Change {
    FlipByte {
        appliance: usize,
        line: usize,
        at: usize,
        mask: u8,
    },
    Remove {
        appliance: usize,
        line: usize,
    },
    Duplicate {
        appliance: usize,
        line: usize,
    },
    Swap {
        appliance: usize,
        line: usize,
    },
    InsertForged {
        appliance: usize,
        line: usize,
    },
    TruncateTail {
        appliance: usize,
        keep: usize,
    },
    CutMidLine {
        appliance: usize,
        at: usize,
    },
}

fn change() -> impl Strategy<Value = Change> {
    let appliance = 0..APPLIANCES;
    let line = 0..COUNT as usize;
    prop_oneof![
        (
            appliance.clone(),
            line.clone(),
            any::<usize>(),
            prop::sample::select(vec![0x01u8, 0x02, 0x20, 0x40, 0x80])
        )
            .prop_map(|(appliance, line, at, mask)| Change::FlipByte {
                appliance,
                line,
                at,
                mask
            }),
        (appliance.clone(), line.clone())
            .prop_map(|(appliance, line)| Change::Remove { appliance, line }),
        (appliance.clone(), line.clone())
            .prop_map(|(appliance, line)| Change::Duplicate { appliance, line }),
        (appliance.clone(), 0..COUNT as usize - 1)
            .prop_map(|(appliance, line)| Change::Swap { appliance, line }),
        (appliance.clone(), line.clone())
            .prop_map(|(appliance, line)| Change::InsertForged { appliance, line }),
        (appliance.clone(), 0..COUNT as usize)
            .prop_map(|(appliance, keep)| Change::TruncateTail { appliance, keep }),
        (appliance, any::<usize>())
            .prop_map(|(appliance, at)| Change::CutMidLine { appliance, at }),
    ]
}

/// Applies `change` and returns the seq the report must name.
fn apply(root: &Path, change: &Change) -> (usize, u64) {
    let seq_of = |line: usize| line as u64 + 1;
    match *change {
        Change::FlipByte {
            appliance,
            line,
            at,
            mask,
        } => {
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            let target = &mut lines[line];
            let at = at % target.len();
            let flipped = target[at] ^ mask;
            // A newline would split the line: a different change, tested apart.
            target[at] = if flipped == b'\n' {
                target[at] ^ 0x80
            } else {
                flipped
            };
            write_lines(&path, &lines);
            (appliance, seq_of(line))
        }
        Change::Remove { appliance, line } => {
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            lines.remove(line);
            write_lines(&path, &lines);
            (appliance, seq_of(line))
        }
        Change::Duplicate { appliance, line } => {
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            lines.insert(line, lines[line].clone());
            write_lines(&path, &lines);
            (appliance, seq_of(line))
        }
        Change::Swap { appliance, line } => {
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            lines.swap(line, line + 1);
            write_lines(&path, &lines);
            (appliance, seq_of(line))
        }
        Change::InsertForged { appliance, line } => {
            // A well-formed bundle for the same seq, signed by an intruder's key.
            let intruder = KeyPair::from_seed([0xee; 32]);
            let mut sealer = Sealer::new(
                &intruder,
                fixture::site(),
                fixture::appliance(appliance),
                None,
            );
            let mut forged = None;
            for n in 1..=seq_of(line) {
                forged = Some(sealer.seal(&fixture::draft(appliance, n)).unwrap());
            }
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            lines.insert(line, forged.unwrap().into_bytes());
            write_lines(&path, &lines);
            (appliance, seq_of(line))
        }
        Change::TruncateTail { appliance, keep } => {
            let path = bundle_file(root, appliance);
            let mut lines = read_lines(&path);
            lines.truncate(keep);
            write_lines(&path, &lines);
            (appliance, seq_of(keep))
        }
        Change::CutMidLine { appliance, at } => {
            let path = bundle_file(root, appliance);
            let bytes = std::fs::read(&path).unwrap();
            let cut = 1 + at % (bytes.len() - 2);
            std::fs::write(&path, &bytes[..cut]).unwrap();
            // Lines left whole: a cut just before a newline leaves the line
            // before it whole (a last line may lack its newline), so the
            // first bundle missing is the next one.
            let whole = bytes[..cut].iter().filter(|b| **b == b'\n').count()
                + usize::from(bytes[cut] == b'\n');
            (appliance, seq_of(whole.min(COUNT as usize - 1)))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_single_change_to_a_bundle_file_fails_and_names_appliance_and_seq(change in change()) {
        let (_dir, root) = copy_of_pristine();
        let (appliance, seq) = apply(&root, &change);
        assert_names(&verify(&root), appliance, seq);
    }
}

/// A case the property once found: the cut removes only the newline
/// after seq 11 and the line of seq 12, so seq 11 is whole and 12 missing.
#[test]
fn a_cut_at_a_newline_names_the_first_bundle_missing() {
    let (_dir, root) = copy_of_pristine();
    let bytes = std::fs::read(bundle_file(&root, 0)).unwrap();
    let newline_after_11 = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(10)
        .unwrap()
        .0;
    let change = Change::CutMidLine {
        appliance: 0,
        at: newline_after_11 - 1,
    };
    let (appliance, seq) = apply(&root, &change);
    assert_eq!((appliance, seq), (0, 12));
    assert_names(&verify(&root), appliance, seq);
}

#[test]
fn untouched_exports_of_any_shape_pass() {
    for (appliances, count) in [(1, 1), (1, 7), (3, 5), (2, 40)] {
        let dir = tempfile::tempdir().unwrap();
        let path = fixture::write_export(
            &dir.path().join("e"),
            ExportFormat::Directory,
            appliances,
            count,
        );
        let report = verify(&path);
        assert!(report.ok, "{appliances}x{count}: {:#?}", report.failures);
        assert_eq!(report.bundles_checked, appliances as u64 * count);
    }
}

#[test]
fn tar_gz_export_verifies_like_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture::write_export(&dir.path().join("e.tar.gz"), ExportFormat::TarGz, 2, 9);
    let report = verify(&path);
    assert!(report.ok, "{:#?}", report.failures);
    assert_eq!(report.bundles_checked, 18);
    let again = fixture::write_export(&dir.path().join("f.tar.gz"), ExportFormat::TarGz, 2, 9);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&again).unwrap(),
        "archives must be reproducible"
    );
}

fn edit_manifest(root: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = root.join("manifest.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut value);
    std::fs::write(&path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

#[test]
fn swapped_appliance_key_fails_every_bundle_of_that_appliance() {
    let (_dir, root) = copy_of_pristine();
    let other = KeyPair::from_seed([0x42; 32]).public_key().to_base64();
    edit_manifest(&root, |m| m["appliances"][1]["public_key"] = other.into());
    let report = verify(&root);
    assert!(report.failures.iter().any(|f| f.file == "manifest.sig"));
    for seq in 1..=COUNT {
        assert_names(&report, 1, seq);
    }
}

#[test]
fn every_manifest_edit_fails_the_manifest_signature() {
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "count",
            Box::new(|m| m["appliances"][0]["count"] = 11.into()),
        ),
        (
            "last_seq",
            Box::new(|m| m["appliances"][0]["last_seq"] = 11.into()),
        ),
        (
            "head_hash",
            Box::new(|m| m["appliances"][0]["head_hash"] = "0".repeat(64).into()),
        ),
        (
            "from",
            Box::new(|m| m["from"] = "2020-01-01T00:00:00.000Z".into()),
        ),
        (
            "drop appliance",
            Box::new(|m| {
                m["appliances"].as_array_mut().unwrap().pop();
            }),
        ),
    ];
    for (name, edit) in edits {
        let (_dir, root) = copy_of_pristine();
        edit_manifest(&root, edit);
        let report = verify(&root);
        assert!(!report.ok, "{name}");
        assert!(
            report.failures.iter().any(|f| f.file == "manifest.sig"),
            "{name}: {:#?}",
            report.failures
        );
    }
}

#[test]
fn reformatting_the_manifest_breaks_its_signature() {
    let (_dir, root) = copy_of_pristine();
    let path = root.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("  ", "   ")).unwrap();
    assert!(!verify(&root).ok);
}

#[test]
fn edited_checkpoint_fails_naming_appliance_and_seq() {
    let (_dir, root) = copy_of_pristine();
    let path = root
        .join("checkpoints")
        .join(format!("{}.json", fixture::appliance(0)));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value[1]["head_hash"] = "1".repeat(64).into();
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    assert_names(&verify(&root), 0, 10);
}

#[test]
fn removed_tail_is_caught_by_the_counts_and_the_checkpoints() {
    let (_dir, root) = copy_of_pristine();
    let path = bundle_file(&root, 0);
    let mut lines = read_lines(&path);
    lines.truncate(8);
    write_lines(&path, &lines);
    let report = verify(&root);
    assert_names(&report, 0, 9);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.what.contains("checkpoint at seq 10 is beyond")),
        "{:#?}",
        report.failures
    );
}

#[test]
fn tampered_manifest_signature_fails() {
    let (_dir, root) = copy_of_pristine();
    let sig = KeyPair::from_seed([1; 32]).sign_base64(b"other");
    std::fs::write(root.join("manifest.sig"), sig).unwrap();
    let report = verify(&root);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.file == "manifest.sig" && f.what.contains("does not verify"))
    );
}

#[test]
fn unlisted_bundle_file_fails() {
    let (_dir, root) = copy_of_pristine();
    std::fs::copy(bundle_file(&root, 0), root.join("bundles/extra.jsonl")).unwrap();
    let report = verify(&root);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.file == "bundles/extra.jsonl" && f.what.contains("not listed"))
    );
}
