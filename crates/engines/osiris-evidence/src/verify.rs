//! The offline verifier: everything an auditor needs to trust an export
//! without trusting the server, the appliance or whoever carried the files.
//!
//! Checks: the manifest signature (optionally against a pinned server key),
//! every bundle's shape, signature, key, site, appliance, time range, seq
//! continuity and hash link; the manifest's counts, first/last seq and head
//! hash; and every server checkpoint (signature, and the chain hash at its
//! seq), with the head required to be covered by one.
//!
//! Bundle files are streamed in chunks: parsing and hashing run in parallel
//! on every core, signatures are checked with Ed25519 batch verification
//! (falling back to single strict checks to name the culprit), and the
//! chain is then walked in order.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use osiris_core::{ApplianceId, SiteId};
use rayon::prelude::*;
use serde::Serialize;

use crate::bundle::ChainHash;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::export::{
    BUNDLES, CHECKPOINTS, EXPORT_SCHEMA, MANIFEST, MANIFEST_SIG, Manifest, ManifestAppliance,
    OpenedExport, PROOFS, decode_manifest_sig,
};
use crate::keys::{KeyId, PublicKey};
use crate::parse::{ParsedBundle, parse_bundle};

/// Lines longer than this are refused without being held in memory.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Lines handled per parallel step.
const CHUNK_LINES: usize = 8192;
/// Signatures per batch verification.
const BATCH: usize = 64;

/// What the auditor asks of the verifier.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The server key the auditor expects (obtained out of band). When
    /// set, a manifest naming another key fails verification.
    pub server_key: Option<PublicKey>,
}

/// Receives progress, in bundles, for a progress bar.
pub trait Progress: Sync {
    /// Verification of `total` bundles starts.
    fn start(&self, total: u64);
    /// `done` more bundles were checked.
    fn advance(&self, done: u64);
}

/// A progress sink that ignores everything.
#[derive(Debug, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _total: u64) {}
    fn advance(&self, _done: u64) {}
}

/// One thing that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The chain concerned, when the failure belongs to one.
    pub appliance_id: Option<String>,
    /// The bundle concerned: the seq expected at that position, or the
    /// seq the bundle claims when it is out of place.
    pub seq: Option<u64>,
    /// The file, relative to the export's root.
    pub file: String,
    /// 1-based line in `file`, when one is to blame.
    pub line: Option<u64>,
    /// What was wrong.
    pub what: String,
}

/// One chain as found in the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// The appliance.
    pub appliance_id: String,
    /// Its key id, when the manifest's key is usable.
    pub key_id: Option<String>,
    /// Lines found in its bundle file.
    pub bundles: u64,
    /// Seq of the first bundle found.
    pub first_seq: Option<u64>,
    /// Seq of the last bundle found.
    pub last_seq: Option<u64>,
    /// Chain hash of the last line found.
    pub head_hash: Option<String>,
    /// Server checkpoints that matched.
    pub checkpoints_matched: usize,
}

/// The verifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True only when there is no failure.
    pub ok: bool,
    /// The site the manifest names.
    pub site_id: String,
    /// The key id of the manifest's server key, when usable.
    pub server_key_id: Option<String>,
    /// The exported range.
    pub from: String,
    /// The exported range.
    pub to: String,
    /// Bundle lines examined.
    pub bundles_checked: u64,
    /// Each chain.
    pub chains: Vec<ChainSummary>,
    /// Every failure, in file order.
    pub failures: Vec<Failure>,
}

/// Verifies the export at `path` (a directory or a `.tar.gz`).
///
/// # Errors
/// [`Error::Unusable`] when the input is not an export at all (missing or
/// unreadable manifest, unreadable archive). Anything wrong *inside* a
/// usable export is a [`Failure`] in the returned [`Report`].
pub fn verify_export(
    path: &Path,
    options: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let export = OpenedExport::open(path)?;
    let root = export.root();
    let manifest_bytes = fs::read(root.join(MANIFEST)).map_err(|e| {
        Error::unusable(
            format!("{}/{MANIFEST}", path.display()),
            format!("cannot read ({e}); is this an {EXPORT_SCHEMA} export?"),
        )
    })?;
    let manifest = parse_manifest(&manifest_bytes)?;
    let mut failures = Vec::new();
    let mut fail = |appliance: Option<&ApplianceId>, seq, file: &str, line, what: String| {
        failures.push(Failure {
            appliance_id: appliance.map(ToString::to_string),
            seq,
            file: file.to_owned(),
            line,
            what,
        });
    };

    let server_key = match PublicKey::from_base64(&manifest.server_public_key) {
        Ok(key) => Some(key),
        Err(reason) => {
            fail(
                None,
                None,
                MANIFEST,
                None,
                format!("field `server_public_key`: {reason}"),
            );
            None
        }
    };
    if let (Some(pinned), Some(found)) = (&options.server_key, &server_key)
        && pinned != found
    {
        fail(
            None,
            None,
            MANIFEST,
            None,
            format!(
                "server key {} is not the expected server key {}",
                found.key_id(),
                pinned.key_id()
            ),
        );
    }
    match fs::read_to_string(root.join(MANIFEST_SIG)) {
        Err(e) => fail(
            None,
            None,
            MANIFEST_SIG,
            None,
            format!("cannot read manifest signature ({e})"),
        ),
        Ok(text) => match (decode_manifest_sig(&text), &server_key) {
            (Err(reason), _) => fail(None, None, MANIFEST_SIG, Some(1), reason),
            (Ok(signature), Some(key)) if !key.verify_strict(&manifest_bytes, &signature) => {
                fail(None, None, MANIFEST_SIG, Some(1), "manifest signature does not verify: manifest.json was altered or signed by another key".into());
            }
            _ => {}
        },
    }
    let range = parse_range(&manifest, &mut fail);
    check_listing(root, &manifest, &mut fail);

    let total = manifest.appliances.iter().map(|a| a.count).sum();
    progress.start(total);
    let mut chains = Vec::new();
    let mut chain_failures_all = Vec::new();
    let mut bundles_checked = 0;
    let mut seen = BTreeSet::new();
    for entry in &manifest.appliances {
        if !seen.insert(entry.appliance_id) {
            fail(
                Some(&entry.appliance_id),
                None,
                MANIFEST,
                None,
                "appliance listed twice in the manifest".into(),
            );
            continue;
        }
        let context = ChainContext {
            root,
            site_id: manifest.site_id,
            entry,
            server_key: server_key.as_ref(),
            range,
        };
        let (summary, chain_failures) = verify_chain(&context, progress);
        bundles_checked += summary.bundles;
        chains.push(summary);
        chain_failures_all.extend(chain_failures);
    }
    failures.extend(chain_failures_all);
    Ok(Report {
        ok: failures.is_empty(),
        site_id: manifest.site_id.to_string(),
        server_key_id: server_key.map(|k| k.key_id().to_string()),
        from: manifest.from,
        to: manifest.to,
        bundles_checked,
        chains,
        failures,
    })
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let manifest: Manifest =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let reason = inner.to_string();
            let reason = reason
                .split(" at line ")
                .next()
                .unwrap_or(&reason)
                .to_owned();
            let field = if path == "." {
                String::new()
            } else {
                format!(" field `{path}`:")
            };
            Error::unusable(
                format!("{MANIFEST}:{}:{}:{field}", inner.line(), inner.column()),
                reason,
            )
        })?;
    if manifest.schema != EXPORT_SCHEMA {
        return Err(Error::unusable(
            format!("{MANIFEST}: field `schema`"),
            format!(
                "unsupported schema {:?}; this verifier reads {EXPORT_SCHEMA}",
                manifest.schema
            ),
        ));
    }
    Ok(manifest)
}

type Fail<'a> = dyn FnMut(Option<&ApplianceId>, Option<u64>, &str, Option<u64>, String) + 'a;

fn parse_range(manifest: &Manifest, fail: &mut Fail<'_>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let parse =
        |field: &str, text: &str, fail: &mut Fail<'_>| match DateTime::parse_from_rfc3339(text) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(e) => {
                fail(
                    None,
                    None,
                    MANIFEST,
                    None,
                    format!("field `{field}`: not an RFC 3339 time ({e})"),
                );
                None
            }
        };
    let from = parse("from", &manifest.from, fail);
    let to = parse("to", &manifest.to, fail);
    let _ = parse("created_at", &manifest.created_at, fail);
    match (from, to) {
        (Some(from), Some(to)) if from <= to => Some((from, to)),
        (Some(_), Some(_)) => {
            fail(
                None,
                None,
                MANIFEST,
                None,
                "field `from` is after field `to`".into(),
            );
            None
        }
        _ => None,
    }
}

/// Files present but not listed: evidence the manifest does not account for.
fn check_listing(root: &Path, manifest: &Manifest, fail: &mut Fail<'_>) {
    let listed: BTreeSet<String> = manifest
        .appliances
        .iter()
        .map(|a| a.appliance_id.to_string())
        .collect();
    for (folder, suffix) in [
        (BUNDLES, ".jsonl"),
        (CHECKPOINTS, ".json"),
        (PROOFS, ".jsonl"),
    ] {
        let Ok(entries) = fs::read_dir(root.join(folder)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let known = name
                .strip_suffix(suffix)
                .is_some_and(|id| listed.contains(id));
            if !known {
                fail(
                    None,
                    None,
                    &format!("{folder}/{name}"),
                    None,
                    "file is not listed in the manifest".into(),
                );
            }
        }
    }
}

struct ChainContext<'a> {
    root: &'a Path,
    site_id: SiteId,
    entry: &'a ManifestAppliance,
    server_key: Option<&'a PublicKey>,
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The walk along one chain: what the next line must be.
struct Walk<'a> {
    context: &'a ChainContext<'a>,
    key_id: Option<KeyId>,
    file: String,
    failures: Vec<Failure>,
    expected_seq: u64,
    previous_hash: Option<ChainHash>,
    lines: u64,
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    checkpoints: BTreeMap<u64, (Checkpoint, bool)>,
}

impl Walk<'_> {
    fn fail(&mut self, seq: Option<u64>, line: Option<u64>, what: String) {
        self.failures.push(Failure {
            appliance_id: Some(self.context.entry.appliance_id.to_string()),
            seq,
            file: self.file.clone(),
            line,
            what,
        });
    }

    fn step(&mut self, line: u64, hash: ChainHash, parsed: Result<(ParsedBundle, bool), String>) {
        self.lines += 1;
        let expected = self.expected_seq;
        let previous = self.previous_hash.replace(hash);
        let (bundle, signature_ok) = match parsed {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.fail(Some(expected), Some(line), reason);
                self.expected_seq = expected.saturating_add(1);
                return;
            }
        };
        let seq = bundle.seq;
        if seq == expected {
            self.expected_seq = seq.saturating_add(1);
        } else if seq > expected {
            let missing = if seq - expected == 1 {
                format!("seq {expected} is missing")
            } else {
                format!("seqs {expected} to {} are missing", seq - 1)
            };
            self.fail(
                Some(expected),
                Some(line),
                format!("{missing} (found seq {seq})"),
            );
            self.expected_seq = seq.saturating_add(1);
        } else {
            self.fail(
                Some(seq),
                Some(line),
                format!("seq {seq} is duplicated or out of order (expected seq {expected})"),
            );
        }
        self.first_seq.get_or_insert(seq);
        self.last_seq = Some(seq);
        let entry = self.context.entry;
        if bundle.appliance_id != entry.appliance_id {
            self.fail(
                Some(seq),
                Some(line),
                format!("bundle belongs to appliance {}", bundle.appliance_id),
            );
        }
        if bundle.site_id != self.context.site_id {
            self.fail(
                Some(seq),
                Some(line),
                format!("bundle belongs to site {}", bundle.site_id),
            );
        }
        match self.key_id {
            Some(key_id) if key_id != bundle.key_id => self.fail(
                Some(seq),
                Some(line),
                format!(
                    "signed with key {} but the manifest lists key {key_id}",
                    bundle.key_id
                ),
            ),
            Some(_) if !signature_ok => self.fail(
                Some(seq),
                Some(line),
                "signature does not verify: the bundle was altered".into(),
            ),
            _ => {}
        }
        match previous {
            Some(previous) if previous != bundle.prev_hash => self.fail(
                Some(seq),
                Some(line),
                "prev_hash does not match the previous bundle: the chain is broken here".into(),
            ),
            None if seq == 1 && bundle.prev_hash != ChainHash::GENESIS => self.fail(
                Some(seq),
                Some(line),
                "first bundle of the chain must have a prev_hash of 64 zeros".into(),
            ),
            _ => {}
        }
        if let Some((from, to)) = self.context.range
            && (bundle.created_at < from || bundle.created_at > to)
        {
            self.fail(
                Some(seq),
                Some(line),
                format!(
                    "created_at {} is outside the exported range",
                    bundle.created_at
                ),
            );
        }
        if let Some((checkpoint, matched)) = self.checkpoints.get_mut(&seq) {
            if checkpoint.head_hash() == Some(hash) {
                *matched = true;
            } else {
                let signed_at = checkpoint.signed_at().to_owned();
                self.fail(
                    Some(seq),
                    Some(line),
                    format!("chain hash differs from the server checkpoint signed at {signed_at}"),
                );
            }
        }
    }

    fn finish(mut self, final_hash: Option<ChainHash>) -> (ChainSummary, Vec<Failure>) {
        let entry = self.context.entry;
        if self.lines != entry.count {
            self.fail(
                None,
                None,
                format!(
                    "manifest lists {} bundles, the file holds {}",
                    entry.count, self.lines
                ),
            );
        }
        if self.first_seq.is_some_and(|first| first != entry.first_seq) {
            self.fail(
                Some(entry.first_seq),
                None,
                format!(
                    "chain starts at seq {} but the manifest says {}",
                    self.first_seq.unwrap_or_default(),
                    entry.first_seq
                ),
            );
        }
        match self.last_seq {
            Some(last) if last < entry.last_seq => self.fail(Some(last + 1), None, format!("chain ends at seq {last} but the manifest says {}: bundles were removed from the end", entry.last_seq)),
            Some(last) if last > entry.last_seq => self.fail(Some(entry.last_seq + 1), None, format!("chain runs to seq {last} beyond the manifest's last seq {}", entry.last_seq)),
            None => self.fail(Some(entry.first_seq), None, "no bundle found".into()),
            _ => {}
        }
        if entry.count
            != entry
                .last_seq
                .saturating_sub(entry.first_seq)
                .saturating_add(1)
            || entry.first_seq > entry.last_seq
        {
            self.fail(
                None,
                None,
                "manifest is inconsistent: count differs from last_seq - first_seq + 1".into(),
            );
        }
        if final_hash.map(|h| h.to_string()).as_deref() != Some(entry.head_hash.as_str()) {
            self.fail(
                Some(entry.last_seq),
                None,
                "chain hash of the last bundle differs from the manifest's head_hash".into(),
            );
        }
        let unmatched: Vec<(u64, bool)> = self
            .checkpoints
            .iter()
            .map(|(seq, (_, matched))| (*seq, *matched))
            .collect();
        let covered = self.checkpoints.keys().next_back().copied();
        for (seq, matched) in unmatched {
            if !matched && self.last_seq.is_none_or(|last| seq > last) {
                self.fail(Some(seq), None, format!("server checkpoint at seq {seq} is beyond the end of the chain: bundles were removed"));
            }
        }
        if covered != Some(entry.last_seq) {
            self.fail(
                Some(entry.last_seq),
                None,
                format!(
                    "head seq {} is not covered by a server checkpoint",
                    entry.last_seq
                ),
            );
        }
        let summary = ChainSummary {
            appliance_id: entry.appliance_id.to_string(),
            key_id: self.key_id.map(|k| k.to_string()),
            bundles: self.lines,
            first_seq: self.first_seq,
            last_seq: self.last_seq,
            head_hash: final_hash.map(|h| h.to_string()),
            checkpoints_matched: self.checkpoints.values().filter(|(_, m)| *m).count(),
        };
        (summary, self.failures)
    }
}

fn verify_chain(
    context: &ChainContext<'_>,
    progress: &dyn Progress,
) -> (ChainSummary, Vec<Failure>) {
    let entry = context.entry;
    let id = entry.appliance_id;
    let mut walk = Walk {
        context,
        key_id: None,
        file: format!("{BUNDLES}/{id}.jsonl"),
        failures: Vec::new(),
        expected_seq: entry.first_seq,
        previous_hash: None,
        lines: 0,
        first_seq: None,
        last_seq: None,
        checkpoints: BTreeMap::new(),
    };
    let key = match PublicKey::from_base64(&entry.public_key) {
        Ok(key) => {
            walk.key_id = Some(key.key_id());
            Some(key)
        }
        Err(reason) => {
            walk.failures.push(Failure {
                appliance_id: Some(id.to_string()),
                seq: None,
                file: MANIFEST.into(),
                line: None,
                what: format!("field `public_key`: {reason}"),
            });
            None
        }
    };
    walk.checkpoints = load_checkpoints(context, &mut walk.failures);
    let path = context.root.join(&walk.file);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            walk.fail(
                Some(entry.first_seq),
                None,
                format!("cannot read bundle file ({e})"),
            );
            return walk.finish(None);
        }
    };
    let mut lines = Lines {
        reader: BufReader::with_capacity(1 << 20, file),
        number: 0,
    };
    let mut final_hash = None;
    // Only when the manifest commits to a Merkle root (additive field).
    let mut tree = entry
        .merkle_root
        .as_ref()
        .map(|_| crate::merkle::RootBuilder::default());
    let mut chunk = lines.next_chunk(CHUNK_LINES);
    loop {
        let current = match chunk {
            Ok(current) if !current.is_empty() => current,
            Ok(_) => break,
            Err(e) => {
                walk.fail(
                    Some(walk.expected_seq),
                    Some(lines.number + 1),
                    format!("cannot read ({e})"),
                );
                break;
            }
        };
        // Read the next chunk while this one is parsed and verified.
        let (next, checked) = rayon::join(
            || lines.next_chunk(CHUNK_LINES),
            || check_chunk(&current, key.as_ref()),
        );
        chunk = next;
        for (line, (hash, parsed)) in current.iter().zip(checked) {
            if let Some(tree) = tree.as_mut() {
                let bytes = line.bytes.as_deref().unwrap_or_default();
                tree.push(crate::merkle::leaf_hash(bytes));
            }
            walk.step(line.number, hash, parsed);
            final_hash = Some(hash);
        }
        progress.advance(u64::try_from(current.len()).unwrap_or(u64::MAX));
    }
    if let (Some(tree), Some(expected)) = (tree, entry.merkle_root.as_deref())
        && tree.root().to_string() != expected
    {
        walk.failures.push(Failure {
            appliance_id: Some(id.to_string()),
            seq: None,
            file: MANIFEST.into(),
            line: None,
            what: "Merkle root over the bundle file differs from the manifest's merkle_root".into(),
        });
    }
    walk.finish(final_hash)
}

fn load_checkpoints(
    context: &ChainContext<'_>,
    failures: &mut Vec<Failure>,
) -> BTreeMap<u64, (Checkpoint, bool)> {
    let id = context.entry.appliance_id;
    let file = format!("{CHECKPOINTS}/{id}.json");
    let mut fail = |seq, line, what: String| {
        failures.push(Failure {
            appliance_id: Some(id.to_string()),
            seq,
            file: file.clone(),
            line,
            what,
        })
    };
    let bytes = match fs::read(context.root.join(&file)) {
        Ok(bytes) => bytes,
        Err(e) => {
            fail(None, None, format!("cannot read checkpoints ({e})"));
            return BTreeMap::new();
        }
    };
    let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
    let checkpoints: Vec<Checkpoint> = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(list) => list,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let reason = inner.to_string();
            fail(
                None,
                Some(u64::try_from(inner.line()).unwrap_or(0)),
                format!(
                    "field `{path}`: {}",
                    reason.split(" at line ").next().unwrap_or(&reason)
                ),
            );
            return BTreeMap::new();
        }
    };
    let mut map = BTreeMap::new();
    for checkpoint in checkpoints {
        let seq = checkpoint.seq();
        if checkpoint.appliance_id() != id {
            fail(
                Some(seq),
                None,
                format!(
                    "checkpoint is about appliance {}",
                    checkpoint.appliance_id()
                ),
            );
        } else if !context
            .server_key
            .is_some_and(|key| checkpoint.is_signed_by(key))
        {
            fail(
                Some(seq),
                None,
                "checkpoint signature does not verify with the server key".into(),
            );
        } else if checkpoint.head_hash().is_none() {
            fail(
                Some(seq),
                None,
                "checkpoint head_hash is not 64 lowercase hex digits".into(),
            );
        } else if map.insert(seq, (checkpoint, false)).is_some() {
            fail(Some(seq), None, "two checkpoints for the same seq".into());
        }
    }
    map
}

struct Line {
    number: u64,
    bytes: Result<Vec<u8>, String>,
}

struct Lines<R> {
    reader: BufReader<R>,
    number: u64,
}

impl<R: Read> Lines<R> {
    /// Up to `max` lines; a line over [`MAX_LINE_BYTES`] is reported, not held.
    fn next_chunk(&mut self, max: usize) -> std::io::Result<Vec<Line>> {
        let mut chunk = Vec::with_capacity(max.min(1024));
        while chunk.len() < max {
            let mut bytes = Vec::new();
            let read = (&mut self.reader)
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut bytes)?;
            if read == 0 {
                break;
            }
            self.number += 1;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
            } else if bytes.len() > MAX_LINE_BYTES {
                // Skip the rest of the oversized line.
                let mut rest = Vec::new();
                self.reader.read_until(b'\n', &mut rest)?;
                chunk.push(Line {
                    number: self.number,
                    bytes: Err(format!("line is longer than {MAX_LINE_BYTES} bytes")),
                });
                continue;
            }
            let bytes = if bytes.is_empty() {
                Err("empty line".to_owned())
            } else {
                Ok(bytes)
            };
            chunk.push(Line {
                number: self.number,
                bytes,
            });
        }
        Ok(chunk)
    }
}

type Checked = (ChainHash, Result<(ParsedBundle, bool), String>);

/// Parses, hashes and batch-verifies lines, one group of [`BATCH`] per task.
fn check_chunk(chunk: &[Line], key: Option<&PublicKey>) -> Vec<Checked> {
    chunk
        .par_chunks(BATCH)
        .flat_map_iter(|group| check_group(group, key))
        .collect()
}

fn check_group(group: &[Line], key: Option<&PublicKey>) -> Vec<Checked> {
    let parsed: Vec<(ChainHash, Result<ParsedBundle, String>)> = group
        .iter()
        .map(|line| match &line.bytes {
            Ok(bytes) => (
                ChainHash::of(bytes),
                parse_bundle(bytes).map_err(|e| e.to_string()),
            ),
            Err(reason) => (ChainHash::of(b""), Err(reason.clone())),
        })
        .collect();
    let Some(key) = key else {
        return parsed
            .into_iter()
            .map(|(hash, result)| (hash, result.map(|b| (b, false))))
            .collect();
    };
    let expected_key = key.key_id();
    let candidates: Vec<&ParsedBundle> = parsed
        .iter()
        .filter_map(|(_, result)| result.as_ref().ok().filter(|b| b.key_id == expected_key))
        .collect();
    let messages: Vec<&[u8]> = candidates
        .iter()
        .map(|b| b.signed_message.as_slice())
        .collect();
    let signatures: Vec<ed25519_dalek::Signature> =
        candidates.iter().map(|b| b.signature).collect();
    let keys: Vec<VerifyingKey> = vec![*key.verifying_key(); candidates.len()];
    let all_good = !candidates.is_empty()
        && ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
    parsed
        .into_iter()
        .map(|(hash, result)| {
            let checked = result.map(|bundle| {
                let ok = bundle.key_id == expected_key
                    && (all_good || key.verify_strict(&bundle.signed_message, &bundle.signature));
                (bundle, ok)
            });
            (hash, checked)
        })
        .collect()
}
