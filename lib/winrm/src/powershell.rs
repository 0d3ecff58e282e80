//! PowerShell over the cmd shell: `-EncodedCommand`, stdin streaming for
//! long scripts, and CLIXML error-stream decoding.
//!
//! Long scripts: `cmd.exe` caps a command line at 8191 characters, about
//! 3 000 script characters once UTF-16LE and base64 have inflated them.
//! Beyond that we start a fixed bootstrap (itself an `-EncodedCommand`) that
//! reads the script as base64 UTF-8 from stdin and runs it as a script block,
//! and stream the script through `Send`. That needs no file on the target
//! (nothing to clean up, nothing left behind on failure), keeps the exact
//! script text (unlike `-Command -`, which parses stdin line by line), and
//! each `Send` stays far below `MaxEnvelopeSize`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::error::{Error, Result};
use crate::xml::Element;

/// The executable and fixed switches in front of `-EncodedCommand`.
pub const POWERSHELL: &str = "powershell.exe";
const SWITCHES: [&str; 5] = [
    "-NoProfile",
    "-NonInteractive",
    "-ExecutionPolicy",
    "Bypass",
    "-EncodedCommand",
];
/// Longest command line sent directly; cmd.exe's limit is 8191.
pub const MAX_COMMAND_LINE: usize = 8000;
/// Largest script this client streams (8 MiB).
pub const MAX_SCRIPT: usize = 8 * 1024 * 1024;
/// Size of each stdin chunk; stays well under the 150 KiB envelope limit
/// once base64-encoded a second time inside `rsp:Stream`.
pub const STDIN_CHUNK: usize = 64 * 1024;

/// The bootstrap that runs a script streamed on stdin.
pub const STDIN_BOOTSTRAP: &str = "$b=[Console]::In.ReadToEnd();$s=[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b));& ([ScriptBlock]::Create($s))";

/// The bootstrap for a script that has input of its own: the first stdin
/// line is the script (base64 UTF-8), and the rest of stdin is left unread
/// for the script (`[Console]::In.ReadToEnd()`).
pub const STDIN_INPUT_BOOTSTRAP: &str = "$b=[Console]::In.ReadLine();$s=[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($b));& ([ScriptBlock]::Create($s))";

/// How a script is handed to `powershell.exe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `rsp:Arguments` after [`POWERSHELL`].
    pub arguments: Vec<String>,
    /// Bytes to stream on stdin (empty for a direct `-EncodedCommand`).
    pub stdin: Vec<u8>,
}

/// `base64(UTF-16LE(script))`, what `-EncodedCommand` expects.
#[must_use]
pub fn encode_command(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    BASE64.encode(utf16)
}

/// The inverse of [`encode_command`].
///
/// # Errors
/// [`Error::Protocol`] when the text is not base64 of UTF-16LE.
pub fn decode_command(encoded: &str) -> Result<String> {
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|e| Error::Protocol(format!("-EncodedCommand is not base64: {e}")))?;
    if bytes.len() % 2 != 0 {
        return Err(Error::Protocol(
            "-EncodedCommand has an odd number of bytes".into(),
        ));
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| {
            u16::from_le_bytes([
                p.first().copied().unwrap_or(0),
                p.get(1).copied().unwrap_or(0),
            ])
        })
        .collect();
    String::from_utf16(&units)
        .map_err(|e| Error::Protocol(format!("-EncodedCommand is not utf-16: {e}")))
}

fn arguments_for(encoded: String) -> Vec<String> {
    SWITCHES
        .iter()
        .map(|s| (*s).to_owned())
        .chain(std::iter::once(encoded))
        .collect()
}

/// Chooses between a direct `-EncodedCommand` and stdin streaming.
///
/// # Errors
/// [`Error::ScriptTooLarge`] above [`MAX_SCRIPT`] bytes.
pub fn invocation(script: &str) -> Result<Invocation> {
    if script.len() > MAX_SCRIPT {
        return Err(Error::ScriptTooLarge {
            len: script.len(),
            max: MAX_SCRIPT,
        });
    }
    let encoded = encode_command(script);
    let line_len =
        POWERSHELL.len() + SWITCHES.iter().map(|s| s.len() + 1).sum::<usize>() + 1 + encoded.len();
    if line_len <= MAX_COMMAND_LINE {
        return Ok(Invocation {
            arguments: arguments_for(encoded),
            stdin: Vec::new(),
        });
    }
    Ok(Invocation {
        arguments: arguments_for(encode_command(STDIN_BOOTSTRAP)),
        stdin: BASE64.encode(script.as_bytes()).into_bytes(),
    })
}

/// Runs `script` with `input` on its standard input. The script always
/// travels on stdin ahead of its input (see [`STDIN_INPUT_BOOTSTRAP`]), so
/// script length and input size are independent of the command line.
///
/// # Errors
/// [`Error::ScriptTooLarge`] when script and input together exceed [`MAX_SCRIPT`].
pub fn invocation_with_input(script: &str, input: &[u8]) -> Result<Invocation> {
    let len = script.len() + input.len();
    if len > MAX_SCRIPT {
        return Err(Error::ScriptTooLarge {
            len,
            max: MAX_SCRIPT,
        });
    }
    let mut stdin = BASE64.encode(script.as_bytes()).into_bytes();
    stdin.extend_from_slice(b"\r\n");
    stdin.extend_from_slice(input);
    Ok(Invocation {
        arguments: arguments_for(encode_command(STDIN_INPUT_BOOTSTRAP)),
        stdin,
    })
}

/// Splits what [`invocation_with_input`] streamed back into the script and
/// its input (server side).
///
/// # Errors
/// [`Error::Protocol`] when the first line is not base64 of UTF-8.
pub fn decode_stdin_script_and_input(stdin: &[u8]) -> Result<(String, Vec<u8>)> {
    let end = stdin
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(stdin.len());
    let (line, rest) = stdin.split_at(end);
    let script = decode_stdin_script(line)?;
    Ok((script, rest.get(1..).unwrap_or_default().to_vec()))
}

/// What a server sees in a PowerShell command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptSource {
    /// The script came inline.
    Inline(String),
    /// The bootstrap: the script arrives on stdin ([`decode_stdin_script`]).
    Stdin,
    /// The input bootstrap: script then input on stdin
    /// ([`decode_stdin_script_and_input`]).
    StdinWithInput,
}

/// Reads back the script from `powershell.exe` arguments (server side).
/// `None` when the arguments carry no `-EncodedCommand`.
///
/// # Errors
/// [`Error::Protocol`] when the encoded command is malformed.
pub fn script_from_arguments(command: &str, arguments: &[String]) -> Result<Option<ScriptSource>> {
    // Some clients (pywinrm) put the whole line in rsp:Command.
    let words: Vec<&str> = std::iter::once(command)
        .chain(arguments.iter().map(String::as_str))
        .flat_map(str::split_whitespace)
        .collect();
    let Some(position) = words.iter().position(|w| {
        w.eq_ignore_ascii_case("-EncodedCommand")
            || w.eq_ignore_ascii_case("-e")
            || w.eq_ignore_ascii_case("-enc")
    }) else {
        return Ok(None);
    };
    let encoded = words
        .get(position + 1)
        .ok_or_else(|| Error::Protocol("-EncodedCommand without a value".into()))?;
    let script = decode_command(encoded)?;
    Ok(Some(match script.as_str() {
        STDIN_BOOTSTRAP => ScriptSource::Stdin,
        STDIN_INPUT_BOOTSTRAP => ScriptSource::StdinWithInput,
        _ => ScriptSource::Inline(script),
    }))
}

/// Decodes the script streamed by the bootstrap.
///
/// # Errors
/// [`Error::Protocol`] when stdin is not base64 of UTF-8.
pub fn decode_stdin_script(stdin: &[u8]) -> Result<String> {
    let compact: Vec<u8> = stdin
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = BASE64
        .decode(compact)
        .map_err(|e| Error::Protocol(format!("stdin script is not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Protocol(format!("stdin script is not utf-8: {e}")))
}

const CLIXML_MARKER: &str = "#< CLIXML";

/// Turns PowerShell's CLIXML error stream into the text a console shows.
/// Text that is not CLIXML is returned unchanged; CLIXML that cannot be
/// parsed is returned raw rather than hidden.
#[must_use]
pub fn decode_clixml(stderr: &str) -> String {
    if !stderr.trim_start().starts_with(CLIXML_MARKER) {
        return stderr.to_owned();
    }
    let mut out = String::new();
    for block in stderr
        .split(CLIXML_MARKER)
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        let Ok(root) = Element::parse(block.as_bytes()) else {
            return stderr.to_owned();
        };
        for node in root.children_named(root.namespace(), "S") {
            if node.attribute("S") == Some("Error") {
                out.push_str(&decode_xml_escapes(node.text()));
            }
        }
    }
    out.trim_end().to_owned()
}

/// Decodes PowerShell's `_xHHHH_` escapes (`_x000D__x000A_` is CRLF).
#[must_use]
pub fn decode_xml_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("_x") {
        let (before, candidate) = rest.split_at(at);
        out.push_str(before);
        let decoded = candidate
            .get(2..6)
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .filter(|_| candidate.get(6..7) == Some("_"))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = candidate.get(7..).unwrap_or_default();
            }
            None => {
                out.push_str("_x");
                rest = candidate.get(2..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out.replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_command_is_base64_of_utf16le() {
        // Known value: pywinrm's run_ps encodes "ipconfig" the same way.
        assert_eq!(encode_command("ipconfig"), "aQBwAGMAbwBuAGYAaQBnAA==");
        assert_eq!(
            decode_command("aQBwAGMAbwBuAGYAaQBnAA==").unwrap(),
            "ipconfig"
        );
    }

    #[test]
    fn short_script_goes_inline_and_long_script_goes_through_stdin() {
        let short = invocation("Get-Date").unwrap();
        assert!(short.stdin.is_empty());
        assert_eq!(
            script_from_arguments(POWERSHELL, &short.arguments).unwrap(),
            Some(ScriptSource::Inline("Get-Date".into()))
        );
        let long_script = "Write-Output 'x'\n".repeat(1000);
        let long = invocation(&long_script).unwrap();
        assert_eq!(
            script_from_arguments(POWERSHELL, &long.arguments).unwrap(),
            Some(ScriptSource::Stdin)
        );
        assert_eq!(decode_stdin_script(&long.stdin).unwrap(), long_script);
    }

    #[test]
    fn script_with_input_travels_on_stdin_ahead_of_its_input() {
        let input = b"{\"before\":{\"a\":1}}\r\nsecond line";
        let invocation = invocation_with_input("Get-Date", input).unwrap();
        assert_eq!(
            script_from_arguments(POWERSHELL, &invocation.arguments).unwrap(),
            Some(ScriptSource::StdinWithInput)
        );
        let (script, rest) = decode_stdin_script_and_input(&invocation.stdin).unwrap();
        assert_eq!((script.as_str(), rest.as_slice()), ("Get-Date", &input[..]));
    }

    #[test]
    fn clixml_error_stream_becomes_console_text() {
        let stderr = "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN></Obj><S S=\"Error\">Get-Foo : The term 'Get-Foo' is not recognized_x000D__x000A_</S><S S=\"Error\">At line:1 char:1_x000D__x000A_</S></Objs>";
        assert_eq!(
            decode_clixml(stderr),
            "Get-Foo : The term 'Get-Foo' is not recognized\nAt line:1 char:1"
        );
    }

    #[test]
    fn plain_stderr_is_unchanged_and_broken_escapes_are_kept() {
        assert_eq!(decode_clixml("plain error"), "plain error");
        assert_eq!(decode_xml_escapes("a_x00ZZ_b_x0041_"), "a_x00ZZ_bA");
    }
}
