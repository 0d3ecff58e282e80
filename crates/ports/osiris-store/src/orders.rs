//! Orders: signed instructions to an appliance to run a runbook. Every
//! order ends in exactly one terminal state, so none is left dangling.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, OrderId, RunbookId, SiteId, UserId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// Where an order is in its life. Only `Pending` can change, and only
    /// into one of the others.
    OrderState {
        /// Issued (or waiting to be), no result yet.
        Pending = "pending",
        /// Ran and verified.
        Executed = "executed",
        /// Ran and failed.
        Failed = "failed",
        /// Ran, failed verification, and was rolled back.
        RolledBack = "rolled_back",
        /// The appliance refused it (guardrail, bad signature, expired).
        Refused = "refused",
        /// No result arrived before it expired.
        Expired = "expired",
    }
);

text_enum!(
    /// A result an appliance can report. `Expired` is not one: only the
    /// server's expiry sweep sets it.
    OrderOutcome {
        /// Ran and verified.
        Executed = "executed",
        /// Ran and failed.
        Failed = "failed",
        /// Rolled back after failing verification.
        RolledBack = "rolled_back",
        /// Refused by the appliance.
        Refused = "refused",
    }
);

impl OrderOutcome {
    /// The state the order ends in.
    #[must_use]
    pub const fn state(self) -> OrderState {
        match self {
            Self::Executed => OrderState::Executed,
            Self::Failed => OrderState::Failed,
            Self::RolledBack => OrderState::RolledBack,
            Self::Refused => OrderState::Refused,
        }
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// The appliance that must run it.
    pub appliance_id: ApplianceId,
    /// That appliance's site.
    pub site_id: SiteId,
    /// The runbook to run.
    pub runbook_id: RunbookId,
    /// Runbook parameters.
    pub params: serde_json::Value,
    /// The inventory host (its name at the site) it is for; `None` means
    /// every host of the site whose platform the runbook suits.
    pub target: Option<String>,
    /// One-time value inside the signed order, against replay.
    pub nonce: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops being valid (at most 15 minutes after issue).
    pub expires_at: DateTime<Utc>,
    /// Where it is in its life.
    pub state: OrderState,
    /// When it was handed to the appliance in a check-in response.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it reached its terminal state.
    pub completed_at: Option<DateTime<Utc>>,
    /// What the appliance reported with its result.
    pub result_detail: Option<String>,
    /// Who created it, if a person did.
    pub created_by: Option<UserId>,
}

/// An order to create.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Its id, chosen by the caller (it is inside the signature).
    pub id: OrderId,
    /// The appliance; must be visible to the caller.
    pub appliance_id: ApplianceId,
    /// The runbook to run.
    pub runbook_id: RunbookId,
    /// Runbook parameters.
    pub params: serde_json::Value,
    /// The host name it is for, checked by the caller against the site's
    /// hosts; `None` for every suitable host.
    pub target: Option<String>,
    /// One-time value; reuse is a `Conflict`.
    pub nonce: String,
    /// When it is issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// Who creates it, if a person does.
    pub created_by: Option<UserId>,
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this state.
    pub state: Option<OrderState>,
    /// Only this site.
    pub site: Option<SiteId>,
}

/// Orders. Visibility follows the order's site.
pub trait OrderStore {
    /// Creates a pending, undelivered order.
    fn create_order<'a>(
        &'a self,
        scope: &'a TenantScope,
        order: &'a NewOrder,
    ) -> BoxFuture<'a, Order>;

    /// The appliance's pending, unexpired orders that were never delivered,
    /// marked delivered in the same statement, so two server replicas
    /// answering the same appliance never hand out one order twice.
    fn take_undelivered_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Order>>;

    /// Records the appliance's result. Only a pending order accepts one;
    /// anything else is an [`crate::Error::IllegalTransition`].
    fn record_order_result<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: OrderId,
        outcome: OrderOutcome,
        detail: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Order>;

    /// Marks every visible pending order whose expiry is at or before `now`
    /// as expired; returns how many.
    fn expire_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, u64>;

    /// One order.
    fn get_order<'a>(&'a self, scope: &'a TenantScope, id: OrderId) -> BoxFuture<'a, Order>;

    /// Visible orders matching the filter, newest issue first.
    fn list_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: OrderFilter,
    ) -> BoxFuture<'a, Vec<Order>>;
}
