//! `osiris phi …`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use osiris_scrub::{CliOptions, ScrubConfig};

use crate::cli::ScrubArgs;
use crate::output;

pub(crate) fn scrub(args: &ScrubArgs) -> Result<ExitCode> {
    let options = CliOptions {
        key_file: args.key_file.clone(),
        json: args.json,
        report: args.report,
    };
    // Until the appliance config carries a site's policy, the IT-evidence
    // preset applies: private ranges kept, everything personal redacted.
    let config = ScrubConfig::it_evidence();
    let result = osiris_scrub::run_phi_scrub(
        &options,
        &config,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        std::io::stderr(),
    );
    match result {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            output::error(&anyhow::Error::new(error));
            Ok(output::exit_usage())
        }
    }
}

pub(crate) fn keygen(path: &Path) -> Result<ExitCode> {
    osiris_scrub::create_key_file(path).with_context(|| format!("creating {}", path.display()))?;
    output::line(&format!(
        "created scrubbing key {} (mode 0600)",
        path.display()
    ));
    Ok(ExitCode::SUCCESS)
}
