//! `osiris`: the one binary. Commands are thin: parse arguments, build
//! typed inputs, call a library, print. `anyhow` lives only here.

mod cli;
mod demo;
mod evidence;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, EvidenceCommand};

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Evidence {
            command: EvidenceCommand::Verify(args),
        } => evidence::verify(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            output::error(&error);
            output::exit_usage()
        }
    }
}
