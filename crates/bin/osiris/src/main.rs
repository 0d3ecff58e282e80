//! `osiris`: the one binary. Commands are thin: parse arguments, build
//! typed inputs, call a library, print. `anyhow` lives only here.

mod agent;
mod catalog;
mod cli;
mod demo;
mod evidence;
mod lab;
mod output;
mod phi;
mod server;
mod target;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    AdminCommand, AgentCommand, CatalogCommand, Cli, Command, EvidenceCommand, LabCommand,
    PhiCommand, RulesCommand, TargetCommand,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::init_tracing(cli.verbose);
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Evidence {
            command: EvidenceCommand::Verify(args),
        } => evidence::verify(&args),
        Command::Evidence {
            command: EvidenceCommand::Export(args),
        } => evidence::export(&args),
        Command::Evidence {
            command: EvidenceCommand::VerifyBundle(args),
        } => evidence::verify_bundle(&args),
        Command::Catalog {
            command: CatalogCommand::Validate { dir, json },
        } => catalog::validate(dir.as_deref(), json),
        Command::Rules {
            command: RulesCommand::Validate { files, json },
        } => catalog::validate_rules(&files, json),
        Command::Rules {
            command: RulesCommand::Match { rules, incident },
        } => catalog::match_incident(&rules, &incident),
        Command::Target {
            command: TargetCommand::Test(args),
        } => target::test(&args),
        Command::Target {
            command:
                TargetCommand::Exec {
                    target,
                    script,
                    command,
                    timeout,
                },
        } => {
            let source = match (script, command) {
                (Some(path), _) => target::Source::Script(path),
                (None, Some(text)) => target::Source::Command(text),
                (None, None) => return output::usage("give --script FILE or --command TEXT"),
            };
            target::exec(&target, source, std::time::Duration::from_secs(timeout))
        }
        Command::Phi {
            command: PhiCommand::Scrub(args),
        } => phi::scrub(&args),
        Command::Phi {
            command: PhiCommand::Keygen { key_file },
        } => phi::keygen(&key_file),
        Command::Lab {
            command: LabCommand::Windows(args),
        } => lab::windows(&args),
        Command::Server(args) => server::run(&args),
        Command::Agent { command } => match command {
            AgentCommand::Enroll(args) => agent::enroll(&args),
            AgentCommand::Run { config, once, json } => agent::run(&config, once, json),
            AgentCommand::Checkin { config, json } => agent::checkin(&config, json),
            AgentCommand::Status { config, json } => agent::status(&config, json),
        },
        Command::Admin { command } => match command {
            AdminCommand::CreateUser {
                source,
                username,
                role,
                partner_id,
                client_id,
                password_env,
                json,
            } => server::create_user(
                &source,
                osiris_server::admin::CreateUser {
                    username,
                    role,
                    partner_id,
                    client_id,
                    password: match server::password_from(&password_env) {
                        Ok(password) => password,
                        Err(error) => {
                            output::error(&error);
                            return output::exit_usage();
                        }
                    },
                },
                json,
            ),
            AdminCommand::ResetPassword {
                source,
                username,
                password_env,
            } => server::reset_password(&source, &username, &password_env),
            AdminCommand::RotateKeys { source, json } => server::rotate_keys(&source, json),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            output::error(&error);
            output::exit_usage()
        }
    }
}
