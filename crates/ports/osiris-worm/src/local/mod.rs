//! The write-once directory backend: every object is a read-only file under
//! `objects/<key>`, described by a read-only sidecar `meta/<key>` (SHA-256,
//! length, retention date, legal hold).
//!
//! The sidecar is written before the object, so an object that exists
//! always has its sidecar. The object is published without clobbering
//! (`persist_noclobber`), so even a second process cannot replace it;
//! mutations take an exclusive lock on `<root>/.lock`.

mod fsio;
mod list;
mod sidecar;
mod verify;

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    BoxFuture, ContentHash, Error, KeyPrefix, LegalHold, ObjectInfo, ObjectKey, PutOutcome, Result,
    RetentionGuarantee, WormStore, check_deletable, check_existing, check_extension,
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
