//! `http(s)://host[:port]/path` endpoints.

use crate::error::{Error, Result};

/// A parsed WinRM endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl Endpoint {
    /// Parses `http://host[:5985]/wsman` or `https://host[:5986]/wsman`;
    /// the path defaults to `/wsman`.
    ///
    /// # Errors
    /// [`Error::InvalidEndpoint`] naming what is wrong.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidEndpoint {
            url: url.to_owned(),
            reason,
        };
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid("scheme must be http or https"));
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/wsman"),
        };
        let default_port = if tls { 5986 } else { 5985 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("unclosed [ in ipv6 host"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => port.parse().map_err(|_| invalid("port is not a number"))?,
                None if after.is_empty() => default_port,
                None => return Err(invalid("unexpected text after ipv6 host")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (
                    host,
                    port.parse().map_err(|_| invalid("port is not a number"))?,
                ),
                None => (authority, default_port),
            }
        };
        if host.is_empty() || host.contains('@') {
            return Err(invalid("host is empty or carries user info"));
        }
        Ok(Self {
            url: url.to_owned(),
            tls,
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// The URL as given (used as `a:To`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the scheme is https.
    #[must_use]
    pub const fn is_tls(&self) -> bool {
        self.tls
    }

    /// Host name or address, without brackets.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// TCP port.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// Request path, e.g. `/wsman`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `host:port` for the `Host` header and for connecting.
    #[must_use]
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_with_default_ports_and_paths() {
        let e = Endpoint::parse("http://srv01").unwrap();
        assert_eq!(
            (e.host(), e.port(), e.path(), e.is_tls()),
            ("srv01", 5985, "/wsman", false)
        );
        let e = Endpoint::parse("https://[::1]:6000/wsman").unwrap();
        assert_eq!(
            (e.host(), e.port(), e.authority()),
            ("::1", 6000, "[::1]:6000".to_owned())
        );
    }

    #[test]
    fn bad_endpoints_are_refused() {
        for url in ["ftp://x", "http://", "http://h:port", "http://u@h/"] {
            assert!(Endpoint::parse(url).is_err(), "{url}");
        }
    }
}
