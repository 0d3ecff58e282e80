//! Paged listing of the object tree in key byte order, holding at most one
//! page of names in memory.
//!
//! A directory's entries sort by their full key with a trailing `/`, which
//! is exactly where its keys fall among its siblings in byte order (`a-b`
//! sorts before `a/c` because `-` is below `/`). Each directory is scanned
//! keeping only the smallest entries still needed; a directory that yields
//! fewer keys than expected is followed by a rescan after the last entry
//! visited.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::local::fsio;
use crate::{KeyPrefix, MAX_LIST_LIMIT, ObjectKey, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

/// The bounds every entry is checked against.
#[derive(Debug, Clone, Copy)]
struct Window<'a> {
    prefix: &'a str,
    after: Option<&'a str>,
}

pub(crate) fn list(
    objects: &Path,
    prefix: &KeyPrefix,
    after: Option<&ObjectKey>,
    limit: usize,
) -> Result<Vec<ObjectKey>> {
    let limit = limit.min(MAX_LIST_LIMIT);
    let window = Window {
        prefix: prefix.as_str(),
        after: after.map(ObjectKey::as_str),
    };
    let mut out = Vec::new();
    walk(objects, "", window, limit, &mut out)?;
    Ok(out)
}

fn walk(
    dir: &Path,
    rel: &str,
    window: Window<'_>,
    limit: usize,
    out: &mut Vec<ObjectKey>,
) -> Result<()> {
    let mut cursor: Option<String> = None;
    loop {
        let wanted = limit.saturating_sub(out.len());
        if wanted == 0 {
            return Ok(());
        }
        let batch = smallest_entries(dir, rel, window, cursor.as_deref(), wanted)?;
        if batch.is_empty() {
            return Ok(());
        }
        for (sort_key, kind) in batch {
            match kind {
                Kind::File => out.push(ObjectKey::parse(&sort_key)?),
                Kind::Dir => {
                    let name = sort_key
                        .strip_prefix(rel)
                        .and_then(|rest| rest.strip_suffix('/'))
                        .unwrap_or_default();
                    walk(&dir.join(name), &sort_key, window, limit, out)?;
                }
            }
            if out.len() >= limit {
                return Ok(());
            }
            cursor = Some(sort_key);
        }
    }
}

/// The `wanted` smallest entries of `dir` inside the window and after
/// `cursor`, by sort key.
fn smallest_entries(
    dir: &Path,
    rel: &str,
    window: Window<'_>,
    cursor: Option<&str>,
    wanted: usize,
) -> Result<BTreeMap<String, Kind>> {
    let mut best = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Removed by a concurrent delete: it holds nothing any more.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(best),
        Err(error) => return Err(fsio::io_error("listing", dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| fsio::io_error("listing", dir, error))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let file_type = entry
            .file_type()
            .map_err(|error| fsio::io_error("listing", &entry.path(), error))?;
        // Temporary files start with a dot, and nothing else we write is
        // neither a file nor a directory (symlinks are never followed).
        let kind = match file_type {
            t if t.is_file() => Kind::File,
            t if t.is_dir() => Kind::Dir,
            _ => continue,
        };
        if name.starts_with('.') {
            continue;
        }
        let sort_key = match kind {
            Kind::File => format!("{rel}{name}"),
            Kind::Dir => format!("{rel}{name}/"),
        };
        if !inside(&sort_key, kind, window) || cursor.is_some_and(|c| sort_key.as_str() <= c) {
            continue;
        }
        if kind == Kind::File && ObjectKey::parse(&sort_key).is_err() {
            continue;
        }
        best.insert(sort_key, kind);
        if best.len() > wanted {
            best.pop_last();
        }
    }
    Ok(best)
}

/// Whether an entry can hold keys inside the window: a file must match it,
/// a directory must be able to contain a key that does.
fn inside(sort_key: &str, kind: Kind, window: Window<'_>) -> bool {
    match kind {
        Kind::File => {
            sort_key.starts_with(window.prefix) && window.after.is_none_or(|a| sort_key > a)
        }
        Kind::Dir => {
            (sort_key.starts_with(window.prefix) || window.prefix.starts_with(sort_key))
                && window
                    .after
                    .is_none_or(|a| sort_key > a || a.starts_with(sort_key))
        }
    }
}
