//! Streaming text scrubbing with bounded memory, and the `osiris phi scrub`
//! command behind the binary's thin glue.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::engine::{BLOCK, Scrubber};
use crate::error::{Error, Result};
use crate::scrubbed::Report;

/// A line longer than this is cut, at its last space or tab if it has one,
/// so memory stays bounded on input without newlines. A value straddling a
/// cut may escape its pattern; log lines this long are data dumps.
pub const MAX_LINE: usize = 1 << 20;
/// `--json` input beyond this size is refused: JSON is parsed whole.
pub const MAX_JSON: u64 = 256 << 20;

impl Scrubber {
    /// Scrubs text from `input` to `output` block by block. Memory stays
    /// under about [`MAX_LINE`] plus a block whatever the input size; bytes
    /// that are not UTF-8 pass through unchanged.
    ///
    /// # Errors
    /// [`Error::Io`] when reading or writing fails.
    pub fn scrub_stream(&self, mut input: impl Read, mut output: impl Write) -> Result<Report> {
        let mut report = Report::default();
        let mut pending: Vec<u8> = Vec::with_capacity(BLOCK * 2);
        let mut chunk = vec![0_u8; BLOCK];
        let mut out = Vec::with_capacity(BLOCK * 2);
        loop {
            let read = match input.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        what: "read",
                        source,
                    });
                }
            };
            let at_end = read == 0;
            pending.extend_from_slice(chunk.get(..read).unwrap_or_default());
            let cut = if at_end {
                pending.len()
            } else {
                ready_len(&pending)
            };
            if cut > 0 {
                out.clear();
                self.scrub_block(
                    pending.get(..cut).unwrap_or_default(),
                    &mut out,
                    &mut report,
                );
                output.write_all(&out).map_err(|source| Error::Io {
                    what: "write",
                    source,
                })?;
                pending.drain(..cut);
            }
            if at_end {
                break;
            }
        }
        output.flush().map_err(|source| Error::Io {
            what: "write",
            source,
        })?;
        Ok(report)
    }
}

/// How much of `pending` can be scrubbed now: whole lines once a block's
/// worth has gathered, or a cut of an over-long line.
fn ready_len(pending: &[u8]) -> usize {
    if pending.len() < BLOCK {
        return 0;
    }
    if let Some(newline) = memchr::memrchr(b'\n', pending) {
        return newline + 1;
    }
    if pending.len() < MAX_LINE {
        return 0;
    }
    let window = pending.get(..MAX_LINE).unwrap_or_default();
    memchr::memrchr2(b' ', b'\t', window)
        .filter(|&space| space > MAX_LINE / 2)
        .map_or(MAX_LINE, |space| space + 1)
}

/// Options of `osiris phi scrub`.
#[derive(Debug, Clone)]
pub struct CliOptions {
    /// `--key-file F`: the site key (mode 0600). Without it a one-time key is
    /// generated and tokens do not correlate with any other run.
    pub key_file: Option<PathBuf>,
    /// `--json`: input is one JSON document whose structure is kept.
    pub json: bool,
    /// `--report`: redaction counts per family go to `diagnostics`.
    pub report: bool,
}

/// `osiris phi scrub [--key-file F] [--json] [--report]`: scrubs `input`
/// (stdin) to `output` (stdout); warnings and the report go to
/// `diagnostics` (stderr).
///
/// # Errors
/// A key file that cannot be read or is readable by others, a config
/// pattern that does not compile, invalid or oversized JSON, or I/O.
pub fn run_phi_scrub(
    options: &CliOptions,
    config: &crate::ScrubConfig,
    input: impl Read,
    mut output: impl Write,
    mut diagnostics: impl Write,
) -> Result<Report> {
    let diagnostic = |source| Error::Io {
        what: "write",
        source,
    };
    let key = if let Some(path) = &options.key_file {
        crate::keyfile::load_key_file(path)?
    } else {
        writeln!(
            diagnostics,
            "warning: no --key-file given; using a one-time key, so tokens will not match those of other runs"
        )
        .map_err(diagnostic)?;
        crate::ScrubKey::generate()?
    };
    let scrubber = Scrubber::new(&key, config)?;
    let report = if options.json {
        let mut text = Vec::new();
        input
            .take(MAX_JSON + 1)
            .read_to_end(&mut text)
            .map_err(|source| Error::Io {
                what: "read",
                source,
            })?;
        if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_JSON {
            return Err(Error::JsonTooLarge { limit: MAX_JSON });
        }
        let value: serde_json::Value = serde_json::from_slice(&text).map_err(Error::Json)?;
        let scrubbed = scrubber.scrub_json(&value);
        serde_json::to_writer(&mut output, scrubbed.as_inner()).map_err(|e| Error::Io {
            what: "write",
            source: e.into(),
        })?;
        output
            .write_all(b"\n")
            .and_then(|()| output.flush())
            .map_err(|source| Error::Io {
                what: "write",
                source,
            })?;
        scrubbed.report().clone()
    } else {
        scrubber.scrub_stream(input, &mut output)?
    };
    if options.report {
        writeln!(diagnostics, "{report}").map_err(diagnostic)?;
    }
    Ok(report)
}
