//! `osiris`: the one binary. Commands are thin: parse arguments, build
//! typed inputs, call a library, print. `anyhow` lives only here.

mod catalog;
mod cli;
mod demo;
mod evidence;
mod lab;
mod output;
mod phi;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    CatalogCommand, Cli, Command, EvidenceCommand, LabCommand, PhiCommand, RulesCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Evidence {
            command: EvidenceCommand::Verify(args),
        } => evidence::verify(&args),
        Command::Catalog {
            command: CatalogCommand::Validate { dir, json },
        } => catalog::validate(dir.as_deref(), json),
        Command::Rules {
            command: RulesCommand::Validate { files, json },
        } => catalog::validate_rules(&files, json),
        Command::Rules {
            command: RulesCommand::Match { rules, incident },
        } => catalog::match_incident(&rules, &incident),
        Command::Phi {
            command: PhiCommand::Scrub(args),
        } => phi::scrub(&args),
        Command::Phi {
            command: PhiCommand::Keygen { key_file },
        } => phi::keygen(&key_file),
        Command::Lab {
            command: LabCommand::Windows(args),
        } => lab::windows(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            output::error(&error);
            output::exit_usage()
        }
    }
}
