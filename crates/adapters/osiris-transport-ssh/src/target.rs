//! [`SshTarget`]: the `USER@HOST[:PORT]` form used on the command line.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A login user, a host and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    user: String,
    host: String,
    port: u16,
}

impl SshTarget {
    /// The login user.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host name or IP address (IPv6 without brackets).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for SshTarget {
    type Err = Error;

    /// Parses `USER@HOST`, `USER@HOST:PORT` or `USER@[IPV6]:PORT`; the port defaults to 22.
    fn from_str(spec: &str) -> Result<Self, Error> {
        let refuse = |reason: &str| Error::TargetSpec {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (user, rest) = spec
            .rsplit_once('@')
            .ok_or_else(|| refuse("the login user is missing"))?;
        if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c == ':') {
            return Err(refuse("the login user is empty or has spaces or colons"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| refuse("an IPv6 address needs its closing bracket"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| refuse("expected :PORT after the bracketed address"))?,
                    ),
                ),
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty()
            || host
                .chars()
                .any(|c| c.is_whitespace() || "[]@/,".contains(c))
        {
            return Err(refuse("the host is empty or has spaces or [ ] @ / ,"));
        }
        let port = match port {
            None => 22,
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| refuse("the port must be a number from 1 to 65535"))?,
        };
        Ok(Self {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn user_host_and_optional_port_parse() {
        let target: SshTarget = "root@10.0.0.5".parse().unwrap();
        assert_eq!(
            (target.user(), target.host(), target.port()),
            ("root", "10.0.0.5", 22)
        );
        let target: SshTarget = "osiris@db01.clinic.local:2222".parse().unwrap();
        assert_eq!(target.port(), 2222);
        let target: SshTarget = "ops@[fe80::1]:2200".parse().unwrap();
        assert_eq!((target.host(), target.port()), ("fe80::1", 2200));
    }

    #[test]
    fn malformed_targets_name_the_problem() {
        for (spec, needle) in [
            ("10.0.0.5", "login user is missing"),
            ("@host", "login user"),
            ("root@", "host is empty"),
            ("root@host:0", "port"),
            ("root@host:99999", "port"),
            ("root@host:ssh", "port"),
            ("root@[::1", "closing bracket"),
            ("root@[::1]2222", ":PORT"),
        ] {
            let err = spec.parse::<SshTarget>().unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_display_round_trips(spec in "\\PC{0,40}") {
            if let Ok(target) = spec.parse::<SshTarget>() {
                let again: SshTarget = target.to_string().parse().unwrap();
                prop_assert_eq!(again, target);
            }
        }

        #[test]
        fn generated_targets_round_trip(user in "[a-z_][a-z0-9_-]{0,15}", host in "[a-z0-9.-]{1,30}", port in 1u16..) {
            let target: SshTarget = format!("{user}@{host}:{port}").parse().unwrap();
            prop_assert_eq!(target.to_string().parse::<SshTarget>().unwrap(), target);
        }
    }
}
