//! People's decisions on escalated incidents (approve with a runbook run
//! as a signed order, or reject with a reason), and which appliance
//! reported each incident (the one an approval's order goes to).

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, IncidentId, OrderId, SiteId, UserId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// What a person decided.
    DecisionKind {
        /// Run the proposed fix (an order carries it out).
        Approved = "approved",
        /// Do not fix; the reason says why.
        Rejected = "rejected",
    }
);

/// The decision on an incident. An incident takes one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentDecision {
    /// The incident.
    pub incident_id: IncidentId,
    /// Its site.
    pub site_id: SiteId,
    /// The appliance the decision goes to.
    pub appliance_id: ApplianceId,
    /// Approved or rejected.
    pub decision: DecisionKind,
    /// Who decided.
    pub decided_by: UserId,
    /// When.
    pub decided_at: DateTime<Utc>,
    /// Why (required for a rejection).
    pub reason: Option<String>,
    /// The order carrying out an approval.
    pub order_id: Option<OrderId>,
    /// When a rejection was handed to the appliance (approvals travel in
    /// their order).
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// The incident; must be visible to the caller.
    pub incident_id: IncidentId,
    /// The appliance it goes to.
    pub appliance_id: ApplianceId,
    /// Approved or rejected.
    pub decision: DecisionKind,
    /// Who decides.
    pub decided_by: UserId,
    /// When.
    pub decided_at: DateTime<Utc>,
    /// Why.
    pub reason: Option<String>,
    /// The order of an approval (created first, in the same scope).
    pub order_id: Option<OrderId>,
}

/// Decisions. Visibility follows the incident's site.
pub trait DecisionStore {
    /// Records that `appliance` reported `incident` (the latest reporter
    /// is the one decisions go to).
    fn note_incident_reporter<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
        appliance: ApplianceId,
    ) -> BoxFuture<'a, ()>;

    /// The appliance that last reported `incident`; `None` when none did.
    fn incident_reporter<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
    ) -> BoxFuture<'a, Option<ApplianceId>>;

    /// Records the decision on an incident; a second decision on the same
    /// incident is a [`crate::Error::Conflict`] on
    /// [`crate::constraint::INCIDENT_DECISION`].
    fn decide_incident<'a>(
        &'a self,
        scope: &'a TenantScope,
        decision: &'a NewDecision,
    ) -> BoxFuture<'a, IncidentDecision>;

    /// The decision on an incident, if one was made.
    fn incident_decision<'a>(
        &'a self,
        scope: &'a TenantScope,
        incident: IncidentId,
    ) -> BoxFuture<'a, Option<IncidentDecision>>;

    /// The approval an order carries out, if it does.
    fn order_decision<'a>(
        &'a self,
        scope: &'a TenantScope,
        order: OrderId,
    ) -> BoxFuture<'a, Option<IncidentDecision>>;

    /// The appliance's rejections never handed out, marked delivered in
    /// the same statement (each is delivered once, like an order).
    fn take_undelivered_rejections<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<IncidentDecision>>;
}
