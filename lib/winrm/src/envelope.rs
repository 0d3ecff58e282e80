//! WS-Management requests and replies for the Windows shell resource:
//! written with `quick_xml::Writer`, read back through [`crate::xml`].
//!
//! Both directions live here so the client and a test server share one
//! definition of every message, and golden files pin the exact bytes.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::error::{Error, Result};
use crate::fault::{Fault, FaultKind};
use crate::xml::{
    Element, NS_ADDRESSING, NS_SHELL, NS_SOAP, NS_TRANSFER, NS_WSMAN, NS_WSMAN_FAULT, NS_WSMAN_MS,
};

/// ResourceURI of the Windows command shell.
pub const RESOURCE_URI_CMD: &str = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd";
/// The `rsp:Code` that terminates a command.
pub const SIGNAL_TERMINATE: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate";
const STATE_DONE: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done";
const STATE_RUNNING: &str =
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running";
const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";
const FAULT_ACTION: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";

/// The shell operations, each with its `a:Action` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// WS-Transfer Create: open a shell.
    Create,
    /// WS-Transfer Delete: close a shell.
    Delete,
    /// Start a command in a shell.
    Command,
    /// Write to a command's stdin.
    Send,
    /// Read a command's output.
    Receive,
    /// Signal a command (terminate).
    Signal,
}

impl Action {
    const ALL: [Self; 6] = [
        Self::Create,
        Self::Delete,
        Self::Command,
        Self::Send,
        Self::Receive,
        Self::Signal,
    ];

    /// The request `a:Action` URI.
    #[must_use]
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Create => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
            Self::Delete => "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
            Self::Command => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
            Self::Send => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send",
            Self::Receive => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
            Self::Signal => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
        }
    }

    /// The reply `a:Action` URI (request URI + `Response`).
    #[must_use]
    pub const fn response_uri(self) -> &'static str {
        match self {
            Self::Create => "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
            Self::Delete => "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
            Self::Command => {
                "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse"
            }
            Self::Send => "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse",
            Self::Receive => {
                "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse"
            }
            Self::Signal => {
                "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse"
            }
        }
    }

    fn from_uri(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.uri() == uri)
    }
}

/// Addressing and limits common to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    /// `a:To`: the endpoint URL.
    pub to: String,
    /// `a:MessageID`, `uuid:…`.
    pub message_id: String,
    /// `w:OperationTimeout`.
    pub operation_timeout: Duration,
    /// `w:MaxEnvelopeSize` in bytes: caps the size of each reply.
    pub max_envelope_size: u32,
    /// The `ShellId` selector, on every request after Create.
    pub shell_id: Option<String>,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// Open a shell with stdin and stdout/stderr streams.
    CreateShell {
        /// `WINRS_CODEPAGE` (65001 = UTF-8).
        codepage: u32,
    },
    /// Start `command arguments…`.
    Command {
        /// The executable or command line.
        command: String,
        /// Separate `rsp:Arguments` elements.
        arguments: Vec<String>,
    },
    /// Write bytes to a command's stdin.
    Send {
        /// Target command.
        command_id: String,
        /// The bytes (base64 on the wire).
        data: Vec<u8>,
        /// Whether this closes stdin.
        end: bool,
    },
    /// Read stdout and stderr.
    Receive {
        /// Target command.
        command_id: String,
    },
    /// Send a signal such as [`SIGNAL_TERMINATE`].
    Signal {
        /// Target command.
        command_id: String,
        /// The signal URI.
        code: String,
    },
    /// Close the shell.
    DeleteShell,
}

impl RequestBody {
    /// The operation this body belongs to.
    #[must_use]
    pub const fn action(&self) -> Action {
        match self {
            Self::CreateShell { .. } => Action::Create,
            Self::Command { .. } => Action::Command,
            Self::Send { .. } => Action::Send,
            Self::Receive { .. } => Action::Receive,
            Self::Signal { .. } => Action::Signal,
            Self::DeleteShell => Action::Delete,
        }
    }
}

/// One complete WS-Management request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Addressing and limits.
    pub header: RequestHeader,
    /// The operation.
    pub body: RequestBody,
}

/// One chunk of a command's output stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamChunk {
    /// `stdout` or `stderr`.
    pub name: String,
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// Whether the stream ended with this chunk.
    pub end: bool,
}

/// Where a command is, as reported by Receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandState {
    /// Still running, or no state element in the reply.
    Running,
    /// Finished with this exit code.
    Done {
        /// The process exit code.
        exit_code: i64,
    },
}

/// The useful part of a `rsp:ReceiveResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveOutput {
    /// Output chunks in document order.
    pub streams: Vec<StreamChunk>,
    /// The command's state.
    pub state: CommandState,
}

/// What a reply carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// Create succeeded.
    ShellCreated {
        /// The new shell's id.
        shell_id: String,
    },
    /// Command started.
    CommandStarted {
        /// The new command's id.
        command_id: String,
    },
    /// Send accepted.
    Sent,
    /// Output (possibly empty) and state.
    Received(ReceiveOutput),
    /// Signal accepted.
    Signalled,
    /// Delete succeeded.
    ShellDeleted,
    /// The request failed.
    Fault(Fault),
}

/// One complete WS-Management reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `a:MessageID` of the reply.
    pub message_id: String,
    /// `a:RelatesTo`: the request's message id.
    pub relates_to: Option<String>,
    /// What it says.
    pub body: ReplyBody,
}

type XmlWriter = Writer<Vec<u8>>;

fn xml_error(error: std::io::Error) -> Error {
    Error::Xml(format!("writing envelope: {error}"))
}

/// Writes `<name attrs…>text</name>`.
fn text_element(
    w: &mut XmlWriter,
    name: &str,
    attrs: &[(&str, &str)],
    text: &str,
) -> std::io::Result<()> {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_text_content(BytesText::new(text))?;
    Ok(())
}

fn envelope(
    header: impl FnOnce(&mut XmlWriter) -> std::io::Result<()>,
    body: impl FnOnce(&mut XmlWriter) -> std::io::Result<()>,
) -> Result<Vec<u8>> {
    let mut w = Writer::new(Vec::with_capacity(2048));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .map_err(xml_error)?;
    w.create_element("s:Envelope")
        .with_attributes([
            ("xmlns:s", NS_SOAP),
            ("xmlns:a", NS_ADDRESSING),
            ("xmlns:w", NS_WSMAN),
            ("xmlns:p", NS_WSMAN_MS),
            ("xmlns:rsp", NS_SHELL),
            ("xmlns:x", NS_TRANSFER),
        ])
        .write_inner_content(|w| {
            w.create_element("s:Header").write_inner_content(header)?;
            w.create_element("s:Body").write_inner_content(body)?;
            Ok(())
        })
        .map_err(xml_error)?;
    Ok(w.into_inner())
}

/// `PT20S`, or `PT1.500S` with a fractional part (xs:duration).
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.subsec_millis();
    if millis == 0 {
        format!("PT{}S", duration.as_secs())
    } else {
        format!("PT{}.{millis:03}S", duration.as_secs())
    }
}

/// Parses the `PTnS` / `PTn.fffS` form WinRM uses.
#[must_use]
pub fn parse_duration(text: &str) -> Option<Duration> {
    let seconds = text.trim().strip_prefix("PT")?.strip_suffix('S')?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: u64 = whole.parse().ok()?;
    let millis = match fraction.len() {
        0 => 0,
        1..=9 if fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{fraction:0<3}");
            padded.get(..3)?.parse::<u32>().ok()?
        }
        _ => return None,
    };
    Some(Duration::from_secs(whole) + Duration::from_millis(u64::from(millis)))
}

impl Request {
    /// The UTF-8 SOAP bytes of this request.
    ///
    /// # Errors
    /// Only if the XML writer fails, which writing into memory does not.
    pub fn to_xml(&self) -> Result<Vec<u8>> {
        let h = &self.header;
        let max_size = h.max_envelope_size.to_string();
        let timeout = format_duration(h.operation_timeout);
        envelope(
            |w| {
                text_element(w, "a:To", &[], &h.to)?;
                w.create_element("a:ReplyTo").write_inner_content(|w| {
                    text_element(w, "a:Address", &[("s:mustUnderstand", "true")], ANONYMOUS)
                })?;
                text_element(
                    w,
                    "w:MaxEnvelopeSize",
                    &[("s:mustUnderstand", "true")],
                    &max_size,
                )?;
                text_element(w, "a:MessageID", &[], &h.message_id)?;
                w.create_element("w:Locale")
                    .with_attributes([("xml:lang", "en-US"), ("s:mustUnderstand", "false")])
                    .write_empty()?;
                w.create_element("p:DataLocale")
                    .with_attributes([("xml:lang", "en-US"), ("s:mustUnderstand", "false")])
                    .write_empty()?;
                text_element(w, "w:OperationTimeout", &[], &timeout)?;
                text_element(
                    w,
                    "w:ResourceURI",
                    &[("s:mustUnderstand", "true")],
                    RESOURCE_URI_CMD,
                )?;
                text_element(
                    w,
                    "a:Action",
                    &[("s:mustUnderstand", "true")],
                    self.body.action().uri(),
                )?;
                if let Some(shell_id) = &h.shell_id {
                    w.create_element("w:SelectorSet").write_inner_content(|w| {
                        text_element(w, "w:Selector", &[("Name", "ShellId")], shell_id)
                    })?;
                }
                let options: Vec<(&str, String)> = match &self.body {
                    RequestBody::CreateShell { codepage } => vec![
                        ("WINRS_NOPROFILE", "FALSE".to_owned()),
                        ("WINRS_CODEPAGE", codepage.to_string()),
                    ],
                    RequestBody::Command { .. } => vec![
                        ("WINRS_CONSOLEMODE_STDIN", "TRUE".to_owned()),
                        ("WINRS_SKIP_CMD_SHELL", "FALSE".to_owned()),
                    ],
                    _ => Vec::new(),
                };
                if !options.is_empty() {
                    w.create_element("w:OptionSet").write_inner_content(|w| {
                        options.iter().try_for_each(|(name, value)| {
                            text_element(w, "w:Option", &[("Name", name)], value)
                        })
                    })?;
                }
                Ok(())
            },
            |w| self.write_body(w),
        )
    }

    fn write_body(&self, w: &mut XmlWriter) -> std::io::Result<()> {
        match &self.body {
            RequestBody::CreateShell { .. } => {
                w.create_element("rsp:Shell").write_inner_content(|w| {
                    text_element(w, "rsp:InputStreams", &[], "stdin")?;
                    text_element(w, "rsp:OutputStreams", &[], "stdout stderr")
                })?;
            }
            RequestBody::Command { command, arguments } => {
                w.create_element("rsp:CommandLine")
                    .write_inner_content(|w| {
                        text_element(w, "rsp:Command", &[], command)?;
                        arguments
                            .iter()
                            .try_for_each(|a| text_element(w, "rsp:Arguments", &[], a))
                    })?;
            }
            RequestBody::Send {
                command_id,
                data,
                end,
            } => {
                let mut attrs = vec![("Name", "stdin"), ("CommandId", command_id.as_str())];
                if *end {
                    attrs.push(("End", "true"));
                }
                let encoded = BASE64.encode(data);
                w.create_element("rsp:Send")
                    .write_inner_content(|w| text_element(w, "rsp:Stream", &attrs, &encoded))?;
            }
            RequestBody::Receive { command_id } => {
                w.create_element("rsp:Receive").write_inner_content(|w| {
                    text_element(
                        w,
                        "rsp:DesiredStream",
                        &[("CommandId", command_id)],
                        "stdout stderr",
                    )
                })?;
            }
            RequestBody::Signal { command_id, code } => {
                w.create_element("rsp:Signal")
                    .with_attribute(("CommandId", command_id.as_str()))
                    .write_inner_content(|w| text_element(w, "rsp:Code", &[], code))?;
            }
            RequestBody::DeleteShell => {}
        }
        Ok(())
    }

    /// Reads a request (the server side of the protocol).
    ///
    /// # Errors
    /// [`Error::Xml`] for malformed XML, [`Error::Protocol`] naming the
    /// missing or unknown element otherwise.
    pub fn parse(document: &[u8]) -> Result<Self> {
        let root = Element::parse(document)?;
        let (header, body) = split_envelope(&root)?;
        let text_of =
            |name: &str, ns: &str| header.child(ns, name).map(|e| e.text().trim().to_owned());
        let action_uri = text_of("Action", NS_ADDRESSING).ok_or_else(|| missing("a:Action"))?;
        let action = Action::from_uri(&action_uri)
            .ok_or_else(|| Error::Protocol(format!("unsupported action {action_uri:?}")))?;
        let shell_id = header
            .child(NS_WSMAN, "SelectorSet")
            .and_then(|set| {
                set.children_named(NS_WSMAN, "Selector")
                    .find(|s| s.attribute("Name") == Some("ShellId"))
            })
            .map(|s| s.text().trim().to_owned());
        let operation_timeout = match text_of("OperationTimeout", NS_WSMAN) {
            Some(text) => parse_duration(&text).ok_or_else(|| {
                Error::Protocol(format!("w:OperationTimeout {text:?} is not PTnS"))
            })?,
            None => Duration::from_secs(60),
        };
        let header = RequestHeader {
            to: text_of("To", NS_ADDRESSING).unwrap_or_default(),
            message_id: text_of("MessageID", NS_ADDRESSING)
                .ok_or_else(|| missing("a:MessageID"))?,
            operation_timeout,
            max_envelope_size: text_of("MaxEnvelopeSize", NS_WSMAN)
                .and_then(|t| t.parse().ok())
                .unwrap_or(153_600),
            shell_id,
        };
        let option = |name: &str| {
            header_options(header_element(&root))
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
        };
        let body = match action {
            Action::Create => RequestBody::CreateShell {
                codepage: option("WINRS_CODEPAGE")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(437),
            },
            Action::Delete => RequestBody::DeleteShell,
            Action::Command => {
                let line = body
                    .child(NS_SHELL, "CommandLine")
                    .ok_or_else(|| missing("rsp:CommandLine"))?;
                RequestBody::Command {
                    command: line
                        .child(NS_SHELL, "Command")
                        .map(|c| c.text().trim().to_owned())
                        .unwrap_or_default(),
                    arguments: line
                        .children_named(NS_SHELL, "Arguments")
                        .map(|a| a.text().to_owned())
                        .collect(),
                }
            }
            Action::Send => {
                let stream = body
                    .path(&[(NS_SHELL, "Send"), (NS_SHELL, "Stream")])
                    .ok_or_else(|| missing("rsp:Send/rsp:Stream"))?;
                RequestBody::Send {
                    command_id: required_attribute(stream, "CommandId")?,
                    data: decode_base64(stream.text(), "rsp:Stream")?,
                    end: stream
                        .attribute("End")
                        .is_some_and(|e| e.eq_ignore_ascii_case("true")),
                }
            }
            Action::Receive => {
                let desired = body
                    .path(&[(NS_SHELL, "Receive"), (NS_SHELL, "DesiredStream")])
                    .ok_or_else(|| missing("rsp:Receive/rsp:DesiredStream"))?;
                RequestBody::Receive {
                    command_id: required_attribute(desired, "CommandId")?,
                }
            }
            Action::Signal => {
                let signal = body
                    .child(NS_SHELL, "Signal")
                    .ok_or_else(|| missing("rsp:Signal"))?;
                RequestBody::Signal {
                    command_id: required_attribute(signal, "CommandId")?,
                    code: signal
                        .child(NS_SHELL, "Code")
                        .map(|c| c.text().trim().to_owned())
                        .unwrap_or_default(),
                }
            }
        };
        Ok(Self { header, body })
    }
}

fn header_element(root: &Element) -> Option<&Element> {
    root.child(NS_SOAP, "Header")
}

fn header_options(header: Option<&Element>) -> impl Iterator<Item = (String, String)> + '_ {
    header
        .and_then(|h| h.child(NS_WSMAN, "OptionSet"))
        .into_iter()
        .flat_map(|set| set.children_named(NS_WSMAN, "Option"))
        .map(|o| {
            (
                o.attribute("Name").unwrap_or_default().to_owned(),
                o.text().trim().to_owned(),
            )
        })
}

fn missing(what: &str) -> Error {
    Error::Protocol(format!("missing {what}"))
}

fn required_attribute(element: &Element, name: &str) -> Result<String> {
    element.attribute(name).map(str::to_owned).ok_or_else(|| {
        Error::Protocol(format!(
            "missing attribute {name} on rsp:{}",
            element.name()
        ))
    })
}

fn decode_base64(text: &str, what: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64
        .decode(compact)
        .map_err(|e| Error::Protocol(format!("{what} is not base64: {e}")))
}

fn split_envelope(root: &Element) -> Result<(&Element, &Element)> {
    if !root.is(NS_SOAP, "Envelope") {
        return Err(Error::Protocol(format!(
            "root element is {{{}}}{}, not a soap 1.2 envelope",
            root.namespace(),
            root.name()
        )));
    }
    let header = root
        .child(NS_SOAP, "Header")
        .ok_or_else(|| missing("s:Header"))?;
    let body = root
        .child(NS_SOAP, "Body")
        .ok_or_else(|| missing("s:Body"))?;
    Ok((header, body))
}

impl Reply {
    /// The UTF-8 SOAP bytes of this reply; `endpoint` is echoed in Create's
    /// `a:Address` the way Windows does.
    ///
    /// # Errors
    /// Only if the XML writer fails, which writing into memory does not.
    pub fn to_xml(&self, action: Action, endpoint: &str) -> Result<Vec<u8>> {
        let action_uri = match self.body {
            ReplyBody::Fault(_) => FAULT_ACTION,
            _ => action.response_uri(),
        };
        envelope(
            |w| {
                text_element(w, "a:Action", &[], action_uri)?;
                text_element(w, "a:MessageID", &[], &self.message_id)?;
                text_element(w, "a:To", &[], ANONYMOUS)?;
                if let Some(relates_to) = &self.relates_to {
                    text_element(w, "a:RelatesTo", &[], relates_to)?;
                }
                Ok(())
            },
            |w| self.write_body(w, endpoint),
        )
    }

    fn write_body(&self, w: &mut XmlWriter, endpoint: &str) -> std::io::Result<()> {
        match &self.body {
            ReplyBody::ShellCreated { shell_id } => {
                w.create_element("x:ResourceCreated")
                    .write_inner_content(|w| {
                        text_element(w, "a:Address", &[], endpoint)?;
                        w.create_element("a:ReferenceParameters")
                            .write_inner_content(|w| {
                                text_element(w, "w:ResourceURI", &[], RESOURCE_URI_CMD)?;
                                w.create_element("w:SelectorSet").write_inner_content(|w| {
                                    text_element(w, "w:Selector", &[("Name", "ShellId")], shell_id)
                                })?;
                                Ok(())
                            })?;
                        Ok(())
                    })?;
                w.create_element("rsp:Shell").write_inner_content(|w| {
                    text_element(w, "rsp:ShellId", &[], shell_id)?;
                    text_element(w, "rsp:ResourceUri", &[], RESOURCE_URI_CMD)?;
                    text_element(w, "rsp:InputStreams", &[], "stdin")?;
                    text_element(w, "rsp:OutputStreams", &[], "stdout stderr")
                })?;
            }
            ReplyBody::CommandStarted { command_id } => {
                w.create_element("rsp:CommandResponse")
                    .write_inner_content(|w| text_element(w, "rsp:CommandId", &[], command_id))?;
            }
            ReplyBody::Sent => {
                w.create_element("rsp:SendResponse").write_empty()?;
            }
            ReplyBody::Received(output) => {
                w.create_element("rsp:ReceiveResponse")
                    .write_inner_content(|w| write_receive(w, output))?;
            }
            ReplyBody::Signalled => {
                w.create_element("rsp:SignalResponse").write_empty()?;
            }
            ReplyBody::ShellDeleted => {}
            ReplyBody::Fault(fault) => write_fault(w, fault)?,
        }
        Ok(())
    }

    /// Reads the reply to a request of kind `action`. A SOAP fault becomes
    /// [`ReplyBody::Fault`], whatever the action.
    ///
    /// # Errors
    /// [`Error::Xml`] for malformed XML, [`Error::Protocol`] naming the
    /// missing element otherwise.
    pub fn parse(document: &[u8], action: Action) -> Result<Self> {
        let root = Element::parse(document)?;
        let (header, body) = split_envelope(&root)?;
        let text_of = |name: &str| {
            header
                .child(NS_ADDRESSING, name)
                .map(|e| e.text().trim().to_owned())
        };
        let message_id = text_of("MessageID").unwrap_or_default();
        let relates_to = text_of("RelatesTo");
        let reply_body = if let Some(fault) = body.child(NS_SOAP, "Fault") {
            ReplyBody::Fault(Fault::from_element(fault))
        } else {
            parse_reply_body(body, action)?
        };
        Ok(Self {
            message_id,
            relates_to,
            body: reply_body,
        })
    }
}

fn parse_reply_body(body: &Element, action: Action) -> Result<ReplyBody> {
    Ok(match action {
        Action::Create => {
            // Windows puts the id in a ShellId selector and, since 2012, in
            // rsp:Shell/rsp:ShellId too; accept either, selector first.
            let selector = body.descendant(NS_WSMAN, "SelectorSet").and_then(|set| {
                set.children_named(NS_WSMAN, "Selector")
                    .find(|s| s.attribute("Name") == Some("ShellId"))
            });
            let shell_id = selector
                .or_else(|| body.path(&[(NS_SHELL, "Shell"), (NS_SHELL, "ShellId")]))
                .map(|e| e.text().trim().to_owned())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| missing("ShellId in the create response"))?;
            ReplyBody::ShellCreated { shell_id }
        }
        Action::Command => {
            let command_id = body
                .path(&[(NS_SHELL, "CommandResponse"), (NS_SHELL, "CommandId")])
                .map(|e| e.text().trim().to_owned())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| missing("rsp:CommandResponse/rsp:CommandId"))?;
            ReplyBody::CommandStarted { command_id }
        }
        Action::Send => ReplyBody::Sent,
        Action::Signal => ReplyBody::Signalled,
        Action::Delete => ReplyBody::ShellDeleted,
        Action::Receive => {
            let response = body
                .child(NS_SHELL, "ReceiveResponse")
                .ok_or_else(|| missing("rsp:ReceiveResponse"))?;
            let streams = response
                .children_named(NS_SHELL, "Stream")
                .map(|s| {
                    Ok(StreamChunk {
                        name: required_attribute(s, "Name")?,
                        data: decode_base64(s.text(), "rsp:Stream")?,
                        end: s
                            .attribute("End")
                            .is_some_and(|e| e.eq_ignore_ascii_case("true")),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let state = match response.child(NS_SHELL, "CommandState") {
                Some(state)
                    if state
                        .attribute("State")
                        .is_some_and(|s| s.ends_with("/Done")) =>
                {
                    let code = state
                        .child(NS_SHELL, "ExitCode")
                        .map(|c| c.text().trim())
                        .unwrap_or("0");
                    let exit_code = code.parse().map_err(|_| {
                        Error::Protocol(format!("rsp:ExitCode {code:?} is not an integer"))
                    })?;
                    CommandState::Done { exit_code }
                }
                _ => CommandState::Running,
            };
            ReplyBody::Received(ReceiveOutput { streams, state })
        }
    })
}

fn write_receive(w: &mut XmlWriter, output: &ReceiveOutput) -> std::io::Result<()> {
    // Windows tags every stream with the command it belongs to; the single
    // command per reply is carried on the CommandState element.
    for chunk in &output.streams {
        let mut attrs = vec![("Name", chunk.name.as_str())];
        if chunk.end {
            attrs.push(("End", "true"));
        }
        text_element(w, "rsp:Stream", &attrs, &BASE64.encode(&chunk.data))?;
    }
    match output.state {
        CommandState::Running => {
            w.create_element("rsp:CommandState")
                .with_attribute(("State", STATE_RUNNING))
                .write_empty()?;
        }
        CommandState::Done { exit_code } => {
            w.create_element("rsp:CommandState")
                .with_attribute(("State", STATE_DONE))
                .write_inner_content(|w| {
                    text_element(w, "rsp:ExitCode", &[], &exit_code.to_string())
                })?;
        }
    }
    Ok(())
}

fn write_fault(w: &mut XmlWriter, fault: &Fault) -> std::io::Result<()> {
    w.create_element("s:Fault").write_inner_content(|w| {
        w.create_element("s:Code").write_inner_content(|w| {
            text_element(w, "s:Value", &[], &fault.code)?;
            w.create_element("s:Subcode")
                .write_inner_content(|w| text_element(w, "s:Value", &[], &fault.subcode))?;
            Ok(())
        })?;
        w.create_element("s:Reason").write_inner_content(|w| {
            text_element(w, "s:Text", &[("xml:lang", "en-US")], &fault.reason)
        })?;
        w.create_element("s:Detail").write_inner_content(|w| {
            let code = fault.wsman_code.map(|c| c.to_string()).unwrap_or_default();
            w.create_element("f:WSManFault")
                .with_attributes([
                    ("xmlns:f", NS_WSMAN_FAULT),
                    ("Code", code.as_str()),
                    ("Machine", "localhost"),
                ])
                .write_inner_content(|w| {
                    text_element(
                        w,
                        "f:Message",
                        &[],
                        fault.message.as_deref().unwrap_or(&fault.reason),
                    )
                })?;
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

impl Fault {
    /// A fault the way Windows words it, for servers and tests.
    #[must_use]
    pub fn new(kind: FaultKind, wsman_code: u32, reason: &str) -> Self {
        Self {
            kind,
            code: "s:Receiver".to_owned(),
            subcode: format!("w:{}", kind.subcode()),
            reason: reason.to_owned(),
            wsman_code: Some(wsman_code),
            message: Some(reason.to_owned()),
        }
    }
}
