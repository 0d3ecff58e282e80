//! The credentials vault of Central Command: target credentials (WinRM
//! passwords, SSH passwords and keys) sealed at rest with
//! XChaCha20-Poly1305 under a versioned [`KeyRing`] that is kept outside
//! the database, in a key file or an environment variable.
//!
//! - [`KeyRing::seal`] turns a [`Secret`](osiris_core::Secret) into a
//!   [`SealedCredential`](osiris_core::SealedCredential) under the current
//!   key with a fresh random 24-byte nonce; [`KeyRing::open`] reverses it;
//!   [`KeyRing::reseal`] moves a credential to the current key (rotation).
//! - The AAD binds each ciphertext to its site id, credential id and key
//!   version, so a row copied to another site or another credential, or
//!   relabelled with another key version, does not open.
//! - [`keyring`] reads and writes the key file (mode 0600, refused when
//!   group or others may access it) and parses the environment form.
//!
//! Keys are wiped from memory on drop and never printed. The crate reads
//! no clock and does no I/O other than the key file and the variable.
//! It must not depend on the store, a database driver or an async runtime:
//! the server seals here and hands the sealed form to the store.

mod error;
pub mod keyring;
mod ring;
mod seal;

pub use error::{Error, Result};
pub use ring::{KEY_LEN, KeyRing};
