//! Simulated practice hosts for `osiris demo` and for tests.
//!
//! [`windows::WindowsLab`] is a Windows Server 2019 domain controller
//! stand-in: a WinRM endpoint on loopback speaking the real wire protocol
//! (NTLM with sealing, the shell resource, WS-Management faults) in front of
//! a data-driven [`windows::HostModel`] that answers the Osiris scripts and
//! whose state can drift and be remediated. Windows cannot run here; this
//! crate is what stands in for it, and independent clients (pywinrm) prove
//! the protocol side in its tests.
//!
//! Depends on `lib/winrm` for the protocol, on no engine.

pub mod windows;

/// Errors of the simulated hosts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host model file is invalid.
    #[error("host model: {0}")]
    Model(String),
    /// Drift injection named a key the model lacks.
    #[error("unknown host state key {0:?}")]
    UnknownStateKey(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTPS certificate or key was refused.
    #[error("tls configuration: {0}")]
    Tls(String),
    /// A lock was poisoned by a panic elsewhere.
    #[error("simulated host state is unavailable after an internal panic")]
    Poisoned,
    /// The server task ended.
    #[error("simulated host stopped")]
    Stopped,
}
