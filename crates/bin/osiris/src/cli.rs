//! The command-line surface. Every command documents itself in `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Osiris: HIPAA compliance automation for small healthcare practices and
/// the managed service providers who run their IT.
///
/// Exit codes: 0 success; 1 a finding or failed verification; 2 bad usage,
/// configuration or unusable input.
#[derive(Debug, Parser)]
#[command(name = "osiris", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log more (repeat for more detail). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the whole product on embedded defaults against a simulated practice.
    ///
    /// Starts Central Command (SQLite, local WORM store, self-signed TLS),
    /// creates "North Valley Clinic" and enrols an appliance by claim code,
    /// starts simulated Windows servers (and a Linux host in a network
    /// namespace when run as root), then sweeps, injects drift and shows
    /// each healing tier, exports the site's evidence and verifies it
    /// offline, and prints the dashboard URL with a one-time admin password
    /// (also in `<data-dir>/demo.json`). It keeps sweeping until Ctrl-C or
    /// --duration. A second run reuses the data directory; --fresh starts
    /// clean.
    Demo(DemoArgs),
    /// Work with evidence exports.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// Validate the catalog of checks, runbooks and L1 rules.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Validate L1 rule files and see what they decide for an incident.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Reach one host over WinRM or SSH: check credentials, run a script.
    Target {
        #[command(subcommand)]
        command: TargetCommand,
    },
    /// Remove protected health information (HIPAA Safe Harbor identifiers).
    Phi {
        #[command(subcommand)]
        command: PhiCommand,
    },
    /// Simulated hosts that speak the real protocols, for demos and tests.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
    /// Run Central Command, the MSP's multi-tenant API.
    ///
    /// With --config, settings come from that TOML file and OSIRIS_*
    /// environment variables (OSIRIS_DATABASE__URL, OSIRIS_LIMITS__REDIS_URL,
    /// ...); --data-dir and --listen override them. Without a file, the
    /// embedded defaults apply: SQLite in the data directory, in-process
    /// rate limits, HTTPS with a CA generated on first start. The first
    /// start creates the `admin` account and prints its password once.
    Server(ServerArgs),
    /// Run the on-site appliance: sweeps, incidents, guarded healing,
    /// evidence and check-in to Central Command.
    ///
    /// Enrol once (`osiris agent enroll`) with the claim code an operator
    /// got when creating the appliance, then `osiris agent run`. The
    /// configuration (TOML) names Central Command, the site's maintenance
    /// window, the healing mode (observe, dry_run, heal), limits and the
    /// targets with references to their credentials.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Administer Central Command offline: users, passwords, keys.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

/// Where the server's configuration comes from.
#[derive(Debug, Args)]
pub(crate) struct ServerConfigArgs {
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// The data directory (database, keys, TLS material, evidence).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    pub(crate) source: ServerConfigArgs,

    /// Address to listen on, such as 127.0.0.1:8443.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Create a user (the password is read from an environment variable).
    CreateUser {
        #[command(flatten)]
        source: ServerConfigArgs,
        /// Login name.
        #[arg(long)]
        username: String,
        /// admin, operator, partner, client or auditor.
        #[arg(long)]
        role: String,
        /// The partner a partner user works for.
        #[arg(long, value_name = "UUID")]
        partner_id: Option<osiris_core::PartnerId>,
        /// The practice a client user belongs to.
        #[arg(long, value_name = "UUID")]
        client_id: Option<osiris_core::ClientId>,
        /// Name of the environment variable holding the password (never
        /// an argument, where other users could read it).
        #[arg(long, value_name = "VAR")]
        password_env: String,
        /// Print the created user as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, clear its lockout and end its sessions.
    ResetPassword {
        #[command(flatten)]
        source: ServerConfigArgs,
        /// Login name.
        #[arg(long)]
        username: String,
        /// Name of the environment variable holding the new password.
        #[arg(long, value_name = "VAR")]
        password_env: String,
    },
    /// Add a credentials-vault key version and re-seal every credential.
    RotateKeys {
        #[command(flatten)]
        source: ServerConfigArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Enrol this appliance with Central Command: make its key, claim it
    /// with a one-time code (or a MAC address the operator registered) and
    /// pin the server's CA.
    Enroll(EnrollArgs),
    /// Sweep and check in on schedule until Ctrl-C (or once, with --once).
    ///
    /// Exit 0 when done; with --once, 1 when the check-in failed (the
    /// evidence stays queued); 2 for a bad configuration.
    Run {
        /// The appliance configuration (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// One sweep and one check-in, then exit.
        #[arg(long)]
        once: bool,
        /// With --once, print what the sweep and check-in did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check in once now, without a sweep: send the oldest queued evidence
    /// and items (up to limits.checkin_batch bundles), apply the answer
    /// (acknowledgements, a rule-set update, orders) and say what is still
    /// queued.
    ///
    /// Exit 0 when Central Command answered, 1 when the check-in failed
    /// (the evidence stays queued), 2 for a bad configuration. Safe beside
    /// a running appliance only when it is stopped: the queue has one
    /// writer.
    Checkin {
        /// The appliance configuration (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print what the check-in did as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show open incidents, the escalation queue and the outbound queue.
    Status {
        /// The appliance configuration (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct EnrollArgs {
    /// The appliance configuration (TOML): its data_dir and server.url.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,
    /// Name of the environment variable holding the claim code (never an
    /// argument, where other users could read it).
    #[arg(long, value_name = "VAR", conflicts_with = "mac")]
    pub(crate) claim_code_env: Option<String>,
    /// Claim by this machine's MAC addresses instead of a code.
    #[arg(long)]
    pub(crate) mac: bool,
    /// The server's CA certificate (PEM), as `osiris server` printed it.
    #[arg(long, value_name = "FILE", conflicts_with = "ca_fingerprint")]
    pub(crate) ca_file: Option<PathBuf>,
    /// The SHA-256 fingerprint of the server's CA, as `osiris server` printed it.
    #[arg(long, value_name = "HEX")]
    pub(crate) ca_fingerprint: Option<String>,
    /// Replace an existing enrolment (a new key and appliance id).
    #[arg(long)]
    pub(crate) force: bool,
    /// Print the identity as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// Load every check, runbook and rule and check their cross-references.
    ///
    /// Without DIR, validates the catalog built into this binary. Exit 0
    /// when valid, 1 listing every problem (file:line:column: field: what).
    Validate {
        /// A catalog directory (with checks/, runbooks/, rules/).
        dir: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Validate rule files, in the Osiris format or the reference format.
    Validate {
        /// Rule files (YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print, as JSON, the L1 decision for an incident and why each rule
    /// did or did not match.
    Match {
        /// Rule files (YAML), in precedence order.
        #[arg(long = "rules", value_name = "FILE", required = true, num_args = 1..)]
        rules: Vec<PathBuf>,
        /// The incident as JSON (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        incident: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TargetCommand {
    /// Check that a host is reachable, accepts the credentials and runs a
    /// trivial command, timing each step.
    ///
    /// Exit 0 when every step passed; 1 (WinRM) or 255 (SSH, as `ssh`
    /// does) when one failed, with the reason; 2 for bad usage.
    Test(TargetArgs),
    /// Run a script or command on a host, print its output and exit with
    /// its exit code (255 when it could not be run).
    Exec {
        #[command(flatten)]
        target: TargetArgs,
        /// A script file to run (PowerShell over WinRM, sh over SSH).
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "command",
            required_unless_present = "command"
        )]
        script: Option<PathBuf>,
        /// A command to run.
        #[arg(long, value_name = "TEXT")]
        command: Option<String>,
        /// How long the command may run, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
}

/// How to reach the host: exactly one of `--winrm` and `--ssh`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("transport").required(true).args(["winrm", "ssh"])))]
pub(crate) struct TargetArgs {
    /// A WinRM endpoint such as http://host:5985/wsman (NTLM with message
    /// encryption) or https://host:5986/wsman.
    #[arg(long, value_name = "URL", requires_all = ["user", "password_env"])]
    pub(crate) winrm: Option<String>,
    /// WinRM account, as DOMAIN\\user.
    #[arg(long, value_name = "DOMAIN\\USER")]
    pub(crate) user: Option<String>,
    /// Name of the environment variable holding the WinRM password (never
    /// a command-line argument, where other users could read it).
    #[arg(long, value_name = "VAR")]
    pub(crate) password_env: Option<String>,
    /// An SSH target, as USER@HOST or USER@HOST:PORT.
    #[arg(long, value_name = "USER@HOST[:PORT]", requires = "key_file")]
    pub(crate) ssh: Option<String>,
    /// The SSH private key (OpenSSH format).
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Known-hosts file where SSH host keys are pinned on first contact and
    /// checked afterwards (default: ~/.config/osiris/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub(crate) known_hosts: Option<PathBuf>,
    /// Run SSH commands through `sudo -n` (needs a sudoers rule on the host).
    #[arg(long)]
    pub(crate) sudo: bool,
    /// Print the WinRM test report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PhiCommand {
    /// Scrub standard input to standard output.
    ///
    /// Every identifier is replaced by a keyed-hash token such as
    /// `[PHI:SSN:7c2e:3f9a1c2b4d5e]`, so equal values stay correlatable
    /// without being readable. Scrubbing is idempotent.
    Scrub(ScrubArgs),
    /// Create a new scrubbing key file (mode 0600; never overwrites).
    Keygen {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        key_file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScrubArgs {
    /// The site's scrubbing key (mode 0600). Without it a one-time key is
    /// used and tokens correlate only within this run.
    #[arg(long, value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,

    /// The input is one JSON document: keep its structure, scrub its values.
    #[arg(long)]
    pub(crate) json: bool,

    /// Print redaction counts per identifier family on stderr.
    #[arg(long)]
    pub(crate) report: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LabCommand {
    /// Serve a simulated Windows Server (domain controller) over WinRM.
    ///
    /// Speaks WS-Management on HTTP with NTLMv2 authentication and message
    /// encryption, as a real Windows host on port 5985 does, and answers
    /// the Osiris check scripts from a data-driven host model whose
    /// settings drift and can be remediated. It stands in for Windows,
    /// which cannot run here.
    Windows(LabWindowsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LabWindowsArgs {
    /// Address to listen on, such as 127.0.0.1:5985.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: std::net::SocketAddr,

    /// The account clients must use, as DOMAIN\\user.
    #[arg(long, value_name = "DOMAIN\\USER")]
    pub(crate) user: String,

    /// Name of the environment variable holding that account's password
    /// (never a command-line argument, where other users could read it).
    #[arg(long, value_name = "VAR")]
    pub(crate) password_env: String,

    /// Extra delay per reply, to imitate a WAN link.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) latency_ms: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Verify an osiris.export.v1 export offline.
    ///
    /// Checks every bundle signature, every hash link, seq continuity, the
    /// manifest's counts and head hashes, the server's checkpoints and the
    /// manifest signature. Exits 0 only if everything holds; 1 with a list
    /// of every failure (appliance, seq, what was wrong); 2 when the input
    /// is not a usable export.
    Verify(VerifyArgs),
    /// Write a site's evidence as an osiris.export.v1 export, offline from
    /// the server's own database, evidence store and signing key.
    ///
    /// Bundles are copied exactly as stored, with the server's checkpoints
    /// and the manifest signed by the server key; `osiris evidence verify`
    /// checks the result anywhere.
    Export(ExportArgs),
    /// Verify one bundle alone by its inclusion proof: that it is a leaf of
    /// the Merkle tree whose root the server signed in an export manifest.
    ///
    /// Exits 0 when the proof holds, 1 when it does not, 2 on unusable input.
    VerifyBundle(VerifyBundleArgs),
}

#[derive(Debug, Args)]
pub(crate) struct VerifyBundleArgs {
    /// The bundle: its canonical bytes, one line of a bundle file.
    pub(crate) bundle: PathBuf,

    /// Its proof: a line of `proofs/<appliance_id>.jsonl`, in a file.
    /// Without it, `--export` supplies the proof for the bundle's seq.
    #[arg(long, value_name = "FILE")]
    pub(crate) proof: Option<PathBuf>,

    /// The Merkle root (64 hex digits) you trust, such as the manifest's
    /// `merkle_root` for the bundle's appliance.
    #[arg(long, value_name = "HEX", conflicts_with = "export")]
    pub(crate) root: Option<String>,

    /// An export (directory or .tar.gz): the root is taken from its
    /// manifest once the manifest signature verifies.
    #[arg(long, value_name = "PATH")]
    pub(crate) export: Option<PathBuf>,

    /// The server public key you expect (base64), checked against the
    /// export's manifest.
    #[arg(long, value_name = "BASE64", requires = "export")]
    pub(crate) server_key: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The site (its id).
    #[arg(long, value_name = "SITE_ID")]
    pub(crate) site: osiris_core::SiteId,

    /// Bundles created on or after this date (YYYY-MM-DD, UTC) or instant
    /// (RFC 3339); default: from the beginning.
    #[arg(long, value_name = "DATE")]
    pub(crate) from: Option<String>,

    /// Bundles created before this date (YYYY-MM-DD, UTC, exclusive) or
    /// instant (RFC 3339); default: until now.
    #[arg(long, value_name = "DATE")]
    pub(crate) to: Option<String>,

    /// Where to write the export; must not exist.
    #[arg(long, value_name = "PATH")]
    pub(crate) out: PathBuf,

    /// A directory, or a .tar.gz archive of the same files.
    #[arg(long, value_enum, default_value = "dir")]
    pub(crate) format: ExportFormatArg,

    #[command(flatten)]
    pub(crate) source: ServerConfigArgs,

    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--format` of `osiris evidence export`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ExportFormatArg {
    /// A plain directory.
    Dir,
    /// A gzip-compressed tar archive.
    #[value(name = "tar.gz")]
    TarGz,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The export: a directory or a .tar.gz file.
    pub(crate) path: PathBuf,

    /// The server public key you expect (base64 of the raw 32 bytes, as
    /// obtained from the MSP out of band). Without it, the verifier trusts
    /// the key named in the manifest and prints its key id to compare.
    #[arg(long, value_name = "BASE64")]
    pub(crate) server_key: Option<String>,

    /// Print the full report as JSON on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the demo keeps Central Command's data, the appliance's, the
    /// Linux host's keys, exports and demo.json.
    #[arg(long, value_name = "DIR", default_value = "osiris-demo")]
    pub(crate) data_dir: PathBuf,

    /// Where Central Command listens (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub(crate) listen: std::net::SocketAddr,

    /// More simulated Windows member servers besides the domain controller
    /// and the file server.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=50))]
    pub(crate) hosts: u32,

    /// What happens to the practice: `tour` injects drift that shows every
    /// tier at work; `steady` only sweeps.
    #[arg(long, value_name = "NAME", value_enum, default_value = "tour")]
    pub(crate) scenario: Scenario,

    /// Stop this many seconds after the dashboard is ready (default: run
    /// until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub(crate) duration: Option<u64>,

    /// An OpenAI-compatible endpoint (such as http://127.0.0.1:8080/v1)
    /// for the L2 planner; without it a scripted local planner decides,
    /// and says so.
    #[arg(long, value_name = "URL")]
    pub(crate) llm_url: Option<String>,

    /// The model to ask at --llm-url.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "local",
        requires = "llm_url"
    )]
    pub(crate) llm_model: String,

    /// Never open a browser (one is opened only on a desktop session).
    #[arg(long)]
    pub(crate) no_browser: bool,

    /// Delete the data directory's demo state first and start clean.
    #[arg(long)]
    pub(crate) fresh: bool,

    /// Print the summary as JSON on stdout (the live log goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--scenario` of `osiris demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// Drift that shows each tier: L1, L2, L3, deferral, rollback.
    Tour,
    /// No drift: sweeps, score, export.
    Steady,
}
