#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Scrub throughput on log-like text with every family on, next to two
//! baselines over the same bytes in the same run: a newline count (memory
//! bandwidth) and one plain SSN regex pass (the cheapest "scrubber").
//! A second group scrubs the labelled corpus itself, the text that
//! `benches/presidio/side_by_side.py` gives Presidio.
//!
//! With `OSIRIS_SCRUB_PASSES=N` in the environment the binary instead
//! scrubs the log-like text N times and exits, without criterion: a driver
//! for instruction counts that load on the machine cannot skew
//! (`valgrind --tool=callgrind`, N=2 minus N=0). `OSIRIS_SCRUB_DUMP=FILE`
//! then also writes the scrubbed text to FILE, to compare engines' output
//! byte for byte.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};

const CORPUS: &str = include_str!("../tests/data/corpus.txt");
const SURVIVE: &str = include_str!("../tests/data/survive.txt");

fn keep(line: &&str) -> bool {
    !line.starts_with('#') && !line.trim().is_empty()
}

/// The corpus lines with their labels removed.
fn corpus_lines() -> Vec<String> {
    let mark = regex::Regex::new(r"\{\{[A-Z_]+:(.*?)\}\}").unwrap();
    CORPUS
        .lines()
        .filter(keep)
        .map(|l| mark.replace_all(l, "$1").into_owned())
        .collect()
}

/// About 4 MiB: nine IT lines for every line carrying PHI.
fn log_text() -> String {
    let phi = corpus_lines();
    let it: Vec<&str> = SURVIVE.lines().filter(keep).collect();
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 4 << 20 {
        if i % 10 == 9 {
            text.push_str(&phi[(i / 10) % phi.len()]);
        } else {
            text.push_str(it[i % it.len()]);
        }
        text.push('\n');
        i += 1;
    }
    text
}

fn bench_config() -> ScrubConfig {
    ScrubConfig {
        ip: IpPolicy {
            keep_loopback: true,
            keep_private: true,
            keep_link_local: true,
            inventory: Vec::new(),
        },
        zip: ZipPolicy::Redact,
        allowlist: vec!["DC01.clinic.local".to_owned()],
        keep_email_domains: Vec::new(),
        keep_url_hosts: vec!["windowsupdate.com".to_owned()],
        patient_document_roots: vec![r"\\fs01\scans\".to_owned()],
        mrn_patterns: vec![r"\bE\d{7}\b".to_owned()],
        other_patterns: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let scrubber = Scrubber::new(&ScrubKey::from_bytes([7; 32]), &bench_config()).unwrap();
    let text = log_text();
    let ssn = regex::bytes::Regex::new(r"\b\d{3}-\d{2}-\d{4}\b").unwrap();
    let mut group = c.benchmark_group("scrub_log_text");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("baseline_memchr_newlines", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(text.as_bytes())).count());
    });
    group.bench_function("baseline_one_ssn_regex", |b| {
        b.iter(|| ssn.find_iter(black_box(text.as_bytes())).count());
    });
    group.bench_function("osiris_scrub_all_families", |b| {
        b.iter(|| {
            scrubber
                .scrub_bytes(black_box(text.as_bytes()))
                .report()
                .total()
        });
    });
    group.finish();

    let corpus = corpus_lines().join("\n");
    let mut group = c.benchmark_group("scrub_labelled_corpus");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.bench_function("baseline_memchr_newlines", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(corpus.as_bytes())).count());
    });
    group.bench_function("osiris_scrub_all_families", |b| {
        b.iter(|| {
            scrubber
                .scrub_bytes(black_box(corpus.as_bytes()))
                .report()
                .total()
        });
    });
    group.finish();
}

/// The `OSIRIS_SCRUB_PASSES` driver.
fn passes(n: usize) {
    let scrubber = Scrubber::new(&ScrubKey::from_bytes([7; 32]), &bench_config()).unwrap();
    let text = log_text();
    let mut last = Vec::new();
    for _ in 0..n {
        last = scrubber
            .scrub_bytes(black_box(text.as_bytes()))
            .into_inner();
    }
    if let Ok(path) = std::env::var("OSIRIS_SCRUB_DUMP") {
        std::fs::write(path, last).unwrap();
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(n) = std::env::var("OSIRIS_SCRUB_PASSES") {
        passes(n.parse().unwrap());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
