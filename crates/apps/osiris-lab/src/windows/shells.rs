//! The shell resource: shells, their commands, stdin, output delivery.
//! Shells are global to the host, as on Windows: a client may reconnect and
//! keep using a shell it created.

use std::collections::BTreeMap;
use std::time::Duration;

use winrm::envelope::{CommandState, ReceiveOutput, ReplyBody, RequestBody, StreamChunk};
use winrm::fault::{WSMAN_CODE_INVALID_SELECTORS, WSMAN_CODE_TIMED_OUT};
use winrm::powershell::{self, ScriptSource};
use winrm::{Fault, FaultKind};

use crate::windows::model::{HostModel, ScriptResult, cmd_not_found};

#[derive(Debug)]
enum Progress {
    /// A stdin bootstrap is waiting for the script (and, `with_input`, the
    /// script's own input after it).
    AwaitingStdin { stdin: Vec<u8>, with_input: bool },
    /// Running until terminated; every Receive times out.
    Running,
    /// Finished; output not yet received.
    Finished(ScriptResult),
    /// Output delivered; later Receives report Done with no data.
    Delivered(i64),
}

/// What the server should answer, and how long to hold the answer back
/// (a Receive with nothing to say waits for `OperationTimeout`).
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) reply: ReplyBody,
    pub(crate) hold: Duration,
}

impl Outcome {
    fn now(reply: ReplyBody) -> Self {
        Self {
            reply,
            hold: Duration::ZERO,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Shells {
    shells: BTreeMap<String, BTreeMap<String, Progress>>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

fn invalid_shell(shell_id: &str) -> ReplyBody {
    ReplyBody::Fault(Fault::new(
        FaultKind::InvalidSelectors,
        WSMAN_CODE_INVALID_SELECTORS,
        &format!(
            "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
        ),
    ))
}

fn run(model: &mut HostModel, command: &str, arguments: &[String]) -> Progress {
    match powershell::script_from_arguments(command, arguments) {
        Ok(Some(ScriptSource::Inline(script))) => started(model.run_powershell(&script)),
        Ok(Some(ScriptSource::Stdin)) => Progress::AwaitingStdin {
            stdin: Vec::new(),
            with_input: false,
        },
        Ok(Some(ScriptSource::StdinWithInput)) => Progress::AwaitingStdin {
            stdin: Vec::new(),
            with_input: true,
        },
        Ok(None) => {
            let line = std::iter::once(command)
                .chain(arguments.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ");
            let result = model.run_powershell(&line);
            Progress::Finished(if result.rule.is_some() {
                result
            } else {
                cmd_not_found(command)
            })
        }
        Err(error) => Progress::Finished(ScriptResult {
            stdout: String::new(),
            stderr: format!("{error}\r\n"),
            exit_code: 1,
            rule: None,
            never_ends: false,
        }),
    }
}

fn started(result: ScriptResult) -> Progress {
    if result.never_ends {
        Progress::Running
    } else {
        Progress::Finished(result)
    }
}

impl Shells {
    pub(crate) fn handle(
        &mut self,
        model: &mut HostModel,
        shell_id: Option<&str>,
        body: RequestBody,
        operation_timeout: Duration,
    ) -> Outcome {
        if let RequestBody::CreateShell { .. } = body {
            let id = new_id();
            self.shells.insert(id.clone(), BTreeMap::new());
            return Outcome::now(ReplyBody::ShellCreated { shell_id: id });
        }
        let shell_id = shell_id.unwrap_or_default();
        if matches!(body, RequestBody::DeleteShell) {
            return Outcome::now(match self.shells.remove(shell_id) {
                Some(_) => ReplyBody::ShellDeleted,
                None => invalid_shell(shell_id),
            });
        }
        let Some(commands) = self.shells.get_mut(shell_id) else {
            return Outcome::now(invalid_shell(shell_id));
        };
        match body {
            RequestBody::Command { command, arguments } => {
                let id = new_id();
                commands.insert(id.clone(), run(model, &command, &arguments));
                Outcome::now(ReplyBody::CommandStarted { command_id: id })
            }
            RequestBody::Send {
                command_id,
                data,
                end,
            } => {
                let Some(progress) = commands.get_mut(&command_id) else {
                    return Outcome::now(invalid_shell(shell_id));
                };
                if let Progress::AwaitingStdin { stdin, with_input } = progress {
                    stdin.extend_from_slice(&data);
                    if end {
                        let decoded = if *with_input {
                            powershell::decode_stdin_script_and_input(stdin)
                        } else {
                            powershell::decode_stdin_script(stdin).map(|s| (s, Vec::new()))
                        };
                        let result = match decoded {
                            Ok((script, input)) => model.run_powershell_with_input(&script, &input),
                            Err(error) => ScriptResult {
                                stdout: String::new(),
                                stderr: format!("{error}\r\n"),
                                exit_code: 1,
                                rule: None,
                                never_ends: false,
                            },
                        };
                        *progress = started(result);
                    }
                }
                Outcome::now(ReplyBody::Sent)
            }
            RequestBody::Receive { command_id } => {
                let Some(progress) = commands.get_mut(&command_id) else {
                    return Outcome::now(invalid_shell(shell_id));
                };
                match progress {
                    Progress::AwaitingStdin { .. } | Progress::Running => Outcome {
                        reply: ReplyBody::Fault(Fault::new(
                            FaultKind::TimedOut,
                            WSMAN_CODE_TIMED_OUT,
                            "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ",
                        )),
                        hold: operation_timeout,
                    },
                    Progress::Finished(result) => {
                        let exit_code = result.exit_code;
                        let streams = vec![
                            StreamChunk {
                                name: "stdout".into(),
                                data: std::mem::take(&mut result.stdout).into_bytes(),
                                end: true,
                            },
                            StreamChunk {
                                name: "stderr".into(),
                                data: std::mem::take(&mut result.stderr).into_bytes(),
                                end: true,
                            },
                        ];
                        *progress = Progress::Delivered(exit_code);
                        Outcome::now(ReplyBody::Received(ReceiveOutput {
                            streams,
                            state: CommandState::Done { exit_code },
                        }))
                    }
                    Progress::Delivered(exit_code) => {
                        Outcome::now(ReplyBody::Received(ReceiveOutput {
                            streams: Vec::new(),
                            state: CommandState::Done {
                                exit_code: *exit_code,
                            },
                        }))
                    }
                }
            }
            RequestBody::Signal { command_id, .. } => {
                commands.remove(&command_id);
                Outcome::now(ReplyBody::Signalled)
            }
            RequestBody::CreateShell { .. } | RequestBody::DeleteShell => {
                Outcome::now(invalid_shell(shell_id))
            }
        }
    }

    /// How many shells are open.
    pub(crate) fn len(&self) -> usize {
        self.shells.len()
    }

    /// Forgets every shell, as a service restart would (tests use it to
    /// expire shells).
    pub(crate) fn clear(&mut self) {
        self.shells.clear();
    }
}
