//! The `osiris.export.v1` layout: writing an export atomically (a directory
//! or a `.tar.gz`), and opening one for verification without trusting its
//! paths.
//!
//! ```text
//! manifest.json                     signed by the server (manifest.sig)
//! manifest.sig                      base64 Ed25519 over manifest.json's bytes
//! bundles/<appliance_id>.jsonl      canonical bundles, ascending seq
//! checkpoints/<appliance_id>.json   server-signed chain statements
//! ```

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use osiris_core::{ApplianceId, SiteId};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use crate::bundle::ChainHash;
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys::{KeyPair, PublicKey};
use crate::merkle;
use crate::parse::parse_bundle;

/// The schema tag of the manifest.
pub const EXPORT_SCHEMA: &str = "osiris.export.v1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The manifest signature's file name.
pub const MANIFEST_SIG: &str = "manifest.sig";
/// The folder of bundle files.
pub const BUNDLES: &str = "bundles";
/// The folder of checkpoint files.
pub const CHECKPOINTS: &str = "checkpoints";
/// The folder of inclusion proofs (exports written with proofs only).
pub const PROOFS: &str = "proofs";

/// One line of `proofs/<appliance_id>.jsonl`: the inclusion proof of one
/// exported bundle in the Merkle tree over the exported lines of its chain,
/// whose root is the manifest's `merkle_root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofLine {
    /// The bundle's seq.
    pub seq: u64,
    /// Its position among the exported lines (0 for the first).
    pub leaf_index: u64,
    /// How many lines the tree covers.
    pub tree_size: u64,
    /// Sibling hashes from the leaf up (lowercase hex).
    pub proof: Vec<String>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`EXPORT_SCHEMA`].
    pub schema: String,
    /// The site exported.
    pub site_id: SiteId,
    /// Start of the exported range (RFC 3339 UTC).
    pub from: String,
    /// End of the exported range (RFC 3339 UTC).
    pub to: String,
    /// When the export was written.
    pub created_at: String,
    /// The server's public key (base64 of the raw 32 bytes).
    pub server_public_key: String,
    /// One entry per exported chain.
    pub appliances: Vec<ManifestAppliance>,
}

/// One appliance's chain as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAppliance {
    /// The appliance.
    pub appliance_id: ApplianceId,
    /// Its evidence public key (base64 of the raw 32 bytes).
    pub public_key: String,
    /// Seq of the first exported bundle.
    pub first_seq: u64,
    /// Seq of the last exported bundle.
    pub last_seq: u64,
    /// How many bundles are exported.
    pub count: u64,
    /// Chain hash at `last_seq`.
    pub head_hash: String,
    /// Root of the RFC 6962 Merkle tree over the exported lines (hex), in
    /// exports written with inclusion proofs; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<String>,
}

impl ProofLine {
    /// Checks that `bundle` (its canonical bytes, as in the bundle file) is
    /// the leaf this proof places under `root`: its seq matches, and the
    /// RFC 9162 inclusion proof holds.
    ///
    /// # Errors
    /// What does not hold, in words.
    pub fn check(&self, bundle: &[u8], root: &merkle::TreeHash) -> std::result::Result<(), String> {
        let parsed = parse_bundle(bundle).map_err(|e| format!("bundle: {e}"))?;
        if parsed.seq != self.seq {
            return Err(format!(
                "bundle is seq {}, the proof is for seq {}",
                parsed.seq, self.seq
            ));
        }
        let proof = self
            .proof
            .iter()
            .enumerate()
            .map(|(i, hash)| {
                merkle::TreeHash::parse(hash)
                    .ok_or_else(|| format!("field `proof[{i}]`: not 64 lowercase hex digits"))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        if merkle::verify_inclusion(
            &merkle::leaf_hash(bundle),
            self.leaf_index,
            self.tree_size,
            &proof,
            root,
        ) {
            Ok(())
        } else {
            Err(format!(
                "inclusion proof of seq {} does not lead to root {root}",
                self.seq
            ))
        }
    }
}

/// Whether to leave the export as a directory or pack it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A plain directory.
    Directory,
    /// A gzip-compressed tar archive of the same files.
    TarGz,
}

/// One appliance's chain handed to the writer.
#[derive(Debug)]
pub struct ApplianceExport<'a, I> {
    /// The appliance.
    pub appliance_id: ApplianceId,
    /// Its public key.
    pub public_key: &'a PublicKey,
    /// Canonical bundle bytes in ascending seq.
    pub bundles: I,
    /// The server's checkpoints for this chain within the exported range.
    pub checkpoints: &'a [Checkpoint],
}

/// Writes an export into a staging directory beside the destination and
/// moves it into place only when complete: a crash leaves no partial export.
#[derive(Debug)]
pub struct ExportWriter<'k> {
    staging: TempDir,
    out: PathBuf,
    format: ExportFormat,
    server_key: &'k KeyPair,
    manifest: Manifest,
    created_at: DateTime<Utc>,
    proofs: bool,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl<'k> ExportWriter<'k> {
    /// Starts an export of `site_id` over `[from, to]` to `out`, which must
    /// not exist yet.
    ///
    /// # Errors
    /// When `out` exists or its parent is not writable.
    pub fn create(
        out: &Path,
        format: ExportFormat,
        site_id: SiteId,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        created_at: DateTime<Utc>,
        server_key: &'k KeyPair,
    ) -> Result<Self> {
        if out.exists() {
            return Err(Error::Export(format!(
                "{} already exists; exports are never overwritten",
                out.display()
            )));
        }
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".osiris-export-")
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent, e))?;
        for folder in [BUNDLES, CHECKPOINTS] {
            let path = staging.path().join(folder);
            fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(Self {
            staging,
            out: out.to_owned(),
            format,
            server_key,
            created_at,
            proofs: false,
            manifest: Manifest {
                schema: EXPORT_SCHEMA.into(),
                site_id,
                from: rfc3339(from),
                to: rfc3339(to),
                created_at: rfc3339(created_at),
                server_public_key: server_key.public_key().to_base64(),
                appliances: Vec::new(),
            },
        })
    }

    /// Also writes a Merkle root per chain in the manifest and every
    /// bundle's inclusion proof in `proofs/<appliance_id>.jsonl`.
    ///
    /// # Errors
    /// When the proofs folder cannot be created.
    pub fn with_proofs(mut self) -> Result<Self> {
        let path = self.staging.path().join(PROOFS);
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        self.proofs = true;
        Ok(self)
    }

    /// Adds one appliance's chain. Appliances without bundles are skipped.
    ///
    /// # Errors
    /// When a bundle is not a single canonical line, or on I/O failure.
    pub fn add_appliance<I, B>(&mut self, chain: ApplianceExport<'_, I>) -> Result<()>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let appliance_id = chain.appliance_id;
        if self
            .manifest
            .appliances
            .iter()
            .any(|a| a.appliance_id == appliance_id)
        {
            return Err(Error::Export(format!(
                "appliance {appliance_id} added twice"
            )));
        }
        let path = self
            .staging
            .path()
            .join(BUNDLES)
            .join(format!("{appliance_id}.jsonl"));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let mut first: Option<Vec<u8>> = None;
        // One buffer reused for the latest bundle: exports can hold millions.
        let mut last: Vec<u8> = Vec::new();
        let mut count = 0u64;
        // 32 bytes per bundle, only when proofs are asked for.
        let mut leaves = Vec::new();
        for bundle in chain.bundles {
            let bytes = bundle.as_ref();
            if bytes.contains(&b'\n') {
                return Err(Error::Export(format!(
                    "bundle {count} of appliance {appliance_id} contains a newline: not canonical"
                )));
            }
            writer.write_all(bytes).map_err(|e| Error::io(&path, e))?;
            writer.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
            if first.is_none() {
                first = Some(bytes.to_vec());
            }
            if self.proofs {
                leaves.push(merkle::leaf_hash(bytes));
            }
            last.clear();
            last.extend_from_slice(bytes);
            count += 1;
        }
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        let Some(first) = first else {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            return Ok(());
        };
        let seq_of = |bytes: &[u8]| {
            parse_bundle(bytes)
                .map(|b| b.seq)
                .map_err(|e| Error::Export(format!("appliance {appliance_id}: {e}")))
        };
        let first_seq = seq_of(&first)?;
        let merkle_root = if self.proofs {
            self.write_proofs(appliance_id, first_seq, &leaves)?;
            Some(merkle::root(&leaves).to_string())
        } else {
            None
        };
        self.manifest.appliances.push(ManifestAppliance {
            appliance_id,
            public_key: chain.public_key.to_base64(),
            merkle_root,
            first_seq,
            last_seq: seq_of(&last)?,
            count,
            head_hash: ChainHash::of(&last).to_string(),
        });
        let checkpoints_path = self
            .staging
            .path()
            .join(CHECKPOINTS)
            .join(format!("{appliance_id}.json"));
        let json = serde_json::to_vec_pretty(chain.checkpoints)
            .map_err(|e| Error::Export(format!("checkpoints of {appliance_id}: {e}")))?;
        write_synced(&checkpoints_path, &json)?;
        Ok(())
    }

    fn write_proofs(
        &self,
        appliance_id: ApplianceId,
        first_seq: u64,
        leaves: &[merkle::TreeHash],
    ) -> Result<()> {
        let path = self
            .staging
            .path()
            .join(PROOFS)
            .join(format!("{appliance_id}.jsonl"));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, file);
        let tree_size = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
        let tree = merkle::ProofTree::new(leaves);
        for (index, position) in (0u64..).zip(0..leaves.len()) {
            let proof = tree.proof(position);
            let line = ProofLine {
                seq: first_seq + index,
                leaf_index: index,
                tree_size,
                proof: proof.iter().map(ToString::to_string).collect(),
            };
            serde_json::to_writer(&mut writer, &line)
                .map_err(|e| Error::Export(format!("proof of {appliance_id}: {e}")))?;
            writer.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
        }
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&path, e))
    }

    /// Signs the manifest and moves the export into place.
    ///
    /// # Errors
    /// On I/O failure; nothing is left at the destination then.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.manifest.appliances.sort_by_key(|a| a.appliance_id);
        let mut manifest = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| Error::Export(format!("manifest: {e}")))?;
        manifest.push(b'\n');
        write_synced(&self.staging.path().join(MANIFEST), &manifest)?;
        let signature = self.server_key.sign_base64(&manifest);
        write_synced(
            &self.staging.path().join(MANIFEST_SIG),
            format!("{signature}\n").as_bytes(),
        )?;
        match self.format {
            ExportFormat::Directory => {
                let staging = self.staging.keep();
                fs::rename(&staging, &self.out).map_err(|e| Error::io(&self.out, e))?;
            }
            ExportFormat::TarGz => {
                let partial = self.out.with_extension("partial");
                pack(self.staging.path(), &partial, self.created_at)?;
                fs::rename(&partial, &self.out).map_err(|e| Error::io(&self.out, e))?;
            }
        }
        sync_parent(&self.out)?;
        Ok(self.out)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn sync_parent(path: &Path) -> Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(parent, e))
}

/// Packs `dir` into a deterministic `.tar.gz` (sorted entries, fixed owner,
/// mode and time) so two exports of the same evidence are byte-identical.
fn pack(dir: &Path, out: &Path, mtime: DateTime<Utc>) -> Result<()> {
    let file = File::create(out).map_err(|e| Error::io(out, e))?;
    let encoder =
        flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut archive = tar::Builder::new(encoder);
    let mut names = vec![MANIFEST.to_owned(), MANIFEST_SIG.to_owned()];
    for folder in [BUNDLES, CHECKPOINTS, PROOFS] {
        if folder == PROOFS && !dir.join(folder).is_dir() {
            continue;
        }
        let mut files: Vec<String> = fs::read_dir(dir.join(folder))
            .map_err(|e| Error::io(dir.join(folder), e))?
            .filter_map(|entry| {
                entry
                    .ok()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .map(|name| format!("{folder}/{name}"))
            .collect();
        files.sort();
        names.extend(files);
    }
    let mtime = u64::try_from(mtime.timestamp()).unwrap_or(0);
    for name in names {
        let path = dir.join(&name);
        let mut source = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let size = source.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o444);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, &name, &mut source)
            .map_err(|e| Error::io(out, e))?;
    }
    let encoder = archive.into_inner().map_err(|e| Error::io(out, e))?;
    let writer = encoder.finish().map_err(|e| Error::io(out, e))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(out, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(out, e))
}

/// An export opened for reading: a directory, or a `.tar.gz` unpacked into
/// a private temporary directory (removed when this is dropped).
#[derive(Debug)]
pub struct OpenedExport {
    root: PathBuf,
    _unpacked: Option<TempDir>,
}

impl OpenedExport {
    /// Opens `path`, a directory or a `.tar.gz`.
    ///
    /// # Errors
    /// [`Error::Unusable`] when it is neither, or the archive is damaged or
    /// holds anything but the export's own files.
    pub fn open(path: &Path) -> Result<Self> {
        let metadata = fs::metadata(path).map_err(|e| {
            Error::unusable(path.display().to_string(), format!("cannot open ({e})"))
        })?;
        if metadata.is_dir() {
            return Ok(Self {
                root: path.to_owned(),
                _unpacked: None,
            });
        }
        let unpacked = tempfile::Builder::new()
            .prefix("osiris-verify-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        unpack(path, unpacked.path())?;
        let root = single_top_folder(unpacked.path()).unwrap_or_else(|| unpacked.path().to_owned());
        Ok(Self {
            root,
            _unpacked: Some(unpacked),
        })
    }

    /// The directory holding `manifest.json`.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// If everything in `dir` sits in one folder (`export-x/manifest.json`), that folder.
fn single_top_folder(dir: &Path) -> Option<PathBuf> {
    let mut entries = fs::read_dir(dir).ok()?;
    let only = entries.next()?.ok()?;
    if entries.next().is_some() || !only.file_type().ok()?.is_dir() {
        return None;
    }
    let path = only.path();
    path.join(MANIFEST).exists().then_some(path)
}

fn unpack(archive: &Path, into: &Path) -> Result<()> {
    let label = archive.display().to_string();
    let file =
        File::open(archive).map_err(|e| Error::unusable(&label, format!("cannot open ({e})")))?;
    let mut magic = [0u8; 2];
    file.take(2)
        .read_exact(&mut magic)
        .map_err(|_| Error::unusable(&label, "not a directory or a .tar.gz export"))?;
    if magic != [0x1f, 0x8b] {
        return Err(Error::unusable(
            &label,
            "not a directory or a .tar.gz export (no gzip header)",
        ));
    }
    let file =
        File::open(archive).map_err(|e| Error::unusable(&label, format!("cannot open ({e})")))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = tar
        .entries()
        .map_err(|e| Error::unusable(&label, format!("damaged archive ({e})")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| Error::unusable(&label, format!("damaged archive ({e})")))?;
        let name = entry
            .path()
            .map_err(|e| Error::unusable(&label, format!("bad entry name ({e})")))?
            .into_owned();
        let shown = format!("{label}: {}", name.display());
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            return Err(Error::unusable(
                shown,
                "archive entry is not a regular file (links and devices are refused)",
            ));
        }
        let relative = safe_relative(&name).ok_or_else(|| {
            Error::unusable(
                &shown,
                "archive entry escapes the export (absolute path or ..)",
            )
        })?;
        let target = into.join(relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| Error::unusable(&shown, format!("duplicate or unwritable entry ({e})")))?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|e| Error::unusable(&shown, format!("damaged archive ({e})")))?;
    }
    Ok(())
}

fn safe_relative(name: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in name.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Reads the manifest signature file: base64 text, surrounding whitespace ignored.
pub(crate) fn decode_manifest_sig(
    text: &str,
) -> std::result::Result<ed25519_dalek::Signature, String> {
    crate::keys::decode_signature(text.trim())
}
