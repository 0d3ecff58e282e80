//! The one error type of the client: a configuration it cannot use.
//! Failures of a call are [`osiris_planner::ModelError`]s.

/// The result of building a client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a [`crate::ChatModel`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No endpoint is configured.
    #[error("no model endpoint is configured; name a local one, a hosted one or both")]
    NoEndpoint,
    /// An endpoint's URL is unusable.
    #[error("endpoint {name}: base_url {url:?} {reason}")]
    BadUrl {
        /// The endpoint's name.
        name: String,
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An endpoint setting is out of range.
    #[error("endpoint {name}: {reason}")]
    BadSetting {
        /// The endpoint's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("the HTTP client cannot be built")]
    Client(#[source] reqwest::Error),
    /// The TLS configuration could not be built.
    #[error("the TLS configuration cannot be built")]
    Tls(#[source] rustls::Error),
}
