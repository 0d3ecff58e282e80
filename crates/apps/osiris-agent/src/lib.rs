//! The on-site appliance as a library: `osiris agent` runs it, and the
//! tests drive it in-process. The seams between its parts are described in
//! `docs/design/appliance.md`.

mod agent;
pub mod config;
mod decisions;
mod error;
pub mod escalation;
mod evidence;
pub mod l2;
pub mod ports;
pub mod rules;
pub mod state;
pub mod sweep;
pub mod targets;
pub mod uplink;

pub use agent::{
    AGENT_VERSION, Agent, CheckinSummary, Status, queue_file, scrub_key_file, state_file,
};
pub use config::{AgentConfig, ConfigError};
pub use error::AgentError;
