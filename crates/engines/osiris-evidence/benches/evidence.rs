#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
//! Evidence costs, each beside its baseline measured in the same run:
//!
//! - `seal/*`: sealing a bundle (canonicalize + hash + sign) vs a raw
//!   Ed25519 signature over a message of the same size. Target: ≤ 2×.
//! - `verify/*`: verifying an export vs raw batch signature verification
//!   of the same signatures on the same cores. Target: ≤ 1.5×.
//! - `verify_million/*` (only with `OSIRIS_BENCH_MILLION=1`): the same for
//!   1,000,000 bundles. Target: ≤ 20 s on 2 cores.

use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use osiris_core::{ApplianceId, BundleId, SiteId};
use osiris_evidence::export::{ApplianceExport, ExportFormat, ExportWriter};
use osiris_evidence::parse::parse_bundle;
use osiris_evidence::verify::{NoProgress, VerifyOptions, verify_export};
use osiris_evidence::{Artifact, BundleDraft, ChainHead, Checkpoint, KeyPair, Kind, Sealer};
use rayon::prelude::*;
use serde_json::json;

fn draft(n: u64) -> BundleDraft {
    BundleDraft {
        bundle_id: BundleId::random(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
            + Duration::seconds(i64::try_from(n).unwrap()),
        kind: Kind::Remediation,
        host: "NVC-DC01".into(),
        hipaa: vec!["164.312(a)(1)".parse().unwrap()],
        outcome: "verified".into(),
        detail: json!({
            "check_id": "win.firewall.profiles", "runbook_id": "RB-WIN-FIREWALL-001", "tier": "L1",
            "rule_id": "L1-FIREWALL-001", "pre": {"Domain": false, "Private": true, "Public": true},
            "post": {"Domain": true, "Private": true, "Public": true}, "duration_ms": 812
        }),
        artifacts: vec![Artifact::of(
            "stdout",
            b"{\"profiles\":[{\"name\":\"Domain\",\"enabled\":true}]}",
        )],
    }
}

fn seal(c: &mut Criterion) {
    let key = KeyPair::from_seed([1; 32]);
    let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
    let sample = sealer.seal(&draft(0)).unwrap();
    let message = vec![b'x'; sample.bytes().len() - 120];
    let drafts: Vec<BundleDraft> = (0..1024).map(draft).collect();
    let sealer = std::cell::RefCell::new(sealer);
    let (ratio, _) = paired(
        15,
        || {
            (0..2000).for_each(|_| {
                std::hint::black_box(key.sign(std::hint::black_box(&message)));
            })
        },
        || {
            drafts
                .iter()
                .cycle()
                .take(2000)
                .for_each(|d| drop(sealer.borrow_mut().seal(d).unwrap()))
        },
    );
    println!(
        "seal: sealing a bundle = {ratio:.2}x a raw Ed25519 signature (median of 15 paired rounds of 2000)"
    );
    let mut group = c.benchmark_group("seal");
    group.bench_function("baseline_raw_ed25519_sign", |b| {
        b.iter(|| key.sign(std::hint::black_box(&message)))
    });
    let mut index = 0;
    group.bench_function("seal_bundle", |b| {
        b.iter(|| {
            index = (index + 1) % drafts.len();
            sealer.borrow_mut().seal(&drafts[index]).unwrap()
        })
    });
    group.finish();
}

/// Writes an export of `count` bundles and returns it with the raw
/// (message, signature) pairs for the baseline.
fn export(dir: &Path, count: u64) -> (PathBuf, Vec<(Vec<u8>, Signature)>, VerifyingKey) {
    let key = KeyPair::from_seed([2; 32]);
    let server = KeyPair::from_seed([3; 32]);
    let (site, appliance) = (SiteId::random(), ApplianceId::random());
    let mut sealer = Sealer::new(&key, site, appliance, None);
    let bundles: Vec<Vec<u8>> = (1..=count)
        .map(|n| sealer.seal(&draft(n)).unwrap().into_bytes())
        .collect();
    let head = sealer.head().unwrap();
    let at = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let checkpoint = Checkpoint::sign(
        appliance,
        ChainHead {
            seq: head.seq,
            hash: head.hash,
        },
        at,
        &server,
    )
    .unwrap();
    let out = dir.join(format!("export-{count}"));
    let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut writer =
        ExportWriter::create(&out, ExportFormat::Directory, site, (from, at), at, &server).unwrap();
    writer
        .add_appliance(ApplianceExport {
            appliance_id: appliance,
            public_key: &key.public_key(),
            bundles: bundles.iter(),
            checkpoints: &[checkpoint],
        })
        .unwrap();
    writer.finish().unwrap();
    let pairs = bundles
        .par_iter()
        .map(|b| {
            let p = parse_bundle(b).unwrap();
            (p.signed_message, p.signature)
        })
        .collect();
    let verifying = ed25519_dalek::SigningKey::from_bytes(&[2; 32]).verifying_key();
    (out, pairs, verifying)
}

fn raw_batch_verify(pairs: &[(Vec<u8>, Signature)], key: VerifyingKey) -> bool {
    pairs.par_chunks(64).all(|chunk| {
        let messages: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
        let signatures: Vec<Signature> = chunk.iter().map(|(_, s)| *s).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &vec![key; chunk.len()]).is_ok()
    })
}

/// Times `baseline` and `candidate` alternately and returns the median of
/// the per-round ratios and the candidate's median time: alternating keeps
/// a noisy neighbour from favouring whichever ran in the quieter moment.
#[expect(clippy::disallowed_methods, reason = "a benchmark measures wall time")]
fn paired(rounds: usize, baseline: impl Fn(), candidate: impl Fn()) -> (f64, std::time::Duration) {
    let mut ratios = Vec::with_capacity(rounds);
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        baseline();
        let base = start.elapsed();
        let start = std::time::Instant::now();
        candidate();
        let took = start.elapsed();
        ratios.push(took.as_secs_f64() / base.as_secs_f64());
        times.push(took);
    }
    ratios.sort_by(f64::total_cmp);
    times.sort();
    (ratios[rounds / 2], times[rounds / 2])
}

fn verify_group(c: &mut Criterion, name: &str, count: u64, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (path, pairs, key) = export(dir.path(), count);
    let run = || {
        assert!(
            verify_export(&path, &VerifyOptions::default(), &NoProgress)
                .unwrap()
                .ok
        )
    };
    let (ratio, time) = paired(rounds, || assert!(raw_batch_verify(&pairs, key)), run);
    println!(
        "{name}: verify_export of {count} bundles = {ratio:.2}x raw batch verification (median of {rounds} paired rounds), {:.2} s",
        time.as_secs_f64()
    );
    if count > 100_000 {
        return;
    }
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.bench_function("baseline_raw_batch_verify", |b| {
        b.iter(|| assert!(raw_batch_verify(&pairs, key)))
    });
    group.bench_function("verify_export", |b| {
        b.iter_batched(|| (), |()| run(), BatchSize::PerIteration)
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    verify_group(c, "verify", 20_000, 15);
}

fn verify_million(c: &mut Criterion) {
    if std::env::var_os("OSIRIS_BENCH_MILLION").is_some() {
        verify_group(c, "verify_million", 1_000_000, 3);
    }
}

fn components(c: &mut Criterion) {
    let key = KeyPair::from_seed([1; 32]);
    let mut sealer = Sealer::new(&key, SiteId::random(), ApplianceId::random(), None);
    let bundle = sealer.seal(&draft(0)).unwrap().into_bytes();
    let parsed = parse_bundle(&bundle).unwrap();
    let mut group = c.benchmark_group("components");
    group.bench_function("parse_bundle", |b| {
        b.iter(|| parse_bundle(std::hint::black_box(&bundle)).unwrap())
    });
    group.bench_function("verify_strict", |b| {
        b.iter(|| {
            key.public_key()
                .verify_strict(&parsed.signed_message, &parsed.signature)
        })
    });
    group.finish();
}

criterion_group!(benches, components, seal, verify, verify_million);
criterion_main!(benches);
