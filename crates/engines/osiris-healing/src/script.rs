//! Turning a catalog script and its inputs into the exact text a transport
//! runs, the way the catalog's scripts read them:
//!
//! - parameters: `$Params` (an object from `ConvertFrom-Json`) in
//!   PowerShell, `$OSIRIS_PARAMS` (compact JSON) in sh, always set (`{}`
//!   when there are none) because sh runbooks run under `set -u`;
//! - the prior state, for confirm and rollback: standard input carries what
//!   remediate printed (PowerShell reads it into `$Before` with
//!   `ConvertFrom-Json`), and sh also gets its `before` member as
//!   `$OSIRIS_BEFORE`.
//!
//! Values are embedded as single-quoted literals. JSON from `serde_json` has
//! no raw control characters; every non-ASCII character is written as a
//! `\u` escape first, because PowerShell also ends a single-quoted string at
//! the typographic quotes U+2018 to U+201B.

use std::fmt::Write as _;
use std::time::Duration;

use osiris_catalog::Shell as CatalogShell;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What remediate printed: the whole document (standard input of confirm
/// and rollback) and its `before` member.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    stdout: Vec<u8>,
    before: Value,
}

impl Captured {
    /// Reads remediate's standard output: one JSON object with a non-null
    /// `before` member, or `None`.
    #[must_use]
    pub fn parse(stdout: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(stdout).ok()?;
        let document: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
        let before = document.get("before").filter(|b| !b.is_null())?.clone();
        Some(Self {
            stdout: stdout.to_vec(),
            before,
        })
    }

    /// Remediate's output exactly as printed.
    #[must_use]
    pub fn stdout(&self) -> &[u8] {
        &self.stdout
    }

    /// The prior state it captured.
    #[must_use]
    pub const fn before(&self) -> &Value {
        &self.before
    }
}

/// The transport script for a detect script or runbook step: `body` with
/// `params` (and, for confirm and rollback, the `captured` prior state)
/// passed as the catalog's scripts expect.
#[must_use]
pub fn runbook_step(
    shell: CatalogShell,
    body: &str,
    timeout: Duration,
    params: &Map<String, Value>,
    captured: Option<&Captured>,
) -> osiris_transport::Script {
    let params = ascii_json(&Value::Object(params.clone()));
    let text = match shell {
        CatalogShell::Powershell => {
            format!(
                "$Params = ConvertFrom-Json {}\n{body}",
                powershell_quote(&params)
            )
        }
        CatalogShell::Sh => {
            let before = captured.map(|c| ascii_json(c.before()));
            let mut variables = vec![("OSIRIS_PARAMS", params.as_str())];
            if let Some(before) = &before {
                variables.push(("OSIRIS_BEFORE", before.as_str()));
            }
            with_env(body, &variables)
        }
    };
    osiris_transport::Script {
        shell: transport_shell(shell),
        body: text,
        input: captured.map(|c| c.stdout().to_vec()),
        timeout,
    }
}

/// A read-only script (detect, or a runbook's own verify) exactly as written.
#[must_use]
pub fn plain(shell: CatalogShell, body: &str, timeout: Duration) -> osiris_transport::Script {
    osiris_transport::Script {
        shell: transport_shell(shell),
        body: body.to_owned(),
        input: None,
        timeout,
    }
}

/// `script` preceded by sh assignments exporting `variables`, each value
/// single-quoted (a `'` inside becomes `'\''`).
#[must_use]
pub fn with_env(script: &str, variables: &[(&str, &str)]) -> String {
    let mut body = String::new();
    for (name, value) in variables {
        // Writing to a String cannot fail.
        let _ = writeln!(
            body,
            "{name}='{}'; export {name}",
            value.replace('\'', r"'\''")
        );
    }
    body.push_str(script);
    body
}

/// Lowercase hex SHA-256 of the text a transport would run: what dry-run
/// plans and evidence name a script by.
#[must_use]
pub fn digest(script: &osiris_transport::Script) -> String {
    hex(&Sha256::digest(script.body.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

const fn transport_shell(shell: CatalogShell) -> osiris_transport::Shell {
    match shell {
        CatalogShell::Powershell => osiris_transport::Shell::PowerShell,
        CatalogShell::Sh => osiris_transport::Shell::Sh,
    }
}

/// A PowerShell single-quoted literal of ASCII text.
fn powershell_quote(ascii: &str) -> String {
    format!("'{}'", ascii.replace('\'', "''"))
}

/// Compact JSON with every non-ASCII character escaped as `\uXXXX`
/// (surrogate pairs above U+FFFF): valid JSON, and pure ASCII.
pub(crate) fn ascii_json(value: &Value) -> String {
    let compact = value.to_string();
    let mut out = String::with_capacity(compact.len());
    for c in compact.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn sh_steps_export_params_and_before_and_get_remediate_output_on_stdin() {
        let captured =
            Captured::parse(br#"{"before":{"ufw_active":false},"dead_man_unit":"x"}"#).unwrap();
        let script = runbook_step(
            CatalogShell::Sh,
            "set -eu\necho \"$OSIRIS_BEFORE\"",
            Duration::from_secs(5),
            &params(json!({"osiris_ip": "10.0.0.5"})),
            Some(&captured),
        );
        assert_eq!(
            script.body,
            "OSIRIS_PARAMS='{\"osiris_ip\":\"10.0.0.5\"}'; export OSIRIS_PARAMS\n\
             OSIRIS_BEFORE='{\"ufw_active\":false}'; export OSIRIS_BEFORE\n\
             set -eu\necho \"$OSIRIS_BEFORE\""
        );
        assert_eq!(script.input.as_deref(), Some(captured.stdout()));
        assert_eq!(script.shell, osiris_transport::Shell::Sh);
    }

    #[test]
    fn sh_params_default_to_an_empty_object_so_set_u_scripts_run() {
        let script = runbook_step(
            CatalogShell::Sh,
            "true",
            Duration::from_secs(1),
            &Map::new(),
            None,
        );
        assert_eq!(
            script.body,
            "OSIRIS_PARAMS='{}'; export OSIRIS_PARAMS\ntrue"
        );
        assert_eq!(script.input, None);
    }

    #[test]
    fn a_single_quote_in_a_value_cannot_end_the_sh_literal() {
        assert_eq!(
            with_env("true", &[("X", "it's; rm -rf /")]),
            "X='it'\\''s; rm -rf /'; export X\ntrue"
        );
    }

    #[test]
    fn powershell_steps_define_params_from_an_ascii_single_quoted_literal() {
        let script = runbook_step(
            CatalogShell::Powershell,
            "$Params.mount_point",
            Duration::from_secs(5),
            &params(json!({"mount_point": "C:", "note": "o'k \u{2019}; x"})),
            None,
        );
        assert_eq!(
            script.body,
            "$Params = ConvertFrom-Json '{\"mount_point\":\"C:\",\"note\":\"o''k \\u2019; x\"}'\n$Params.mount_point"
        );
        assert!(script.body.is_ascii());
        assert_eq!(script.shell, osiris_transport::Shell::PowerShell);
    }

    #[test]
    fn ascii_json_escapes_astral_characters_as_surrogate_pairs_and_stays_equal() {
        let value = json!({"s": "é😀"});
        let text = ascii_json(&value);
        assert_eq!(text, r#"{"s":"\u00e9\ud83d\ude00"}"#);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }

    #[test]
    fn remediate_output_without_a_before_member_is_not_captured() {
        for printed in [
            &b"not json"[..],
            br#"{"after":{}}"#,
            br#"{"before":null}"#,
            br#"[1]"#,
            b"",
        ] {
            assert_eq!(Captured::parse(printed), None, "{printed:?}");
        }
        let captured = Captured::parse(b"\xef\xbb\xbf{\"before\":{\"a\":1}}\r\n").unwrap();
        assert_eq!(captured.before(), &json!({"a": 1}));
    }

    #[test]
    fn the_digest_names_the_exact_text_sent() {
        let a = plain(CatalogShell::Sh, "echo a", Duration::from_secs(1));
        let b = plain(CatalogShell::Sh, "echo b", Duration::from_secs(1));
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
