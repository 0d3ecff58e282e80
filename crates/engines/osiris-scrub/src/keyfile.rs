//! The key file: the crate's only file access, used by the CLI and the
//! appliance at start-up. Scrubbing itself never touches the filesystem.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::key::ScrubKey;

/// Reads a key file written by [`create_key_file`] (64 hex digits).
///
/// # Errors
/// [`Error::KeyFilePermissions`] when group or others may read or write it,
/// [`Error::KeyFile`] when it cannot be read, [`Error::KeyFormat`] when the
/// content is not a key.
pub fn load_key_file(path: &Path) -> Result<ScrubKey> {
    let io = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Checked on the open handle, so the file read is the file checked.
    check_private(path, &file)?;
    let mut text = String::new();
    file.take(256).read_to_string(&mut text).map_err(io)?;
    let key = ScrubKey::from_hex(&text);
    // Wipe the hex text too; the key itself lives in a zeroizing Secret.
    // SAFETY-free: overwrite through a byte vector we own.
    let mut bytes = text.into_bytes();
    bytes.iter_mut().for_each(|b| *b = 0);
    key
}

/// Generates a key and writes it to a new file readable by its owner only.
/// An existing file is never overwritten.
///
/// # Errors
/// [`Error::KeyFile`] when the file exists or cannot be written.
pub fn create_key_file(path: &Path) -> Result<ScrubKey> {
    let io = |source| Error::KeyFile {
        path: path.to_owned(),
        source,
    };
    let key = ScrubKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    let hex = key.to_hex();
    file.write_all(hex.expose().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(key)
}

#[cfg(unix)]
fn check_private(path: &Path, file: &std::fs::File) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| Error::KeyFile {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 == 0 {
        Ok(())
    } else {
        Err(Error::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        })
    }
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &std::fs::File) -> Result<()> {
    Ok(())
}
