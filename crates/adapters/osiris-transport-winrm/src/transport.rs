//! [`WinrmTransport`]: one session and one shell per target.

use std::time::Duration;

use osiris_transport::{
    BoxFuture, Credentials, Error, MAX_OUTPUT_BYTES, Output, Script, Shell, Transport,
};
use winrm::{FaultKind, Mechanism, Session, SessionOptions, ShellId, TlsOptions};

use crate::errors::{Phase, map};

/// The longest a single Receive is held open by the server; shorter for a
/// script whose own timeout is shorter, so its deadline is noticed in time.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach a WinRM target besides its URL and credentials.
#[derive(Debug, Clone)]
pub struct WinrmOptions {
    /// NTLM (the default; seals every message over HTTP) or Basic (HTTPS only).
    pub mechanism: Mechanism,
    /// HTTPS trust: extra roots and an optional SHA-256 pin of the server certificate.
    pub tls: TlsOptions,
    /// TCP, TLS and authentication must finish within this.
    pub connect_timeout: Duration,
}

impl Default for WinrmOptions {
    fn default() -> Self {
        Self {
            mechanism: Mechanism::Ntlm,
            tls: TlsOptions::default(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// An open WinRM session with one shell, reused for every script.
#[derive(Debug)]
pub struct WinrmTransport {
    target: String,
    user: String,
    session: Session,
    /// `None` after the server forgot the shell (a WinRM service restart);
    /// the next script opens a new one.
    shell: Option<ShellId>,
}

/// Connects to `url` (`http://host:5985/wsman` or `https://host:5986/wsman`)
/// as `credentials`, authenticates and opens the shell. `target` is the
/// inventory name used in errors.
///
/// # Errors
/// [`Error::Unreachable`] when the host cannot be reached or the TLS
/// handshake fails, [`Error::IdentityChanged`] on a pin mismatch,
/// [`Error::AuthRejected`] for refused credentials, [`Error::Protocol`] for
/// credentials WinRM cannot use (keys) and insecure configurations (Basic
/// over HTTP).
pub async fn connect(
    target: &str,
    url: &str,
    credentials: &Credentials,
    options: &WinrmOptions,
) -> Result<WinrmTransport, Error> {
    let Credentials::Password { user, password } = credentials else {
        return Err(Error::Protocol {
            target: target.to_owned(),
            reason: "winrm needs a user name and password; no password is stored for this target"
                .into(),
        });
    };
    let winrm_credentials = winrm::Credentials::new(user, password.expose(), options.mechanism);
    let mut session_options = SessionOptions::with_command_timeout(OPERATION_TIMEOUT);
    session_options.connect_timeout = options.connect_timeout;
    session_options.tls = options.tls.clone();
    session_options.max_output = MAX_OUTPUT_BYTES;
    let fail = |error| map(error, Phase::Connect, target, user);
    let mut session = Session::connect(url, &winrm_credentials, session_options)
        .await
        .map_err(fail)?;
    let shell = session.open_shell().await.map_err(fail)?;
    tracing::debug!(
        target,
        user = user.as_str(),
        "winrm session and shell opened"
    );
    Ok(WinrmTransport {
        target: target.to_owned(),
        user: user.clone(),
        session,
        shell: Some(shell),
    })
}

impl WinrmTransport {
    async fn execute(&mut self, script: &Script) -> Result<Output, Error> {
        if script.shell != Shell::PowerShell {
            return Err(Error::Unsupported {
                target: self.target.clone(),
                shell: script.shell,
            });
        }
        let phase = Phase::Run {
            timeout: script.timeout,
        };
        let shell = match self.shell.take() {
            Some(shell) => shell,
            None => self
                .session
                .open_shell()
                .await
                .map_err(|e| map(e, phase, &self.target, &self.user))?,
        };
        let operation = OPERATION_TIMEOUT
            .min(script.timeout)
            .max(Duration::from_secs(1));
        self.session.set_timeouts(script.timeout, operation);
        let result = match &script.input {
            Some(input) => {
                self.session
                    .run_powershell_with_input(&shell, &script.body, input)
                    .await
            }
            None => self.session.run_powershell(&shell, &script.body).await,
        };
        // Keep the shell unless the server says it no longer exists.
        let shell_lost = matches!(
            &result,
            Err(winrm::Error::Fault(fault)) if fault.kind == FaultKind::InvalidSelectors
        );
        if !shell_lost {
            self.shell = Some(shell);
        }
        let output = result.map_err(|e| map(e, phase, &self.target, &self.user))?;
        Ok(Output {
            exit_code: exit_code(output.exit_code),
            stderr: output.stderr_text().into_bytes(),
            stdout: output.stdout,
        })
    }

    async fn shut_down(mut self) -> Result<(), Error> {
        let Some(shell) = self.shell.take() else {
            return Ok(());
        };
        self.session
            .close_shell(shell)
            .await
            .map_err(|e| map(e, Phase::Connect, &self.target, &self.user))
    }
}

/// Windows exit codes are 32-bit DWORDs that servers print signed or
/// unsigned; the low 32 bits read as `i32` are the same either way.
const fn exit_code(code: i64) -> i32 {
    code as i32
}

impl Transport for WinrmTransport {
    fn target(&self) -> &str {
        &self.target
    }

    fn run<'a>(&'a mut self, script: &'a Script) -> BoxFuture<'a, Result<Output, Error>> {
        Box::pin(self.execute(script))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(self.shut_down())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_and_signed_windows_exit_codes_agree() {
        assert_eq!(exit_code(3_221_225_477), exit_code(-1_073_741_819));
        assert_eq!(exit_code(1), 1);
    }
}
