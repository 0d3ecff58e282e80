//! Where the vault keys come from: a key file or an environment variable,
//! never the database. This module is the crate's only I/O.
//!
//! # Key file format
//!
//! UTF-8 text, one key per line as `v<N>:<base64>`: `N` is the version
//! (decimal, 1 or more, each version once) and the base64 (standard
//! alphabet, padded) holds exactly 32 bytes. Blank lines and lines starting
//! with `#` are ignored. The highest version is the current one; order in
//! the file does not matter. For example:
//!
//! ```text
//! # osiris credential vault keys
//! v1:juiXETMMHM85ouZa0Su9ffSkou6Ff1O0gj8A/st70lI=
//! v2:VTKV5LhIvueBwwoMhqW3MTMIBuqsohTeGV5IdhuKYe4=
//! ```
//!
//! The file must be readable by its owner only (mode 0600); anything more
//! open is refused, as for the evidence and scrub keys.
//!
//! # Environment form
//!
//! The same entries separated by commas or whitespace
//! (`v1:<base64>,v2:<base64>`); a value that is a single bare base64 key
//! is version 1.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use osiris_core::Secret;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::ring::{KEY_LEN, KeyRing};

/// A key file larger than this is not a key file (about 1,000 versions).
const MAX_FILE_LEN: u64 = 64 * 1024;

const HEADER: &str = "# osiris credential vault keys: one `v<N>:<base64 of 32 bytes>` per line; \
                      the highest version seals, every version opens\n";

/// Reads the key ring from a key file written by [`create_key_file`].
///
/// # Errors
/// [`Error::KeyFilePermissions`] when group or others may access it,
/// [`Error::KeyFile`] when it cannot be read, [`Error::KeyFileTooLarge`]
/// past 64 KiB, [`Error::KeyFormat`] naming
/// the line when an entry is malformed, [`Error::NoKeys`] when it is empty.
pub fn load_key_file(path: &Path) -> Result<KeyRing> {
    let io = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    // Checked on the open handle, so the file read is the file checked.
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut buffer = String::new();
    let read = file.take(MAX_FILE_LEN + 1).read_to_string(&mut buffer);
    // Owned by a wiping `Secret` before the result is even looked at.
    let text = Secret::new(buffer);
    read.map_err(io)?;
    if text.expose().len() as u64 > MAX_FILE_LEN {
        return Err(Error::KeyFileTooLarge {
            path: path.to_owned(),
            limit: MAX_FILE_LEN,
        });
    }
    parse_key_file(&path.display().to_string(), text.expose())
}

/// Generates a ring with one key (version 1) and writes it to a new file
/// readable by its owner only, for the first start. An existing file is
/// never overwritten.
///
/// # Errors
/// [`Error::KeyFile`] when the file exists or cannot be written.
pub fn create_key_file(path: &Path) -> Result<KeyRing> {
    let ring = KeyRing::generate()?;
    write_new(path, &ring)?;
    sync_parent(path)?;
    Ok(ring)
}

/// Rotation, step one: adds a fresh key one version above the current one
/// to the key file (written beside it, then renamed over it) and returns
/// the new ring. Step two is [`KeyRing::reseal`] on every credential; only
/// then may old versions be deleted from the file.
///
/// # Errors
/// Those of [`load_key_file`], and [`Error::KeyFile`] when the new file
/// cannot be written (including a leftover `<name>.new` from a crash).
pub fn add_key_version(path: &Path) -> Result<KeyRing> {
    let ring = load_key_file(path)?.with_new_key()?;
    let staged = staging_path(path);
    write_new(&staged, &ring)?;
    std::fs::rename(&staged, path).map_err(|source| Error::KeyFile {
        path: path.to_owned(),
        source,
    })?;
    sync_parent(path)?;
    Ok(ring)
}

/// Reads the key ring from the environment variable `name` (the
/// environment form above).
///
/// # Errors
/// [`Error::KeyVariable`] when it is unset or not Unicode, otherwise those
/// of [`parse_key_variable`].
pub fn load_key_variable(name: &str) -> Result<KeyRing> {
    let value = Secret::new(std::env::var(name).map_err(|_| Error::KeyVariable {
        name: name.to_owned(),
    })?);
    parse_key_variable(name, value.expose())
}

/// Parses key file text; `origin` (the path) names the file in errors.
///
/// # Errors
/// [`Error::KeyFormat`] naming the 1-based line of the first bad entry,
/// [`Error::NoKeys`] when no line holds a key.
pub fn parse_key_file(origin: &str, text: &str) -> Result<KeyRing> {
    parse_entries(origin, text.lines())
}

/// Parses the environment form; `name` (the variable) names it in errors,
/// and an entry's number stands in for the line.
///
/// # Errors
/// As [`parse_key_file`].
pub fn parse_key_variable(name: &str, value: &str) -> Result<KeyRing> {
    let trimmed = value.trim();
    if !trimmed.is_empty() && !trimmed.contains(':') {
        let key = decode_key(trimmed).map_err(|reason| Error::KeyFormat {
            origin: name.to_owned(),
            line: 1,
            reason,
        })?;
        return KeyRing::from_versions(BTreeMap::from([(1, key)])).ok_or(Error::NoKeys {
            origin: name.to_owned(),
        });
    }
    parse_entries(name, value.split(|c: char| c == ',' || c.is_whitespace()))
}

fn parse_entries<'a>(origin: &str, entries: impl Iterator<Item = &'a str>) -> Result<KeyRing> {
    let mut keys = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (index, entry) in entries.enumerate() {
        let line = index + 1;
        let entry = entry.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let bad = |reason: String| Error::KeyFormat {
            origin: origin.to_owned(),
            line,
            reason,
        };
        let (version, key) = parse_entry(entry).map_err(bad)?;
        if let Some(first) = lines.insert(version, line) {
            return Err(bad(format!(
                "version {version} already given on line {first}"
            )));
        }
        keys.insert(version, key);
    }
    KeyRing::from_versions(keys).ok_or_else(|| Error::NoKeys {
        origin: origin.to_owned(),
    })
}

/// One `v<N>:<base64>` entry. Reasons never quote the key text.
fn parse_entry(entry: &str) -> std::result::Result<(u32, Secret<[u8; KEY_LEN]>), String> {
    let Some((label, key)) = entry.split_once(':') else {
        return Err("expected `v<N>:<base64 key>`".to_owned());
    };
    let digits = label
        .strip_prefix('v')
        .ok_or_else(|| "the version must be written `v<N>`, such as `v1`".to_owned())?;
    let version = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<u32>().ok())
        .flatten()
        .filter(|version| *version >= 1)
        .ok_or_else(|| "the version must be a whole number from 1 to 4294967295".to_owned())?;
    Ok((version, decode_key(key.trim())?))
}

fn decode_key(text: &str) -> std::result::Result<Secret<[u8; KEY_LEN]>, String> {
    let bytes = Secret::new(
        STANDARD
            .decode(text)
            .map_err(|_| "the key is not standard padded base64".to_owned())?,
    );
    let mut key = <[u8; KEY_LEN]>::try_from(bytes.expose().as_slice()).map_err(|_| {
        format!(
            "the key must be {KEY_LEN} bytes, got {}",
            bytes.expose().len()
        )
    })?;
    // The array is `Copy`: wipe the local once the secret holds its copy.
    let secret = Secret::new(key);
    key.zeroize();
    Ok(secret)
}

/// Writes `ring` to a new file at `path` with mode 0600, fsynced.
fn write_new(path: &Path, ring: &KeyRing) -> Result<()> {
    let io = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    // Sized up front so the text never reallocates and leaves key copies
    // behind in freed memory; the `Secret` wipes it when written.
    let per_key = "v4294967295:\n".len() + KEY_LEN.div_ceil(3) * 4;
    let mut content = String::with_capacity(HEADER.len() + per_key * ring.entries().count());
    content.push_str(HEADER);
    for (version, key) in ring.entries() {
        content.push('v');
        content.push_str(&version.to_string());
        content.push(':');
        STANDARD.encode_string(key, &mut content);
        content.push('\n');
    }
    let text = Secret::new(content);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(text.expose().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".new");
    path.with_file_name(name)
}

/// Makes a created or renamed file's directory entry durable.
fn sync_parent(path: &Path) -> Result<()> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| Error::KeyFile {
            path: parent.to_owned(),
            source,
        })
}
