//! [`IncidentContext`]: everything a prompt may be built from.

use osiris_catalog::{Check, Platform};
use osiris_core::SiteId;
use osiris_scrub::Scrubbed;
use serde_json::Value;

/// One incident as the planner sees it. Whatever comes from the site is
/// [`Scrubbed`]; the check comes from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct IncidentContext<'a> {
    /// The site, for its hourly call budget; never put in the prompt.
    pub site_id: SiteId,
    /// The target's platform: only runbooks for it are candidates.
    pub platform: Platform,
    /// The failed check, from the catalog.
    pub check: &'a Check,
    /// The detect script's output, scrubbed.
    pub check_output: &'a Scrubbed<String>,
    /// Facts about the host (OS version, role, inventory), scrubbed.
    pub host_facts: &'a Scrubbed<Value>,
    /// Recent history of this incident (earlier runs, what was tried), scrubbed.
    pub history: &'a Scrubbed<Value>,
}
