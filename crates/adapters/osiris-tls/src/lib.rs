//! Central Command's TLS.
//!
//! [`TlsMaterial`] holds the server's certificate chain and key. On first
//! start [`TlsMaterial::load_or_create`] makes a self-signed CA (ECDSA
//! P-256, 10 years) and a server certificate it signs (1 year) in a
//! directory, loads them on later starts, and issues a new server
//! certificate, under the same CA, when the old one nears expiry or the
//! configured names change. In production the operator's own files come in
//! through [`TlsMaterial::from_operator_files`]. The CA's
//! [`Fingerprint`] is what an appliance pins at enrolment.
//!
//! [`serve_tls`] is the HTTPS accept loop for an axum router (axum's own
//! `serve` has no TLS): handshake deadline, HTTP/1.1, graceful shutdown,
//! and a [`PeerTls`] extension on every request.
//!
//! The only crypto provider is rustls's ring provider, passed explicitly.
//! The crate never reads the clock: certificate validity is decided at the
//! `now` the caller passes. It depends on `osiris-core` only among Osiris
//! crates and must not depend on engines, apps or the binary.

#![warn(missing_docs)]

mod error;
mod files;
mod fingerprint;
mod inspect;
mod issue;
mod material;
mod names;
mod serve;

pub use error::{Error, Result};
pub use fingerprint::Fingerprint;
pub use material::{
    CA_CERT_FILE, CA_KEY_FILE, Origin, RENEW_BEFORE, SERVER_CERT_FILE, SERVER_KEY_FILE, TlsMaterial,
};
pub use names::DEFAULT_NAMES;
pub use serve::{PeerTls, ServeOptions, serve_tls, serve_tls_with};
