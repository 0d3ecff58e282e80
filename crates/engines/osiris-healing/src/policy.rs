//! The site's healing policy: what the appliance may do, when, and how
//! often. The app builds it from its configuration (and Central Command's
//! site settings); there is no default, every site states its choices.

use std::collections::BTreeMap;

use osiris_core::RunbookId;
use osiris_limits::Quota;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::flap::FlapPolicy;
use crate::window::MaintenanceWindow;

/// What the appliance does about a failed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Check and record; never change a host.
    Observe,
    /// Record exactly what would run, without running it.
    DryRun,
    /// Heal through L1 rules inside the guardrails.
    Heal,
}

impl Mode {
    /// The name used in settings and evidence.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Observe => "observe",
            Self::DryRun => "dry_run",
            Self::Heal => "heal",
        }
    }
}

/// The guardrail settings of one site.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Observe, dry run or heal.
    pub mode: Mode,
    /// When disruptive runbooks (`disruptive: true`) may run.
    pub window: MaintenanceWindow,
    /// Runbook runs allowed per host.
    pub host_actions: Quota,
    /// Runbook runs allowed per site.
    pub site_actions: Quota,
    /// When a reopening incident counts as flapping.
    pub flapping: FlapPolicy,
    /// Parameters the site gives a runbook when an L1 rule runs it (an
    /// appliance address a firewall runbook must keep admitting, say). They
    /// are validated against the runbook's parameter schema like any other.
    pub runbook_params: BTreeMap<RunbookId, Map<String, Value>>,
}
