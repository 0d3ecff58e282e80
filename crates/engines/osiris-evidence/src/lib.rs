//! The evidence contract: `osiris.evidence.v1` bundles and `osiris.export.v1`
//! exports, exactly as SPEC.md ("Contracts") defines them.
//!
//! - [`canonical`]: RFC 8785 (JCS) canonical bytes, the only form in which
//!   evidence is hashed, signed, stored and sent.
//! - [`keys`]: Ed25519 key pairs in PKCS#8 PEM files (mode 0600), public keys
//!   and their `key_id`.
//! - [`bundle`]: drafting a bundle and sealing it into the appliance's hash
//!   chain ([`Sealer`]); a sealed bundle is its canonical bytes, never
//!   re-serialized.
//! - [`parse`]: reading one bundle line without trusting it.
//! - [`checkpoint`]: server-signed statements of how long a chain was.
//! - [`merkle`]: RFC 6962/9162 Merkle trees over a chain and inclusion
//!   proofs, so one bundle verifies alone.
//! - [`export`]: writing and opening exports (directory or `.tar.gz`).
//! - [`verify`]: the offline verifier an auditor runs.
//!
//! This crate is an engine: no clock (times are passed in), no network, and
//! file I/O only for key files and exports. It must not depend on the
//! server, the agent or any storage adapter.

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
mod error;
pub mod export;
pub mod keys;
pub mod merkle;
pub mod parse;
pub mod verify;

pub use bundle::{Artifact, BundleDraft, ChainHash, ChainHead, Kind, SealedBundle, Sealer};
pub use checkpoint::Checkpoint;
pub use error::{Error, Result};
pub use export::{
    ApplianceExport, ExportFormat, ExportWriter, Manifest, ManifestAppliance, ProofLine,
};
pub use keys::{KeyId, KeyPair, PublicKey};
pub use verify::{Failure, Progress, Report, VerifyOptions, verify_export};
