//! `POST /api/appliances/checkin`: evidence, incidents, telemetry, order
//! results and the inventory up; acknowledgements, signed orders, the rule
//! set, the site's hosts, the server time and the next check-in interval
//! down.
//!
//! Fields added after the first version are optional and, in requests, left
//! out when empty, so an appliance talks to a server that predates them and
//! a server accepts an appliance that does not send them.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, HostId, IncidentId, OrderId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orders::SignedOrder;
use crate::rule_set::RuleSet;

/// What an appliance sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// Must be the appliance that signed the request.
    #[schema(value_type = String, format = Uuid)]
    pub appliance_id: ApplianceId,
    /// The agent's version, 1 to 64 printable characters.
    pub agent_version: String,
    /// The version of the rule set it runs (none before the first sync).
    pub rule_set_version: Option<String>,
    /// Queued evidence, oldest first: one canonical bundle line each,
    /// exactly as sealed.
    #[serde(default)]
    pub bundles: Vec<String>,
    /// Failed checks.
    #[serde(default)]
    pub incidents: Vec<IncidentReport>,
    /// Measurements, each a JSON object (counted, not stored).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub telemetry: Vec<serde_json::Value>,
    /// Results of orders delivered earlier.
    #[serde(default)]
    pub order_results: Vec<OrderResult>,
    /// The hosts the appliance manages, as configured on it: added to the
    /// site, or updated by host name. Omitted: the site's hosts stay as
    /// they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<InventoryHost>,
}

/// One host of the appliance's inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryHost {
    /// Its name, unique at the site: 1 to 253 characters of letters,
    /// digits, `-`, `_` and `.`, starting with a letter or digit.
    pub hostname: String,
    /// `windows`, `debian`, `rhel` or `appliance` (the catalog's platforms).
    pub platform: String,
    /// Where the appliance reaches it: a name or an IP address, 1 to 253
    /// characters without spaces or controls.
    pub address: String,
}

/// A host of the site, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteHost {
    pub hostname: String,
    #[schema(value_type = String, format = Uuid)]
    pub host_id: HostId,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentReport {
    /// A check of the catalog.
    pub check_id: String,
    /// The host, when the check targets one; must be at the appliance's site.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub host_id: Option<HostId>,
    /// The host by name instead (a host of the site, or one in this
    /// check-in's `inventory`); with `host_id`, both must name one host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Reports with the same key fold into one open incident; defaults to
    /// the check id and host.
    pub dedup_key: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// `l1`, `l2` or `l3`.
    pub tier: String,
}

/// The end of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderResult {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    /// `executed`, `failed`, `rolled_back` or `refused`.
    pub outcome: String,
    /// What happened, for people (at most 4096 characters).
    pub detail: String,
}

/// A bundle that was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Its position in the request's `bundles`.
    pub index: usize,
    /// The seq it claims, when it parsed that far.
    pub seq: Option<u64>,
    /// Why it was refused.
    pub reason: String,
}

/// An order result that was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectedResult {
    #[schema(value_type = String, format = Uuid)]
    pub order_id: OrderId,
    pub reason: String,
}

/// Where a reported incident went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentAck {
    #[schema(value_type = String, format = Uuid)]
    pub incident_id: IncidentId,
    /// False when folded into an open incident.
    pub created: bool,
}

/// What the appliance gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinResponse {
    /// Every bundle up to this seq is stored: the appliance may delete
    /// them from its queue. 0 when none is.
    pub acknowledged_through_seq: u64,
    /// The refused bundle, if any; bundles after it were not examined.
    pub rejected: Vec<Rejection>,
    /// Order results that were not recorded (unknown order, not pending).
    pub rejected_order_results: Vec<RejectedResult>,
    /// The reported incidents, in request order.
    pub incidents: Vec<IncidentAck>,
    /// New orders, each delivered exactly once.
    pub orders: Vec<SignedOrder>,
    /// The rule set, when the appliance's version differs.
    pub rule_set: Option<RuleSet>,
    /// Every host of the site, by host name, after this check-in's
    /// inventory: how the appliance learns host ids.
    #[serde(default)]
    pub hosts: Vec<SiteHost>,
    pub server_time: DateTime<Utc>,
    /// Seconds until the next check-in.
    pub next_checkin_secs: u32,
    /// Decisions on escalated incidents that carry no order (rejections),
    /// each delivered once and signed by the server key; left out when
    /// there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<crate::decisions::SignedDecision>,
}
