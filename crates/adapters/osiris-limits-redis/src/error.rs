//! The one error type of the Redis limiter.

/// The result of a Redis limiter call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a Redis limiter call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Redis URL does not parse (the URL itself is not shown: it may
    /// hold a password).
    #[error("redis url is invalid: {0}")]
    Url(#[source] redis::RedisError),
    /// The first connection to Redis failed.
    #[error("cannot connect to redis: {0}")]
    Connect(#[source] redis::RedisError),
    /// The GCRA script failed or answered something unexpected.
    #[error("redis rate limit script failed: {0}")]
    Script(#[source] redis::RedisError),
    /// The request itself is invalid (time out of range).
    #[error(transparent)]
    Limits(osiris_limits::Error),
}

impl Error {
    /// The port's error: invalid requests keep their kind, Redis failures
    /// become [`osiris_limits::Error::Backend`].
    pub(crate) fn into_port(self) -> osiris_limits::Error {
        match self {
            Self::Limits(error) => error,
            other => osiris_limits::Error::Backend(Box::new(other)),
        }
    }
}
