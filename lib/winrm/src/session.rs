//! A WinRM session: one authenticated connection, shells on it, commands
//! in the shells.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::auth::{Authenticator, Basic, NtlmClient};
use crate::endpoint::Endpoint;
use crate::envelope::{
    CommandState, ReceiveOutput, Reply, ReplyBody, Request, RequestBody, RequestHeader,
    SIGNAL_TERMINATE,
};
use crate::error::{Error, Result};
use crate::fault::FaultKind;
use crate::framing;
use crate::http::{Connection, HttpReply};
use crate::powershell;
use crate::tls::TlsOptions;

const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// Which mechanism [`Session::connect`] builds from [`Credentials`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// NTLMv2; seals messages over HTTP.
    Ntlm,
    /// HTTP Basic; HTTPS only.
    Basic,
}

/// A user and password. The password never appears in `Debug`.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: Zeroizing<String>,
    mechanism: Mechanism,
}

impl Credentials {
    /// `user` as `DOMAIN\user` or `user@domain` for NTLM.
    #[must_use]
    pub fn new(user: &str, password: &str, mechanism: Mechanism) -> Self {
        Self {
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            mechanism,
        }
    }

    /// The user name as given.
    #[must_use]
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

/// Everything a session needs besides credentials.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// `w:OperationTimeout`: how long the server holds a Receive open.
    pub operation_timeout: Duration,
    /// How long a command may run before it is terminated.
    pub command_timeout: Duration,
    /// TCP+TLS connect deadline.
    pub connect_timeout: Duration,
    /// `w:MaxEnvelopeSize` in bytes.
    pub max_envelope_size: u32,
    /// Shell code page (65001 = UTF-8).
    pub codepage: u32,
    /// The most one command may print on one stream; beyond it the command
    /// is terminated with [`Error::OutputTooLarge`].
    pub max_output: usize,
    /// HTTPS trust.
    pub tls: TlsOptions,
}

impl SessionOptions {
    /// pywinrm-compatible defaults: 20 s operations, 150 KiB envelopes,
    /// UTF-8, with this command deadline.
    #[must_use]
    pub fn with_command_timeout(command_timeout: Duration) -> Self {
        Self {
            operation_timeout: Duration::from_secs(20),
            command_timeout,
            connect_timeout: Duration::from_secs(10),
            max_envelope_size: 153_600,
            codepage: 65001,
            max_output: 16 << 20,
            tls: TlsOptions::default(),
        }
    }
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Raw stdout bytes.
    pub stdout: Vec<u8>,
    /// Raw stderr bytes (CLIXML for PowerShell).
    pub stderr: Vec<u8>,
    /// Process exit code.
    pub exit_code: i64,
}

impl CommandOutput {
    /// stdout as text (lossy UTF-8).
    #[must_use]
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as console text, CLIXML decoded.
    #[must_use]
    pub fn stderr_text(&self) -> String {
        powershell::decode_clixml(&String::from_utf8_lossy(&self.stderr))
    }
}

/// An open shell on the remote host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellId(String);

impl ShellId {
    /// The id the server assigned.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One authenticated connection to one WinRM endpoint.
#[derive(Debug)]
pub struct Session {
    endpoint: Endpoint,
    options: SessionOptions,
    auth: Box<dyn Authenticator>,
    connection: Connection,
    basic_header: Option<Zeroizing<String>>,
}

impl Session {
    /// Connects and authenticates with NTLM or Basic from `credentials`.
    ///
    /// # Errors
    /// [`Error::Insecure`] for Basic over HTTP; connection, TLS and
    /// authentication errors otherwise.
    pub async fn connect(
        url: &str,
        credentials: &Credentials,
        options: SessionOptions,
    ) -> Result<Self> {
        let endpoint = Endpoint::parse(url)?;
        let auth: Box<dyn Authenticator> = match credentials.mechanism {
            Mechanism::Ntlm => Box::new(NtlmClient::new(
                &credentials.user,
                &credentials.password,
                endpoint.host(),
            )?),
            Mechanism::Basic => Box::new(Basic::new(&credentials.user, &credentials.password)),
        };
        Self::connect_with(endpoint, auth, options).await
    }

    /// Connects with any [`Authenticator`] (the extension point for Kerberos).
    ///
    /// # Errors
    /// As [`Session::connect`].
    pub async fn connect_with(
        endpoint: Endpoint,
        mut auth: Box<dyn Authenticator>,
        options: SessionOptions,
    ) -> Result<Self> {
        if !endpoint.is_tls() && !auth.connection_bound() {
            return Err(Error::Insecure(
                "basic authentication over http would send the password and soap in clear text; use https",
            ));
        }
        let mut connection =
            Connection::open(&endpoint, &options.tls, options.connect_timeout).await?;
        let timeout = options.connect_timeout;
        let mut basic_header = None;
        if auth.connection_bound() {
            handshake(&mut connection, auth.as_mut(), timeout).await?;
        } else {
            let token = Zeroizing::new(auth.step(None)?);
            basic_header = Some(Zeroizing::new(format!(
                "{} {}",
                auth.scheme(),
                BASE64.encode(token.as_slice())
            )));
        }
        Ok(Self {
            endpoint,
            options,
            auth,
            connection,
            basic_header,
        })
    }

    /// Changes how long later commands may run and how long each Receive
    /// is held open, e.g. per script of a sweep.
    pub const fn set_timeouts(&mut self, command: Duration, operation: Duration) {
        self.options.command_timeout = command;
        self.options.operation_timeout = operation;
    }

    /// The endpoint this session talks to.
    #[must_use]
    pub const fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn header(&self, shell: Option<&ShellId>) -> RequestHeader {
        RequestHeader {
            to: self.endpoint.url().to_owned(),
            message_id: format!("uuid:{}", uuid::Uuid::new_v4().to_string().to_uppercase()),
            operation_timeout: self.options.operation_timeout,
            max_envelope_size: self.options.max_envelope_size,
            shell_id: shell.map(|s| s.0.clone()),
        }
    }

    /// Sends one request and returns its reply body; faults become
    /// [`Error::Fault`].
    async fn exchange(&mut self, shell: Option<&ShellId>, body: RequestBody) -> Result<ReplyBody> {
        let request = Request {
            header: self.header(shell),
            body,
        };
        let action = request.body.action();
        let xml = request.to_xml()?;
        let http_timeout = self.options.operation_timeout + Duration::from_secs(10);
        let reply = if self.endpoint.is_tls() {
            let authorization = self.basic_header.as_ref().map(|h| h.as_str());
            self.connection
                .post(Some(SOAP_CONTENT_TYPE), authorization, xml, http_timeout)
                .await?
        } else {
            let (signature, sealed) = self.auth.seal(&xml)?.ok_or(Error::Insecure(
                "this mechanism cannot seal messages over http",
            ))?;
            let body = framing::encode(&signature, &sealed, xml.len());
            self.connection
                .post(Some(framing::CONTENT_TYPE), None, body, http_timeout)
                .await?
        };
        let soap = self.open_reply(reply)?;
        let reply = Reply::parse(&soap, action)?;
        if reply
            .relates_to
            .as_deref()
            .is_some_and(|r| r != request.header.message_id)
        {
            return Err(Error::Protocol(format!(
                "reply relates to {:?}, expected {}",
                reply.relates_to, request.header.message_id
            )));
        }
        match reply.body {
            ReplyBody::Fault(fault) => Err(Error::Fault(fault)),
            body => Ok(body),
        }
    }

    fn open_reply(&mut self, reply: HttpReply) -> Result<Vec<u8>> {
        match reply.status {
            401 => return Err(Error::AuthRejected),
            200 | 500 if !reply.body.is_empty() => {}
            status => {
                return Err(Error::HttpStatus {
                    status,
                    body: snippet(&reply.body),
                });
            }
        }
        if self.endpoint.is_tls() {
            return Ok(reply.body.to_vec());
        }
        if !reply.content_type.contains(framing::PROTOCOL) {
            return Err(Error::Insecure(
                "the server answered in clear text on a sealed session",
            ));
        }
        let part = framing::decode(&reply.body)?;
        let plaintext = self.auth.unseal(&part.signature, &part.sealed)?;
        if plaintext.len() != part.plaintext_len {
            return Err(Error::Tampered(format!(
                "unsealed {} bytes but the header says {}",
                plaintext.len(),
                part.plaintext_len
            )));
        }
        Ok(plaintext)
    }

    /// Opens a shell; reuse it for many commands, then [`Session::close_shell`].
    ///
    /// # Errors
    /// Transport errors and faults such as `w:QuotaLimit`.
    pub async fn open_shell(&mut self) -> Result<ShellId> {
        match self
            .exchange(
                None,
                RequestBody::CreateShell {
                    codepage: self.options.codepage,
                },
            )
            .await?
        {
            ReplyBody::ShellCreated { shell_id } => Ok(ShellId(shell_id)),
            other => Err(unexpected("create", &other)),
        }
    }

    /// Deletes a shell; always do this, or shells leak until their idle timeout.
    ///
    /// # Errors
    /// Transport errors and faults.
    pub async fn close_shell(&mut self, shell: ShellId) -> Result<()> {
        self.exchange(Some(&shell), RequestBody::DeleteShell)
            .await
            .map(|_| ())
    }

    /// Runs `command arguments…`, feeds `stdin`, waits for it to finish and
    /// terminates it (so the server frees it). Output larger than one
    /// envelope arrives over several Receives and is concatenated.
    ///
    /// # Errors
    /// [`Error::CommandTimeout`] after `command_timeout`; faults such as
    /// `w:InvalidSelectors` for an expired shell.
    pub async fn run_command(
        &mut self,
        shell: &ShellId,
        command: &str,
        arguments: &[String],
        stdin: &[u8],
    ) -> Result<CommandOutput> {
        let body = RequestBody::Command {
            command: command.to_owned(),
            arguments: arguments.to_vec(),
        };
        let command_id = match self.exchange(Some(shell), body).await? {
            ReplyBody::CommandStarted { command_id } => command_id,
            other => return Err(unexpected("command", &other)),
        };
        // The deadline is checked between Receives rather than by cancelling
        // one: dropping an exchange mid-flight would leave the connection and
        // the NTLM sequence numbers out of step with the server.
        let deadline = tokio::time::Instant::now() + self.options.command_timeout;
        let outcome = self
            .feed_and_collect(shell, &command_id, stdin, deadline)
            .await;
        // Terminate in every case: on success it releases the command, on
        // timeout it stops it.
        let signal = RequestBody::Signal {
            command_id,
            code: SIGNAL_TERMINATE.to_owned(),
        };
        match outcome {
            Ok(output) => {
                self.exchange(Some(shell), signal).await?;
                Ok(output)
            }
            Err(error) => {
                let _ = self.exchange(Some(shell), signal).await;
                Err(error)
            }
        }
    }

    async fn feed_and_collect(
        &mut self,
        shell: &ShellId,
        command_id: &str,
        stdin: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<CommandOutput> {
        let chunks: Vec<&[u8]> = stdin.chunks(powershell::STDIN_CHUNK).collect();
        let last = chunks.len().saturating_sub(1);
        for (index, chunk) in chunks.into_iter().enumerate() {
            let body = RequestBody::Send {
                command_id: command_id.to_owned(),
                data: chunk.to_vec(),
                end: index == last,
            };
            self.exchange(Some(shell), body).await?;
        }
        let mut output = CommandOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_code: 0,
        };
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::CommandTimeout {
                    seconds: self.options.command_timeout.as_secs(),
                });
            }
            let received = match self
                .exchange(
                    Some(shell),
                    RequestBody::Receive {
                        command_id: command_id.to_owned(),
                    },
                )
                .await
            {
                Ok(ReplyBody::Received(received)) => received,
                Ok(other) => return Err(unexpected("receive", &other)),
                // No output within OperationTimeout: normal, ask again.
                Err(Error::Fault(fault)) if fault.kind == FaultKind::TimedOut => continue,
                Err(error) => return Err(error),
            };
            let ReceiveOutput { streams, state } = received;
            for chunk in streams {
                match chunk.name.as_str() {
                    "stdout" => output.stdout.extend_from_slice(&chunk.data),
                    "stderr" => output.stderr.extend_from_slice(&chunk.data),
                    _ => {}
                }
            }
            let max = self.options.max_output;
            if output.stdout.len() > max || output.stderr.len() > max {
                return Err(Error::OutputTooLarge { max });
            }
            if let CommandState::Done { exit_code } = state {
                output.exit_code = exit_code;
                return Ok(output);
            }
        }
    }

    /// Runs a PowerShell script (inline `-EncodedCommand`, or streamed on
    /// stdin when too long for a command line).
    ///
    /// # Errors
    /// As [`Session::run_command`], plus [`Error::ScriptTooLarge`].
    pub async fn run_powershell(&mut self, shell: &ShellId, script: &str) -> Result<CommandOutput> {
        let invocation = powershell::invocation(script)?;
        self.run_command(
            shell,
            powershell::POWERSHELL,
            &invocation.arguments,
            &invocation.stdin,
        )
        .await
    }

    /// Runs a PowerShell script with `input` readable on its standard input
    /// (`[Console]::In.ReadToEnd()`).
    ///
    /// # Errors
    /// As [`Session::run_powershell`].
    pub async fn run_powershell_with_input(
        &mut self,
        shell: &ShellId,
        script: &str,
        input: &[u8],
    ) -> Result<CommandOutput> {
        let invocation = powershell::invocation_with_input(script, input)?;
        self.run_command(
            shell,
            powershell::POWERSHELL,
            &invocation.arguments,
            &invocation.stdin,
        )
        .await
    }
}

async fn handshake(
    connection: &mut Connection,
    auth: &mut dyn Authenticator,
    timeout: Duration,
) -> Result<()> {
    let mut challenge: Option<Vec<u8>> = None;
    // NTLM needs two legs, Kerberos one or two; a third round means a loop.
    for _ in 0..3 {
        let token = auth.step(challenge.as_deref())?;
        let header = format!("{} {}", auth.scheme(), BASE64.encode(&token));
        let reply = connection
            .post(None, Some(&header), Vec::new(), timeout)
            .await?;
        if auth.is_complete() {
            return match reply.status {
                200..=299 => Ok(()),
                401 => Err(Error::AuthRejected),
                status => Err(Error::HttpStatus {
                    status,
                    body: snippet(&reply.body),
                }),
            };
        }
        if reply.status != 401 {
            return Err(Error::HttpStatus {
                status: reply.status,
                body: snippet(&reply.body),
            });
        }
        let prefix = format!("{} ", auth.scheme());
        let token = reply
            .www_authenticate
            .iter()
            .find_map(|value| value.strip_prefix(&prefix))
            .ok_or_else(|| Error::Auth(format!("401 without a {} challenge", auth.scheme())))?;
        challenge = Some(
            BASE64
                .decode(token.trim())
                .map_err(|e| Error::Auth(format!("challenge is not base64: {e}")))?,
        );
    }
    Err(Error::Auth("handshake did not finish in three legs".into()))
}

fn unexpected(operation: &str, body: &ReplyBody) -> Error {
    Error::Protocol(format!("{operation} got an unexpected reply {body:?}"))
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned()
}
