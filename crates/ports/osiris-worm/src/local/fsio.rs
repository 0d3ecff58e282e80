//! Crash-safe file writes: a temporary file in the destination directory,
//! fsynced, made read-only, then moved into place and the directory
//! fsynced, so a crash leaves either the whole file or none of it.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{Error, Result};

/// Read-only for everyone: our code refuses overwrites, and the mode stops
/// anything else that writes through the filesystem by accident.
const READ_ONLY: u32 = 0o444;

/// How a write-once publish ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// The file is in place.
    Written,
    /// A file already existed at the destination; it was left untouched.
    Existed,
}

/// Writes `bytes` to `path` unless a file is already there.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<Published> {
    let temp = stage(path, bytes)?;
    match temp.persist_noclobber(path) {
        Ok(_) => {}
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => {
            return Ok(Published::Existed);
        }
        Err(error) => return Err(io_error("publishing", path, error.error)),
    }
    sync_parent(path)?;
    Ok(Published::Written)
}

/// Writes `bytes` to `path`, atomically replacing what is there.
pub(crate) fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = stage(path, bytes)?;
    temp.persist(path)
        .map_err(|error| io_error("replacing", path, error.error))?;
    sync_parent(path)
}

/// Removes `path` and makes the removal durable.
pub(crate) fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|error| io_error("removing", path, error))?;
    sync_parent(path)
}

/// Creates `dir` and any missing parents up to `root`, fsyncing each new
/// directory's parent so the directory entries survive a crash.
pub(crate) fn create_dirs(root: &Path, dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && parent != root
    {
        create_dirs(root, parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(error) => return Err(io_error("creating directory", dir, error)),
    }
    sync_parent(dir)
}

/// Reads `path`, `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error("reading", path, error)),
    }
}

/// The I/O error for `action` on `path`.
pub(crate) fn io_error(action: &str, path: &Path, error: io::Error) -> Error {
    Error::backend(format!("{action} {}", path.display()), error)
}

fn stage(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let temp = stage_unsynced(path, bytes)?;
    temp.as_file()
        .sync_all()
        .map_err(|error| io_error("syncing", temp.path(), error))?;
    Ok(temp)
}

/// Writes `bytes` to a read-only temporary file beside `path` without
/// syncing it: the batch write syncs many such files at once
/// ([`sync_files`]) before publishing any of them.
pub(crate) fn stage_unsynced(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .ok_or_else(|| io_error("staging", path, io::ErrorKind::InvalidInput.into()))?;
    // A leading dot: no valid key names it, so listings never show it.
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|error| io_error("creating a temporary file in", dir, error))?;
    let file = temp.as_file_mut();
    file.write_all(bytes)
        .and_then(|()| file.set_permissions(Permissions::from_mode(READ_ONLY)))
        .map_err(|error| io_error("writing", temp.path(), error))?;
    Ok(temp)
}

fn sync_parent(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io_error("syncing", path, io::ErrorKind::InvalidInput.into()))?;
    sync_dir(dir)
}

/// Makes the entries of `dir` (renames, removals) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| io_error("syncing directory", dir, error))
}

/// Moves a synced temporary file to `path` unless a file is already
/// there, without syncing the directory (the caller syncs each directory
/// once for many files).
pub(crate) fn publish_new(temp: tempfile::NamedTempFile, path: &Path) -> Result<Published> {
    match temp.persist_noclobber(path) {
        Ok(_) => Ok(Published::Written),
        Err(error) if error.error.kind() == io::ErrorKind::AlreadyExists => Ok(Published::Existed),
        Err(error) => Err(io_error("publishing", path, error.error)),
    }
}

/// Moves a synced temporary file to `path`, replacing what is there,
/// without syncing the directory.
pub(crate) fn publish_replace(temp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    temp.persist(path)
        .map(drop)
        .map_err(|error| io_error("replacing", path, error.error))
}

/// How many fsyncs a batch keeps in flight. Journaling filesystems (ext4's
/// jbd2, XFS's log) fold concurrent fsyncs into one journal commit, so
/// syncing a batch's files in parallel costs about one commit per wave
/// instead of one per file (measured here: 1.6 ms per file one after the
/// other, about 0.25 ms per file sixteen at a time). Every file still gets
/// its own fsync and its own error, which is why this is preferred to one
/// `syncfs`: that flushes whatever else the machine wrote to the
/// filesystem, so its cost depends on other processes, and its error
/// cannot be tied to a file.
const SYNC_WORKERS: usize = 16;

/// fsyncs every file, up to [`SYNC_WORKERS`] at a time; one result per
/// file, in order.
pub(crate) fn sync_files(files: &[&File]) -> Vec<io::Result<()>> {
    let workers = SYNC_WORKERS.min(files.len());
    if workers <= 1 {
        return files.iter().map(|file| file.sync_all()).collect();
    }
    let mut results: Vec<io::Result<()>> = Vec::with_capacity(files.len());
    let done: Vec<Vec<(usize, io::Result<()>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                scope.spawn(move || {
                    files
                        .iter()
                        .enumerate()
                        .skip(worker)
                        .step_by(workers)
                        .map(|(index, file)| (index, file.sync_all()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    vec![(
                        usize::MAX,
                        Err(io::Error::other("an fsync worker panicked")),
                    )]
                })
            })
            .collect()
    });
    results.resize_with(files.len(), || {
        Err(io::Error::other("the file was not synced"))
    });
    for (index, result) in done.into_iter().flatten() {
        if let Some(slot) = results.get_mut(index) {
            *slot = result;
        }
    }
    results
}
