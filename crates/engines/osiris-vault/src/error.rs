//! The crate's one error type. No message ever contains key material or
//! plaintext: at most a key version, a path, a line number or a setting.

use std::path::PathBuf;

/// The result of a vault call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a key ring could not be loaded or a credential could not be sealed
/// or opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the key file failed.
    #[error("vault key file {path}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read or written by other users.
    #[error(
        "vault key file {path} is accessible by group or others (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is too large to be one.
    #[error("vault key file {path} is larger than {limit} bytes: not a key file")]
    KeyFileTooLarge {
        /// The key file.
        path: PathBuf,
        /// The size limit.
        limit: u64,
    },
    /// The current key version is the last one; a new key cannot be added.
    #[error("vault key version {version} is the last possible one: no key can be added after it")]
    VersionsExhausted {
        /// The current version.
        version: u32,
    },
    /// One entry of the key file or key variable is malformed.
    #[error("vault keys in {origin}, line {line}: {reason}")]
    KeyFormat {
        /// The key file's path or the environment variable's name.
        origin: String,
        /// The 1-based line (file) or entry (variable) number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The key file or key variable holds no key at all.
    #[error("vault keys in {origin}: no key (expected lines like `v1:<base64 of 32 bytes>`)")]
    NoKeys {
        /// The key file's path or the environment variable's name.
        origin: String,
    },
    /// The key environment variable is unset or not Unicode.
    #[error("vault key environment variable {name} is not set or not valid Unicode")]
    KeyVariable {
        /// The variable's name.
        name: String,
    },
    /// The credential is sealed under a key version the ring lacks (an old
    /// version removed before every credential was re-sealed).
    #[error(
        "credential is sealed under vault key version {version}, which the key ring does not hold"
    )]
    UnknownKeyVersion {
        /// The credential's key version.
        version: u32,
    },
    /// Authentication failed: the ciphertext, nonce or key version was
    /// altered, or the credential is opened as another site's or another
    /// credential id's.
    #[error(
        "credential does not open under vault key version {version} (altered, or not this site's and id's)"
    )]
    Open {
        /// The key version it claimed.
        version: u32,
    },
    /// The opened credential is not UTF-8 (it was sealed by something else).
    #[error("opened credential is not valid UTF-8")]
    NotUtf8,
    /// The cipher refused to seal (a plaintext beyond its length limit).
    #[error("credential cannot be sealed: plaintext too long")]
    Seal,
    /// The operating system gave no randomness for a key or a nonce.
    #[error("no randomness for the vault: {0}")]
    Random(String),
}
