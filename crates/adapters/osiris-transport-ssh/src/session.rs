//! [`SshTransport`]: one authenticated connection, one channel per script.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use osiris_transport::{
    BoxFuture, Credentials, Error as PortError, MAX_OUTPUT_BYTES, Output, Script, Shell, Transport,
};
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Disconnect, Sig};

use crate::Error;
use crate::known_hosts::{KnownHosts, Pinning};

/// How to reach and log in to one SSH target. Built by the caller from the
/// inventory; there is deliberately no default.
#[derive(Debug, Clone)]
pub struct SshConfig {
    /// The target's inventory name, used in errors and evidence.
    pub name: String,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// A private key or a password, with the login user.
    pub credentials: Credentials,
    /// Where host keys are pinned.
    pub known_hosts: KnownHosts,
    /// Whether scripts run as the login user or through `sudo -n`.
    pub privilege: Privilege,
    /// The limit for each of the TCP connect, the SSH handshake and the login.
    pub connect_timeout: Duration,
}

/// Whose rights a script runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// As the login user.
    Login,
    /// As root through `sudo -n /bin/sh -c …`. The target needs a sudoers
    /// rule such as `osiris ALL=(root) NOPASSWD: /bin/sh`; `-n` makes a
    /// missing rule fail at once with sudo's message instead of waiting for a
    /// password prompt until the timeout.
    Sudo,
}

/// The host key the target presented, and what pinning did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// Its algorithm, such as `ssh-ed25519`.
    pub algorithm: String,
    /// Its SHA-256 fingerprint, `SHA256:…`.
    pub fingerprint: String,
    /// Whether it was pinned before or on this contact.
    pub pinning: Pinning,
}

/// An open SSH session to one target.
pub struct SshTransport {
    name: String,
    privilege: Privilege,
    handle: Handle<PinningHandler>,
    host_key: HostKey,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("name", &self.name)
            .field("privilege", &self.privilege)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

impl SshTransport {
    /// Connects, checks the host key against the known-hosts file (pinning
    /// it on first contact) and logs in.
    ///
    /// # Errors
    /// [`PortError::Unreachable`] when the target does not answer in time,
    /// [`PortError::IdentityChanged`] when its host key is not the pinned one,
    /// [`PortError::AuthRejected`] when the key or password is refused,
    /// [`Error::Key`] when the private key cannot be decoded, known-hosts
    /// errors when that file is unusable.
    pub async fn connect(config: SshConfig) -> Result<Self, Error> {
        let name = config.name.clone();
        let (user, key) = login(&config)?;
        let unreachable = |reason: String| PortError::Unreachable {
            target: name.clone(),
            reason,
        };
        let limit = config.connect_timeout;
        let stream = tokio::time::timeout(
            limit,
            tokio::net::TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| unreachable(format!("no tcp connection within {limit:?}")))?
        .map_err(|err| unreachable(format!("cannot connect to port {}: {err}", config.port)))?;
        // Scripts are small request/response exchanges; Nagle only adds latency.
        let _ = stream.set_nodelay(true);
        let presented = Arc::new(OnceLock::new());
        let handler = PinningHandler {
            target: name.clone(),
            host_entry: KnownHosts::host_entry(&config.host, config.port),
            known_hosts: config.known_hosts.clone(),
            presented: Arc::clone(&presented),
        };
        let ssh_config = Arc::new(client::Config {
            // A dead peer is noticed within about 90 s even while no script runs.
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            ..client::Config::default()
        });
        let mut handle =
            tokio::time::timeout(limit, client::connect_stream(ssh_config, stream, handler))
                .await
                .map_err(|_| unreachable(format!("no ssh handshake within {limit:?}")))?
                .map_err(|err| match err {
                    HandlerError::HostKey(err) => err,
                    HandlerError::Ssh(err) => PortError::Protocol {
                        target: name.clone(),
                        reason: format!("ssh handshake failed: {err}"),
                    }
                    .into(),
                })?;
        let host_key = presented
            .get()
            .cloned()
            .ok_or_else(|| PortError::Protocol {
                target: name.clone(),
                reason: "the handshake finished without a host key check".into(),
            })?;
        let accepted = tokio::time::timeout(
            limit,
            authenticate(&mut handle, &user, key, &config.credentials),
        )
        .await
        .map_err(|_| unreachable(format!("no answer to the login within {limit:?}")))?
        .map_err(|err| PortError::Protocol {
            target: name.clone(),
            reason: format!("login failed: {err}"),
        })?;
        if !accepted {
            return Err(PortError::AuthRejected { target: name, user }.into());
        }
        Ok(Self {
            name,
            privilege: config.privilege,
            handle,
            host_key,
        })
    }

    /// The host key the target presented.
    #[must_use]
    pub const fn host_key(&self) -> &HostKey {
        &self.host_key
    }

    async fn execute(&self, script: &Script) -> Result<Output, PortError> {
        if script.shell != Shell::Sh {
            return Err(PortError::Unsupported {
                target: self.name.clone(),
                shell: script.shell,
            });
        }
        let protocol = |reason: String| PortError::Protocol {
            target: self.name.clone(),
            reason,
        };
        let timeout = || PortError::Timeout {
            target: self.name.clone(),
            after: script.timeout,
        };
        let channel = tokio::time::timeout(script.timeout, self.handle.channel_open_session())
            .await
            .map_err(|_| timeout())?
            .map_err(|err| protocol(format!("cannot open a channel: {err}")))?;
        let (mut reader, writer) = channel.split();
        let exchange = async {
            writer
                .exec(true, self.privilege.command(&script.body, script.timeout))
                .await
                .map_err(|err| protocol(format!("cannot send the command: {err}")))?;
            let feed = async {
                if let Some(input) = &script.input {
                    writer
                        .data_bytes(input.clone())
                        .await
                        .map_err(|err| protocol(format!("cannot send stdin: {err}")))?;
                }
                writer
                    .eof()
                    .await
                    .map_err(|err| protocol(format!("cannot close stdin: {err}")))
            };
            // A failed stdin write is not the result: a script may exit without
            // reading its input, and a dropped connection shows in the output.
            let (_fed, collected) = tokio::join!(feed, collect(&mut reader));
            collected.map_err(|problem| match problem {
                Problem::TooLarge => PortError::OutputTooLarge {
                    target: self.name.clone(),
                },
                Problem::Refused => protocol("the server refused to run the command".into()),
                Problem::Closed => protocol(if self.handle.is_closed() {
                    "the connection closed mid-command".into()
                } else {
                    "the channel closed without an exit status".into()
                }),
            })
        };
        let result = tokio::time::timeout(script.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(timeout()));
        if result.is_err() {
            stop(&writer).await;
        }
        result
    }

    async fn disconnect(self) -> Result<(), PortError> {
        self.handle
            .disconnect(Disconnect::ByApplication, "sweep finished", "en")
            .await
            .map_err(|err| PortError::Protocol {
                target: self.name,
                reason: format!("cannot disconnect: {err}"),
            })
    }
}

impl Privilege {
    /// The command line sent to the login shell. `timeout(1)` puts the script
    /// in its own process group and kills the whole group a little after the
    /// client gives up, so a timed-out script cannot outlive its deadline on
    /// the target even if this connection is gone by then (a channel signal
    /// would reach only the shell, not the commands it started).
    fn command(self, body: &str, limit: Duration) -> String {
        let seconds = limit.as_secs().saturating_add(2);
        let bounded = format!("exec timeout -s KILL {seconds} /bin/sh -c {}", quote(body));
        match self {
            Self::Login => bounded,
            Self::Sudo => format!("exec sudo -n /bin/sh -c {}", quote(&bounded)),
        }
    }
}

/// Quotes `text` as one POSIX shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The login user and decoded key, checked before any network traffic.
fn login(config: &SshConfig) -> Result<(String, Option<PrivateKey>), Error> {
    match &config.credentials {
        Credentials::Password { user, .. } => Ok((user.clone(), None)),
        Credentials::PrivateKey {
            user,
            key,
            passphrase,
        } => {
            let passphrase = passphrase.as_ref().map(|p| p.expose().as_str());
            let key = russh::keys::decode_secret_key(key.expose(), passphrase).map_err(|err| {
                Error::Key {
                    target: config.name.clone(),
                    reason: err.to_string(),
                }
            })?;
            Ok((user.clone(), Some(key)))
        }
        Credentials::None => Err(Error::NoCredentials {
            target: config.name.clone(),
        }),
    }
}

async fn authenticate(
    handle: &mut Handle<PinningHandler>,
    user: &str,
    key: Option<PrivateKey>,
    credentials: &Credentials,
) -> Result<bool, russh::Error> {
    let result = match (key, credentials) {
        (Some(key), _) => {
            // RSA keys sign with the best SHA-2 hash the server offers; others ignore it.
            let hash = handle.best_supported_rsa_hash().await?.flatten();
            let key = PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            handle.authenticate_publickey(user, key).await?
        }
        (None, Credentials::Password { password, .. }) => {
            handle
                .authenticate_password(user, password.expose().as_str())
                .await?
        }
        (None, _) => return Ok(false),
    };
    Ok(result.success())
}

/// Why a channel ended without a usable result.
enum Problem {
    TooLarge,
    Refused,
    Closed,
}

/// Reads a channel to its end: stdout, stderr and the exit code.
async fn collect(reader: &mut ChannelReadHalf) -> Result<Output, Problem> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut exit_code = None;
    while let Some(message) = reader.wait().await {
        match message {
            ChannelMsg::Data { data } => append(&mut stdout, &data)?,
            ChannelMsg::ExtendedData { data, ext: 1 } => append(&mut stderr, &data)?,
            ChannelMsg::ExitStatus { exit_status } => {
                exit_code = Some(i32::try_from(exit_status).unwrap_or(i32::MAX));
            }
            // A signal-killed process has no code; report it as the shell would (128 + n).
            ChannelMsg::ExitSignal { signal_name, .. } => {
                exit_code = Some(128 + signal_number(&signal_name));
            }
            ChannelMsg::Failure => return Err(Problem::Refused),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    let exit_code = exit_code.ok_or(Problem::Closed)?;
    Ok(Output {
        exit_code,
        stdout,
        stderr,
    })
}

fn append(buffer: &mut Vec<u8>, data: &[u8]) -> Result<(), Problem> {
    if buffer.len() + data.len() > MAX_OUTPUT_BYTES {
        return Err(Problem::TooLarge);
    }
    buffer.extend_from_slice(data);
    Ok(())
}

/// Kills the remote command and closes its channel, best effort: the
/// connection stays usable for the rest of the sweep.
async fn stop(writer: &ChannelWriteHalf<client::Msg>) {
    let _ = writer.signal(Sig::KILL).await;
    let _ = writer.close().await;
}

const fn signal_number(signal: &Sig) -> i32 {
    match signal {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 0,
    }
}

impl Transport for SshTransport {
    fn target(&self) -> &str {
        &self.name
    }

    fn run<'a>(&'a mut self, script: &'a Script) -> BoxFuture<'a, Result<Output, PortError>> {
        Box::pin(self.execute(script))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), PortError>> {
        Box::pin(self.disconnect())
    }
}

/// Checks the server's host key against the known-hosts file during the handshake.
struct PinningHandler {
    target: String,
    host_entry: String,
    known_hosts: KnownHosts,
    presented: Arc<OnceLock<HostKey>>,
}

/// Why the handshake stopped: an SSH failure, or a host key that is refused.
#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    HostKey(Error),
}

impl From<russh::Error> for HandlerError {
    fn from(err: russh::Error) -> Self {
        Self::Ssh(err)
    }
}

impl client::Handler for PinningHandler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_key else {
            return Err(HandlerError::HostKey(
                PortError::IdentityChanged {
                    target: self.target.clone(),
                    detail: "the server presented a host certificate; only pinned host keys are \
                             supported"
                        .into(),
                }
                .into(),
            ));
        };
        let pinning = self
            .known_hosts
            .check_or_pin(&self.target, &self.host_entry, key)
            .map_err(HandlerError::HostKey)?;
        // Re-keying checks the key again; the first contact's verdict is the one to report.
        let _ = self.presented.set(HostKey {
            algorithm: key.algorithm().to_string(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            pinning,
        });
        Ok(true)
    }
}
