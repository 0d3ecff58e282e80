//! The appliance checking itself: scripts run as local `sh` processes.

use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::{BoxFuture, Error, MAX_OUTPUT_BYTES, Output, Script, Shell, Transport};

/// Runs `sh` scripts on the appliance itself.
#[derive(Debug, Clone)]
pub struct LocalTransport {
    name: String,
}

impl LocalTransport {
    /// A transport for the appliance, reported under `name`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }

    async fn execute(&self, script: &Script) -> Result<Output, Error> {
        if script.shell != Shell::Sh {
            return Err(Error::Unsupported {
                target: self.name.clone(),
                shell: script.shell,
            });
        }
        let protocol = |reason: String| Error::Protocol {
            target: self.name.clone(),
            reason,
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&script.body)
            .stdin(if script.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A timed-out script must not outlive its deadline.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| protocol(format!("cannot start sh: {e}")))?;
        let stdin = child.stdin.take();
        let input = script.input.clone();
        let feed = async move {
            if let (Some(mut stdin), Some(input)) = (stdin, input) {
                // A script that ignores its input closes the pipe early; that is its business.
                let _ = stdin.write_all(&input).await;
            }
        };
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let run = async {
            let ((), out, err) = tokio::join!(feed, capped(stdout), capped(stderr));
            let status = child
                .wait()
                .await
                .map_err(|e| protocol(format!("waiting for sh: {e}")))?;
            Ok::<_, Error>((status, out, err))
        };
        let (status, stdout, stderr) =
            tokio::time::timeout(script.timeout, run)
                .await
                .map_err(|_| Error::Timeout {
                    target: self.name.clone(),
                    after: script.timeout,
                })??;
        let (Some(stdout), Some(stderr)) = (stdout, stderr) else {
            return Err(Error::OutputTooLarge {
                target: self.name.clone(),
            });
        };
        // A signal-killed process has no code; report it as the shell would (128 + n).
        let exit_code = status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        });
        Ok(Output {
            exit_code,
            stdout,
            stderr,
        })
    }
}

/// Reads a stream to its end, or `None` once it passes [`MAX_OUTPUT_BYTES`].
async fn capped(stream: Option<impl AsyncRead + Unpin>) -> Option<Vec<u8>> {
    let Some(stream) = stream else {
        return Some(Vec::new());
    };
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_OUTPUT_BYTES).unwrap_or(u64::MAX) + 1;
    stream.take(limit).read_to_end(&mut bytes).await.ok()?;
    (bytes.len() <= MAX_OUTPUT_BYTES).then_some(bytes)
}

impl Transport for LocalTransport {
    fn target(&self) -> &str {
        &self.name
    }

    fn run<'a>(&'a mut self, script: &'a Script) -> BoxFuture<'a, Result<Output, Error>> {
        Box::pin(self.execute(script))
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}
