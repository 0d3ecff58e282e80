//! The write-once directory backend: every object is a read-only file under
//! `objects/<key>`, described by a read-only sidecar `meta/<key>` (SHA-256,
//! length, retention date, legal hold).
//!
//! The sidecar is written before the object, so an object that exists
//! always has its sidecar. The object is published without clobbering
//! (`persist_noclobber`), so even a second process cannot replace it;
//! mutations take an exclusive lock on `<root>/.lock`.
//!
//! A batch ([`WormStore::put_many`]) takes the lock once, stages every new
//! object and sidecar as unsynced temporary files, fsyncs them all in
//! parallel (each file its own fsync and its own error), publishes the
//! sidecars, fsyncs each sidecar directory once, then publishes the
//! objects and fsyncs each object directory once. The order is the one of
//! `put_once`, per batch instead of per object, so a crash still leaves at
//! worst orphan sidecars, and an object is reported stored only after its
//! bytes, its sidecar and both directory entries are durable.

mod fsio;
mod list;
mod sidecar;
mod verify;

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    BatchOutcomes, BoxFuture, ContentHash, Error, KeyPrefix, LegalHold, ObjectInfo, ObjectKey,
    PutItem, PutOutcome, Result, RetentionGuarantee, WormStore, check_deletable, check_existing,
    check_extension,
};
use fsio::Published;
use sidecar::Sidecar;

pub use verify::IntactReport;

/// A [`WormStore`] in a local directory.
#[derive(Debug, Clone)]
pub struct LocalWormStore {
    dirs: Arc<Dirs>,
}

#[derive(Debug)]
struct Dirs {
    root: PathBuf,
    objects: PathBuf,
    meta: PathBuf,
}

impl LocalWormStore {
    /// Opens (creating if needed) the store rooted at `root`.
    ///
    /// # Errors
    /// [`Error::Backend`] if the directories cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let dirs = Dirs {
            objects: root.join("objects"),
            meta: root.join("meta"),
            root,
        };
        std::fs::create_dir_all(&dirs.root)
            .map_err(|error| fsio::io_error("creating directory", &dirs.root, error))?;
        fsio::create_dirs(&dirs.root, &dirs.objects)?;
        fsio::create_dirs(&dirs.root, &dirs.meta)?;
        Ok(Self {
            dirs: Arc::new(dirs),
        })
    }

    /// The directory the store lives in.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.dirs.root
    }

    /// The file holding `key`'s bytes (for operators and tests; never write
    /// to it).
    #[must_use]
    pub fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.dirs.objects.join(key.as_str())
    }

    /// Checks at startup that every `(key, sha256)` the caller recorded
    /// (the evidence index) is present and unaltered, object and sidecar.
    /// Reads every listed object: blocking, run it in `spawn_blocking`.
    ///
    /// # Errors
    /// [`Error::Backend`] if a file cannot be read for another reason than
    /// being missing.
    pub fn verify_intact(
        &self,
        expected: impl IntoIterator<Item = (ObjectKey, ContentHash)>,
    ) -> Result<IntactReport> {
        verify::verify(&self.dirs, expected)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Dirs) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let dirs = Arc::clone(&self.dirs);
        tokio::task::spawn_blocking(move || job(&dirs))
            .await
            .map_err(|error| Error::backend("running a filesystem task", error))?
    }
}

impl Dirs {
    fn object(&self, key: &ObjectKey) -> PathBuf {
        self.objects.join(key.as_str())
    }

    fn sidecar(&self, key: &ObjectKey) -> PathBuf {
        self.meta.join(key.as_str())
    }

    /// Serializes mutations, across processes too; released on drop.
    fn lock(&self) -> Result<File> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|error| fsio::io_error("opening", &path, error))?;
        file.lock()
            .map_err(|error| fsio::io_error("locking", &path, error))?;
        Ok(file)
    }

    fn read_sidecar(&self, key: &ObjectKey) -> Result<Option<Sidecar>> {
        fsio::read_optional(&self.sidecar(key))?
            .map(|bytes| Sidecar::decode(key, &bytes))
            .transpose()
    }

    fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
        let path = self.object(key);
        let len = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => meta.len(),
            // A directory holds longer keys (`x/y` under `x`), not `x`.
            Ok(meta) if meta.is_dir() => return Ok(None),
            Ok(_) => return Err(Error::corrupt(key, "object is not a regular file")),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(fsio::io_error("inspecting", &path, error)),
        };
        let sidecar = self
            .read_sidecar(key)?
            .ok_or_else(|| Error::corrupt(key, "sidecar metadata is missing"))?;
        let info = sidecar.info(key)?;
        if info.len != len {
            return Err(Error::corrupt(
                key,
                format!("object is {len} bytes, metadata says {}", info.len),
            ));
        }
        Ok(Some(info))
    }

    fn require(&self, key: &ObjectKey) -> Result<ObjectInfo> {
        self.head(key)?.ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })
    }

    fn put_once(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        retain_until: DateTime<Utc>,
    ) -> Result<PutOutcome> {
        let _lock = self.lock()?;
        self.put_locked(key, bytes, retain_until)
    }

    /// `put_once` with the lock already held.
    fn put_locked(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        retain_until: DateTime<Utc>,
    ) -> Result<PutOutcome> {
        if let Some(info) = self.head(key)? {
            return check_existing(key, &info, bytes);
        }
        let info = ObjectInfo {
            len: bytes.len() as u64,
            sha256: ContentHash::of(bytes),
            retain_until,
            legal_hold: LegalHold::Off,
        };
        let object = self.object(key);
        let sidecar = self.sidecar(key);
        for path in [&object, &sidecar] {
            if let Some(parent) = path.parent() {
                fsio::create_dirs(&self.root, parent)?;
            }
        }
        // The sidecar first: a crash in between leaves an orphan sidecar,
        // which the next put replaces, never an object without metadata.
        fsio::replace(&sidecar, &Sidecar::from_info(&info).encode()?)?;
        match fsio::write_new(&object, bytes)? {
            Published::Written => Ok(PutOutcome::Stored),
            Published::Existed => Err(Error::corrupt(
                key,
                "object appeared while its key was locked; another writer ignores the lock",
            )),
        }
    }

    fn put_many(&self, items: &[PutItem]) -> Result<BatchOutcomes> {
        let _lock = self.lock()?;
        let mut outcomes: Vec<Option<Result<PutOutcome>>> =
            std::iter::repeat_with(|| None).take(items.len()).collect();
        let mut staged = Vec::new();
        // A key's second occurrence is judged after the first is settled.
        let mut seen = HashSet::new();
        let mut repeated = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if !seen.insert(&item.key) {
                repeated.push(index);
                continue;
            }
            match self.stage(item) {
                Ok(Staging::Existing(outcome)) => set(&mut outcomes, index, outcome),
                Ok(Staging::Staged(stage)) => staged.push((index, stage)),
                Err(error) => set(&mut outcomes, index, Err(error)),
            }
        }

        // Bytes first: every staged file synced before any is published.
        let files: Vec<&File> = staged
            .iter()
            .flat_map(|(_, stage)| [stage.sidecar.as_file(), stage.object.as_file()])
            .collect();
        let synced = fsio::sync_files(&files);
        let mut ready = Vec::with_capacity(staged.len());
        for ((index, stage), results) in staged.into_iter().zip(synced.chunks(2)) {
            match results.iter().find_map(|result| result.as_ref().err()) {
                Some(error) => {
                    let failure = Error::backend(
                        format!("syncing a staged file of {}", items_key(items, index)),
                        std::io::Error::new(error.kind(), error.to_string()),
                    );
                    set(&mut outcomes, index, Err(failure));
                }
                None => ready.push((index, stage)),
            }
        }

        // Sidecars next, their directories made durable before any object
        // appears, so an object never exists without its sidecar.
        let mut published = Vec::with_capacity(ready.len());
        for (index, stage) in ready {
            let Stage {
                sidecar,
                sidecar_path,
                object,
                object_path,
            } = stage;
            match fsio::publish_replace(sidecar, &sidecar_path) {
                Ok(()) => published.push((index, (object, object_path, sidecar_path))),
                Err(error) => set(&mut outcomes, index, Err(error)),
            }
        }
        let published = sync_dirs(published, |(_, _, sidecar)| sidecar, &mut outcomes);

        let mut written = Vec::with_capacity(published.len());
        for (index, (object, object_path, _)) in published {
            match fsio::publish_new(object, &object_path) {
                Ok(fsio::Published::Written) => written.push((index, object_path)),
                Ok(fsio::Published::Existed) => set(
                    &mut outcomes,
                    index,
                    Err(Error::corrupt(
                        items_key(items, index),
                        "object appeared while its key was locked; another writer ignores the lock",
                    )),
                ),
                Err(error) => set(&mut outcomes, index, Err(error)),
            }
        }
        for (index, _) in sync_dirs(written, |path| path, &mut outcomes) {
            set(&mut outcomes, index, Ok(PutOutcome::Stored));
        }

        for index in repeated {
            if let Some(item) = items.get(index) {
                let outcome = self.put_locked(&item.key, &item.bytes, item.retain_until);
                set(&mut outcomes, index, outcome);
            }
        }
        Ok(outcomes
            .into_iter()
            .enumerate()
            .map(|(index, outcome)| {
                outcome.unwrap_or_else(|| {
                    Err(Error::backend(
                        format!("storing {}", items_key(items, index)),
                        "the batch left this object without an outcome",
                    ))
                })
            })
            .collect())
    }

    /// The outcome of an existing key, or the new object and its sidecar
    /// staged beside their destinations (unsynced).
    fn stage(&self, item: &PutItem) -> Result<Staging> {
        if let Some(info) = self.head(&item.key)? {
            return Ok(Staging::Existing(check_existing(
                &item.key,
                &info,
                &item.bytes,
            )));
        }
        let info = ObjectInfo {
            len: item.bytes.len() as u64,
            sha256: ContentHash::of(&item.bytes),
            retain_until: item.retain_until,
            legal_hold: LegalHold::Off,
        };
        let object_path = self.object(&item.key);
        let sidecar_path = self.sidecar(&item.key);
        for path in [&object_path, &sidecar_path] {
            if let Some(parent) = path.parent() {
                fsio::create_dirs(&self.root, parent)?;
            }
        }
        let sidecar = fsio::stage_unsynced(&sidecar_path, &Sidecar::from_info(&info).encode()?)?;
        let object = fsio::stage_unsynced(&object_path, &item.bytes)?;
        Ok(Staging::Staged(Stage {
            sidecar,
            sidecar_path,
            object,
            object_path,
        }))
    }

    fn delete(&self, key: &ObjectKey, now: DateTime<Utc>) -> Result<()> {
        let _lock = self.lock()?;
        let info = self.require(key)?;
        check_deletable(key, &info, now)?;
        fsio::remove(&self.object(key))?;
        fsio::remove(&self.sidecar(key))
    }

    fn update(
        &self,
        key: &ObjectKey,
        change: impl FnOnce(&mut ObjectInfo) -> Result<bool>,
    ) -> Result<()> {
        let _lock = self.lock()?;
        let mut info = self.require(key)?;
        if change(&mut info)? {
            fsio::replace(&self.sidecar(key), &Sidecar::from_info(&info).encode()?)?;
        }
        Ok(())
    }

    fn get(&self, key: &ObjectKey) -> Result<Vec<u8>> {
        let info = self.require(key)?;
        let bytes = fsio::read_optional(&self.object(key))?.ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })?;
        if ContentHash::of(&bytes) != info.sha256 {
            return Err(Error::corrupt(
                key,
                "bytes do not match the recorded sha256",
            ));
        }
        Ok(bytes)
    }
}

/// A new object of a batch, written but not yet synced or published.
struct Stage {
    sidecar: tempfile::NamedTempFile,
    sidecar_path: PathBuf,
    object: tempfile::NamedTempFile,
    object_path: PathBuf,
}

enum Staging {
    /// The key was taken: `AlreadyStored` or `Conflict`.
    Existing(Result<PutOutcome>),
    Staged(Stage),
}

fn set(outcomes: &mut [Option<Result<PutOutcome>>], index: usize, outcome: Result<PutOutcome>) {
    if let Some(slot) = outcomes.get_mut(index) {
        *slot = Some(outcome);
    }
}

fn items_key(items: &[PutItem], index: usize) -> String {
    items
        .get(index)
        .map_or_else(|| format!("item {index}"), |item| item.key.to_string())
}

/// fsyncs each distinct parent directory of the entries' paths once and
/// keeps the entries whose directory synced; the others get the error.
fn sync_dirs<T>(
    entries: Vec<(usize, T)>,
    path: impl Fn(&T) -> &PathBuf,
    outcomes: &mut [Option<Result<PutOutcome>>],
) -> Vec<(usize, T)> {
    let mut by_dir: BTreeMap<PathBuf, Vec<(usize, T)>> = BTreeMap::new();
    for entry in entries {
        let dir = path(&entry.1)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        by_dir.entry(dir).or_default().push(entry);
    }
    let mut kept = Vec::new();
    for (dir, entries) in by_dir {
        match File::open(&dir).and_then(|handle| handle.sync_all()) {
            Ok(()) => kept.extend(entries),
            Err(error) => {
                for (index, _) in entries {
                    let copy = std::io::Error::new(error.kind(), error.to_string());
                    set(
                        outcomes,
                        index,
                        Err(fsio::io_error("syncing directory", &dir, copy)),
                    );
                }
            }
        }
    }
    kept
}

impl WormStore for LocalWormStore {
    fn put_once<'a>(
        &'a self,
        key: &'a ObjectKey,
        bytes: Vec<u8>,
        retain_until: DateTime<Utc>,
    ) -> BoxFuture<'a, PutOutcome> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| dirs.put_once(&key, &bytes, retain_until)))
    }

    fn put_many(&self, items: Vec<PutItem>) -> BoxFuture<'_, BatchOutcomes> {
        Box::pin(self.blocking(move |dirs| dirs.put_many(&items)))
    }

    fn get<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Vec<u8>> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| dirs.get(&key)))
    }

    fn head<'a>(&'a self, key: &'a ObjectKey) -> BoxFuture<'a, Option<ObjectInfo>> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| dirs.head(&key)))
    }

    fn list<'a>(
        &'a self,
        prefix: &'a KeyPrefix,
        after: Option<&'a ObjectKey>,
        limit: usize,
    ) -> BoxFuture<'a, Vec<ObjectKey>> {
        let prefix = prefix.clone();
        let after = after.cloned();
        Box::pin(
            self.blocking(move |dirs| list::list(&dirs.objects, &prefix, after.as_ref(), limit)),
        )
    }

    fn delete<'a>(&'a self, key: &'a ObjectKey, now: DateTime<Utc>) -> BoxFuture<'a, ()> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| dirs.delete(&key, now)))
    }

    fn set_legal_hold<'a>(&'a self, key: &'a ObjectKey, hold: LegalHold) -> BoxFuture<'a, ()> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| {
            dirs.update(&key, |info| {
                let changed = info.legal_hold != hold;
                info.legal_hold = hold;
                Ok(changed)
            })
        }))
    }

    fn extend_retention<'a>(
        &'a self,
        key: &'a ObjectKey,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, ()> {
        let key = key.clone();
        Box::pin(self.blocking(move |dirs| {
            dirs.update(&key, |info| {
                let later = check_extension(&key, info, until)?;
                info.retain_until = until;
                Ok(later)
            })
        }))
    }

    fn retention_guarantee(&self, _retention_days: u32) -> BoxFuture<'_, RetentionGuarantee> {
        // Files are published read-only and the server refuses deletion and
        // overwriting before retain-until; nothing else writes the store.
        Box::pin(async { Ok(RetentionGuarantee::Guaranteed) })
    }
}
