//! Reading and writing PEM files: private keys are created once with mode
//! 0600 and refused when other users can read them; certificates are
//! replaced atomically.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use osiris_core::Secret;

use crate::error::{Error, Result};

/// Whether `path` exists (without following a symlink's target).
pub(crate) fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The PEM text of a private key file, refusing one other users can access.
pub(crate) fn read_key_pem(path: &Path) -> Result<Secret<String>> {
    let metadata = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::KeyFileTooOpen {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path)
        .map(Secret::new)
        .map_err(|e| Error::io(path, e))
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_key_pem(path)?;
    PrivateKeyDer::from_pem_slice(pem.expose().as_bytes())
        .map_err(|e| Error::bad_file(path, format!("no usable PEM private key ({e})")))
}

/// Every certificate in a PEM file, in order; at least one.
pub(crate) fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = fs::read(path).map_err(|e| Error::io(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::bad_file(path, format!("malformed PEM certificate ({e})")))?;
    if certs.is_empty() {
        return Err(Error::bad_file(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// Writes a private key to a new file with mode 0600. Never overwrites: a
/// key that exists is loaded, not replaced.
pub(crate) fn write_new_key(path: &Path, pem: &Secret<String>) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all(pem.expose().as_bytes())
        .map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    sync_parent(path)
}

/// Replaces a certificate file atomically (write aside, then rename), so a
/// crash leaves either the old certificate or the new one.
pub(crate) fn replace_certificate(path: &Path, pem: &str) -> Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".new");
    let aside = Path::new(&aside);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(aside)
        .map_err(|e| Error::io(aside, e))?;
    file.write_all(pem.as_bytes())
        .map_err(|e| Error::io(aside, e))?;
    file.sync_all().map_err(|e| Error::io(aside, e))?;
    fs::rename(aside, path).map_err(|e| Error::io(path, e))?;
    sync_parent(path)
}

/// Creates the material directory (owner only) when it does not exist.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(parent, e))?;
    }
    Ok(())
}
