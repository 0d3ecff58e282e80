//! Output pinned byte for byte on the bench's log-like text
//! (`benches/scrub.rs`): a change to how the text is walked must not change
//! what is found. The digests were taken from the engine before the
//! bit-mask walk; a deliberate change of what is scrubbed updates them in
//! the same commit, with the reason.

use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubber, ZipPolicy};
use sha2::{Digest, Sha256};

const CORPUS: &str = include_str!("../data/corpus.txt");
const SURVIVE: &str = include_str!("../data/survive.txt");

fn keep(line: &&str) -> bool {
    !line.starts_with('#') && !line.trim().is_empty()
}

/// The bench's input: about 4 MiB, nine IT lines for every line carrying
/// PHI, corpus labels removed.
fn log_text() -> String {
    let mark = regex::Regex::new(r"\{\{[A-Z_]+:(.*?)\}\}").unwrap();
    let phi: Vec<String> = CORPUS
        .lines()
        .filter(keep)
        .map(|l| mark.replace_all(l, "$1").into_owned())
        .collect();
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

/// The bench's site and key.
fn bench_scrubber() -> Scrubber {
    let config = ScrubConfig {
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
    };
    Scrubber::new(&ScrubKey::from_bytes([7; 32]), &config).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn bench_text_output_is_pinned() {
    let scrubbed = bench_scrubber().scrub_bytes(log_text().as_bytes());
    assert_eq!(scrubbed.report().total(), PINNED_TOTAL);
    assert_eq!(sha256_hex(&scrubbed.into_inner()), PINNED_SHA256);
}

#[test]
fn bench_text_streamed_output_is_pinned() {
    let mut out = Vec::new();
    let report = bench_scrubber()
        .scrub_stream(log_text().as_bytes(), &mut out)
        .unwrap();
    assert_eq!(report.total(), PINNED_TOTAL);
    assert_eq!(sha256_hex(&out), PINNED_SHA256);
}

const PINNED_TOTAL: u64 = 7455;
const PINNED_SHA256: &str = "c466ec4aa256d604695b0381e9c1970a13e02c3aa664fa210c36e9a558c2378c";
