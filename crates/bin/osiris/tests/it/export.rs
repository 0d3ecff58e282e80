//! `osiris evidence export` over a server's data directory, checked by
//! `osiris evidence verify`: a real appliance's chain verifies; a bundle
//! removed from the WORM store below the server is named by appliance and
//! seq.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::agent::enrolled_appliance;

fn osiris(args: &[&str], paths: &[&Path]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_osiris"))
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_export_verifies_and_a_bundle_removed_below_the_server_is_caught() {
    let appliance = enrolled_appliance(64).await;
    let out = appliance.run("run", &["--once", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rounds = 0;
    loop {
        let (code, report, out) = appliance.checkin().await;
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        if report["queued_bundles"] == 0 {
            break;
        }
        rounds += 1;
        assert!(rounds < 50, "{report}");
    }
    let chain = appliance.stored_after(0).await;
    assert!(chain.len() >= 5, "{chain:?}");
    let data = appliance.server.dir.path();
    let site = appliance.site.tenant.site.clone();
    let exports = tempfile::tempdir().unwrap();

    let archive = exports.path().join("clinic.tar.gz");
    let out = osiris(
        &[
            "evidence",
            "export",
            "--site",
            &site,
            "--format",
            "tar.gz",
            "--json",
            "--data-dir",
        ],
        &[data, Path::new("--out"), &archive],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true);
    let out = osiris(&["evidence", "verify"], &[&archive]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{} bundles", chain.len())),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // One bundle alone, by its inclusion proof under the signed root.
    let clean = exports.path().join("clean");
    let out = osiris(
        &["evidence", "export", "--site", &site, "--data-dir"],
        &[data, Path::new("--out"), &clean],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = &appliance.site.appliance_id;
    let lines = std::fs::read_to_string(clean.join(format!("bundles/{id}.jsonl"))).unwrap();
    let bundle = exports.path().join("seq2.json");
    std::fs::write(&bundle, lines.lines().nth(1).unwrap()).unwrap();
    let out = osiris(
        &["evidence", "verify-bundle"],
        &[&bundle, Path::new("--export"), &clean],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("appliance {id} seq 2 is leaf 1 of")),
        "{text}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(clean.join("manifest.json")).unwrap()).unwrap();
    let root = manifest["appliances"][0]["merkle_root"].as_str().unwrap();
    let proofs = std::fs::read_to_string(clean.join(format!("proofs/{id}.jsonl"))).unwrap();
    let proof = exports.path().join("seq2.proof");
    std::fs::write(&proof, proofs.lines().nth(1).unwrap()).unwrap();
    let ok = osiris(
        &["evidence", "verify-bundle", "--root", root, "--proof"],
        &[&proof, &bundle],
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The next bundle does not pass for seq 2, nor seq 2 under another root.
    let third = exports.path().join("seq3.json");
    std::fs::write(&third, lines.lines().nth(2).unwrap()).unwrap();
    let other = "0".repeat(64);
    for (bundle, root) in [(&third, root), (&bundle, other.as_str())] {
        let out = osiris(
            &["evidence", "verify-bundle", "--root", root, "--proof"],
            &[&proof, bundle],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // Tampering below the server: seq 3's object is removed from the store.
    let object = data.join(format!(
        "evidence/objects/evidence/{site}/{}/{:020}.json",
        appliance.site.appliance_id, 3
    ));
    std::fs::remove_file(&object).unwrap();
    let folder = exports.path().join("tampered");
    let out = osiris(
        &["evidence", "export", "--site", &site, "--data-dir"],
        &[data, Path::new("--out"), &folder],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = osiris(&["evidence", "verify"], &[&folder]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines().any(|line| line
            .contains(&format!("appliance {}  seq 3", appliance.site.appliance_id))),
        "{text}"
    );
}
