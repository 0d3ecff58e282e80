//! Envelopes against recorded bytes in tests/data.
//!
//! Requests are compared byte for byte (`UPDATE_GOLDEN=1` rewrites them
//! after a deliberate change); Windows replies are parsed.

use std::path::PathBuf;
use std::time::Duration;

use winrm::envelope::{
    Action, CommandState, Reply, ReplyBody, Request, RequestBody, RequestHeader, SIGNAL_TERMINATE,
};
use winrm::{FaultKind, powershell};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn request(shell: Option<&str>, body: RequestBody) -> Request {
    Request {
        header: RequestHeader {
            to: "http://srv01:5985/wsman".into(),
            message_id: "uuid:7D1C0C2E-5A0F-4B2E-9A57-3C1F6B0F0A11".into(),
            operation_timeout: Duration::from_secs(20),
            max_envelope_size: 153_600,
            shell_id: shell.map(str::to_owned),
        },
        body,
    }
}

fn check(name: &str, request: &Request) {
    let xml = request.to_xml().unwrap();
    let path = data(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &xml).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(&xml),
        String::from_utf8_lossy(&expected),
        "{name}"
    );
    // What we write, we read back identically (the server side uses it).
    assert_eq!(&Request::parse(&xml).unwrap(), request, "{name} round trip");
}

const SHELL: &str = "2B3E1F7A-9C4D-4E21-8F3A-1D5C7B9E0A42";
const COMMAND: &str = "9A8B7C6D-5E4F-4A3B-9C2D-1E0F9A8B7C6D";

#[test]
fn requests_match_their_golden_files() {
    check(
        "create_request.xml",
        &request(None, RequestBody::CreateShell { codepage: 65001 }),
    );
    let invocation =
        powershell::invocation("Get-Service WinDefend | Select-Object -ExpandProperty Status")
            .unwrap();
    check(
        "command_request.xml",
        &request(
            Some(SHELL),
            RequestBody::Command {
                command: powershell::POWERSHELL.into(),
                arguments: invocation.arguments,
            },
        ),
    );
    check(
        "send_request.xml",
        &request(
            Some(SHELL),
            RequestBody::Send {
                command_id: COMMAND.into(),
                data: b"stdin <&> bytes".to_vec(),
                end: true,
            },
        ),
    );
    check(
        "receive_request.xml",
        &request(
            Some(SHELL),
            RequestBody::Receive {
                command_id: COMMAND.into(),
            },
        ),
    );
    check(
        "signal_request.xml",
        &request(
            Some(SHELL),
            RequestBody::Signal {
                command_id: COMMAND.into(),
                code: SIGNAL_TERMINATE.into(),
            },
        ),
    );
    check(
        "delete_request.xml",
        &request(Some(SHELL), RequestBody::DeleteShell),
    );
}

#[test]
fn windows_create_response_yields_the_shell_id() {
    let reply = Reply::parse(
        &std::fs::read(data("windows_create_response.xml")).unwrap(),
        Action::Create,
    )
    .unwrap();
    assert_eq!(
        reply.body,
        ReplyBody::ShellCreated {
            shell_id: SHELL.into()
        }
    );
    assert_eq!(
        reply.relates_to.as_deref(),
        Some("uuid:7D1C0C2E-5A0F-4B2E-9A57-3C1F6B0F0A11")
    );
}

#[test]
fn windows_receive_response_yields_output_and_exit_code() {
    let reply = Reply::parse(
        &std::fs::read(data("windows_receive_response.xml")).unwrap(),
        Action::Receive,
    )
    .unwrap();
    let ReplyBody::Received(output) = reply.body else {
        panic!("{:?}", reply.body)
    };
    let stdout: Vec<u8> = output
        .streams
        .iter()
        .filter(|s| s.name == "stdout")
        .flat_map(|s| s.data.clone())
        .collect();
    assert_eq!(stdout, b"{\"WinDefend\":\"Running\"}\r\n");
    assert!(output.streams.iter().any(|s| s.name == "stderr" && s.end));
    assert_eq!(output.state, CommandState::Done { exit_code: 0 });
}

#[test]
fn windows_faults_become_typed_faults() {
    for (file, kind, code) in [
        (
            "windows_timed_out_fault.xml",
            FaultKind::TimedOut,
            2_150_858_793,
        ),
        (
            "windows_invalid_selectors_fault.xml",
            FaultKind::InvalidSelectors,
            2_150_858_843,
        ),
    ] {
        let reply = Reply::parse(&std::fs::read(data(file)).unwrap(), Action::Receive).unwrap();
        let ReplyBody::Fault(fault) = reply.body else {
            panic!("{file}: {:?}", reply.body)
        };
        assert_eq!((fault.kind, fault.wsman_code), (kind, Some(code)), "{file}");
        assert!(fault.to_string().starts_with("soap fault w:"), "{fault}");
    }
}

#[test]
fn recorded_clixml_stderr_decodes_to_console_text() {
    let stderr = std::fs::read_to_string(data("clixml_stderr.txt")).unwrap();
    let text = powershell::decode_clixml(&stderr);
    assert!(
        text.starts_with("Get-MpComputerStatus : Invalid class \nAt line:1 char:6\n"),
        "{text}"
    );
    assert!(
        text.contains(r"ROOT\Microsoft\...pComputerStatus"),
        "{text}"
    );
}

#[test]
fn replies_we_write_parse_back_to_the_same_value() {
    use winrm::Fault;
    use winrm::envelope::{ReceiveOutput, StreamChunk};
    let bodies = [
        (
            Action::Create,
            ReplyBody::ShellCreated {
                shell_id: SHELL.into(),
            },
        ),
        (
            Action::Command,
            ReplyBody::CommandStarted {
                command_id: COMMAND.into(),
            },
        ),
        (Action::Send, ReplyBody::Sent),
        (
            Action::Receive,
            ReplyBody::Received(ReceiveOutput {
                streams: vec![StreamChunk {
                    name: "stdout".into(),
                    data: b"a&b<c>".to_vec(),
                    end: true,
                }],
                state: CommandState::Done { exit_code: -1 },
            }),
        ),
        (Action::Signal, ReplyBody::Signalled),
        (Action::Delete, ReplyBody::ShellDeleted),
        (
            Action::Receive,
            ReplyBody::Fault(Fault::new(FaultKind::TimedOut, 2_150_858_793, "timed out")),
        ),
    ];
    for (action, body) in bodies {
        let reply = Reply {
            message_id: "uuid:1".into(),
            relates_to: Some("uuid:2".into()),
            body,
        };
        let xml = reply.to_xml(action, "http://h:5985/wsman").unwrap();
        assert_eq!(Reply::parse(&xml, action).unwrap(), reply);
    }
}
