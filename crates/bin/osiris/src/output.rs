//! Everything the binary prints: logs to stderr, progress bars only on a
//! terminal, results on stdout.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use osiris_evidence::Progress;

pub(crate) const EXIT_FINDING: ExitCode = ExitCode::FAILURE;

/// Bad usage, configuration or unusable input.
pub(crate) fn exit_usage() -> ExitCode {
    ExitCode::from(2)
}

pub(crate) fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("OSIRIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a journal or log file
        // gets plain lines.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

pub(crate) fn error(error: &anyhow::Error) {
    // If stderr is gone there is nobody left to tell.
    let _ = writeln!(std::io::stderr().lock(), "error: {error:#}");
}

/// Reports bad usage and returns exit code 2.
pub(crate) fn usage(message: &str) -> ExitCode {
    error(&anyhow::anyhow!("{message}"));
    exit_usage()
}

/// Prints one line of results. A closed stdout (`osiris … | head`) is not
/// an error worth a panic: the reader has what it wanted.
pub(crate) fn line(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

pub(crate) fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    line(&serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A progress bar on stderr when it is a terminal, nothing otherwise.
pub(crate) struct Bar(ProgressBar);

impl Bar {
    pub(crate) fn new(message: &'static str) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(message);
        Self(bar)
    }

    pub(crate) fn set_total(&self, total: u64) {
        self.0.set_length(total);
    }

    pub(crate) fn inc(&self, done: u64) {
        self.0.inc(done);
    }

    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        self.set_total(total);
    }

    fn advance(&self, done: u64) {
        self.inc(done);
    }
}
