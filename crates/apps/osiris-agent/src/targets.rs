//! Opening one session to one configured target: WinRM, SSH or the
//! appliance itself. A sweep opens one session per host and runs every
//! check over it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use osiris_core::Secret;
use osiris_transport::{Credentials, LocalTransport, Transport};
use osiris_transport_ssh::{KnownHosts, Privilege, SshConfig, SshTransport};
use osiris_transport_winrm::WinrmOptions;

use crate::config::{Connection, CredentialsRef, TargetConfig};

/// How long connecting, the handshake and the login may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a target could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Its secret could not be read.
    #[error("target {target}: {what}")]
    Credentials {
        /// The target's name.
        target: String,
        /// What is missing (never the secret).
        what: String,
    },
    /// The address does not parse.
    #[error("target {target}: {what}")]
    Address {
        /// The target's name.
        target: String,
        /// What is wrong.
        what: String,
    },
    /// Connecting or logging in failed.
    #[error(transparent)]
    Transport(#[from] osiris_transport::Error),
    /// The SSH session could not be set up (key, known hosts).
    #[error(transparent)]
    Ssh(osiris_transport_ssh::Error),
}

/// Reads secrets by name: the process environment in the binary, a map
/// in tests.
pub type EnvLookup = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Opens a session to `target`.
///
/// # Errors
/// [`TargetError`] naming the target and what failed.
pub async fn connect(
    target: &TargetConfig,
    data_dir: &Path,
    env: &EnvLookup,
) -> Result<Box<dyn Transport>, TargetError> {
    match target.connection {
        Connection::Local => Ok(Box::new(LocalTransport::new(target.name.clone()))),
        Connection::Ssh => {
            let (host, port) =
                split_host_port(&target.address, 22).ok_or_else(|| TargetError::Address {
                    target: target.name.clone(),
                    what: format!("{} is not host[:port]", target.address),
                })?;
            let config = SshConfig {
                name: target.name.clone(),
                host,
                port,
                credentials: credentials(target, env)?,
                known_hosts: KnownHosts::new(known_hosts_file(data_dir)),
                privilege: if target.sudo {
                    Privilege::Sudo
                } else {
                    Privilege::Login
                },
                connect_timeout: CONNECT_TIMEOUT,
            };
            let session = SshTransport::connect(config)
                .await
                .map_err(|error| match error {
                    osiris_transport_ssh::Error::Transport(error) => TargetError::Transport(error),
                    other => TargetError::Ssh(other),
                })?;
            Ok(Box::new(session))
        }
        Connection::Winrm => {
            let mut options = WinrmOptions {
                connect_timeout: CONNECT_TIMEOUT,
                ..WinrmOptions::default()
            };
            if let Some(pin) = &target.cert_sha256 {
                options.tls.pin_sha256 =
                    Some(decode_pin(pin).ok_or_else(|| TargetError::Address {
                        target: target.name.clone(),
                        what: "cert_sha256 is not 64 hex digits".to_owned(),
                    })?);
            }
            let credentials = credentials(target, env)?;
            let transport = osiris_transport_winrm::connect(
                &target.name,
                &target.address,
                &credentials,
                &options,
            )
            .await?;
            Ok(Box::new(transport))
        }
    }
}

/// Where SSH host keys are pinned on first contact.
#[must_use]
pub fn known_hosts_file(data_dir: &Path) -> PathBuf {
    data_dir.join("known_hosts")
}

fn credentials(target: &TargetConfig, env: &EnvLookup) -> Result<Credentials, TargetError> {
    let missing = |what: String| TargetError::Credentials {
        target: target.name.clone(),
        what,
    };
    let Some(CredentialsRef {
        user,
        password_env,
        password_file,
        key_file,
    }) = &target.credentials
    else {
        return Err(missing("has no credentials configured".to_owned()));
    };
    if let Some(var) = password_env {
        let password = env(var)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| missing(format!("environment variable {var} is not set or empty")))?;
        return Ok(Credentials::Password {
            user: user.clone(),
            password: Secret::new(password),
        });
    }
    if let Some(file) = password_file {
        let text = read_secret_file(file).map_err(missing)?;
        return Ok(Credentials::Password {
            user: user.clone(),
            password: Secret::new(text.trim_end_matches(['\r', '\n']).to_owned()),
        });
    }
    if let Some(file) = key_file {
        let key = read_secret_file(file).map_err(missing)?;
        return Ok(Credentials::PrivateKey {
            user: user.clone(),
            key: Secret::new(key),
            passphrase: None,
        });
    }
    Err(missing("credentials name no password or key".to_owned()))
}

/// Reads a secret file, refusing one that others can read: a password
/// readable by every local user is not a secret.
pub(crate) fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is accessible by group or others; chmod 600 it",
            path.display()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn split_host_port(address: &str, default_port: u16) -> Option<(String, u16)> {
    let address = address.trim();
    if address.is_empty() {
        return None;
    }
    // [v6]:port, v6 alone, host:port, host.
    if let Some(rest) = address.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if tail.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    if address.matches(':').count() > 1 {
        return Some((address.to_owned(), default_port));
    }
    match address.split_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_owned(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((address.to_owned(), default_port)),
    }
}

fn decode_pin(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0_u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_host_port("ehr01", 22), Some(("ehr01".into(), 22)));
        assert_eq!(
            split_host_port("10.0.0.5:2222", 22),
            Some(("10.0.0.5".into(), 2222))
        );
        assert_eq!(
            split_host_port("[fe80::1]:2200", 22),
            Some(("fe80::1".into(), 2200))
        );
        assert_eq!(split_host_port("fe80::1", 22), Some(("fe80::1".into(), 22)));
        assert_eq!(split_host_port("ehr01:ssh", 22), None);
        assert_eq!(split_host_port(":22", 22), None);
        assert_eq!(split_host_port("", 22), None);
    }

    #[test]
    fn a_world_readable_password_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = read_secret_file(&file).unwrap_err();
        assert!(error.contains("chmod 600"), "{error}");
        assert!(!error.contains("s3cret"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file(&file).unwrap(), "s3cret\n");
    }

    #[test]
    fn pins_decode_from_hex() {
        assert_eq!(decode_pin(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(decode_pin("abc"), None);
        assert_eq!(decode_pin(&"zz".repeat(32)), None);
    }
}
