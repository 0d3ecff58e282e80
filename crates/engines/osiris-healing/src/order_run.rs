//! Running a signed order: [`verify_order`], then the gates that still
//! apply to an order (mode, maintenance window, action rate limits; an
//! order is itself the approval a `disruptive: approval` runbook needs, and
//! cooldowns and retries belong to L1 rules), then the execute path on
//! each target. Every order ends in exactly one result and one `order`
//! bundle, refusals included.

use chrono::{DateTime, Utc};
use osiris_catalog::Runbook;
use osiris_core::{HipaaCitation, OrderId};
use osiris_evidence::{Artifact, Kind, PublicKey};
use osiris_proto::orders::SignedOrder;
use serde_json::{Map, Value, json};

use crate::Result;
use crate::evidence::{self, Trail, object};
use crate::execute::{self, Ending, Execution, Plan};
use crate::gates::{self, Disposition, Gate, Refusal};
use crate::healer::Healer;
use crate::orders::{InventoryTarget, OrderContext, VerifiedOrder, verify_order};
use crate::ports::Connector;

/// The result of an order, as reported to Central Command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOutcome {
    /// It ran and verified on every target.
    Executed,
    /// It failed somewhere (a target unreachable, a run left in doubt, or
    /// refused on some targets only).
    Failed,
    /// Verify failed and rollback restored the prior state.
    RolledBack,
    /// It was refused (verification or a gate), with the reason.
    Refused,
}

impl OrderOutcome {
    /// The word of `OrderResult.outcome` and of the bundle's outcome.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Executed => "executed",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
            Self::Refused => "refused",
        }
    }
}

/// What an order came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct OrderReport {
    /// The order.
    pub order_id: OrderId,
    /// Its one result.
    pub outcome: OrderOutcome,
    /// The gate that refused, when one did (the first, over targets).
    pub gate: Option<Gate>,
    /// What happened, for people: the refusal, or each target's ending
    /// (at most [`RESULT_DETAIL_LIMIT`] characters).
    pub detail: String,
    /// Whether a target was left in doubt (a failed rollback, a remediate
    /// without `before`): a human must look.
    pub escalate: bool,
    /// The seq of the `order` bundle.
    pub seq: u64,
}

/// The longest `OrderResult.detail` Central Command accepts.
pub const RESULT_DETAIL_LIMIT: usize = 4096;

/// How one target's part of an order ended.
enum TargetEnd {
    Refused(Refusal),
    Unreachable(String),
    Ran(Execution),
}

impl Healer {
    /// Verifies `signed` and runs it on its target, or on every inventory
    /// target whose platform its runbook suits, recording one `order`
    /// bundle (its `host` is the target, the targets' names, or `*` when
    /// refused before they were known).
    ///
    /// # Errors
    /// [`crate::Error::Record`] when the recorder refuses the bundle.
    #[tracing::instrument(skip_all, fields(order_id = %signed.body.order_id, runbook_id = %signed.body.runbook_id))]
    pub async fn run_order(
        &self,
        signed: &SignedOrder,
        server_key: &PublicKey,
        inventory: &[InventoryTarget],
        connector: &dyn Connector,
    ) -> Result<OrderReport> {
        let now = self.clock.now();
        let context = OrderContext {
            server_key,
            appliance_id: self.appliance_id,
            catalog: &self.catalog,
            inventory,
            now,
            nonces: &*self.nonces,
        };
        let body = &signed.body;
        let mut detail = object(json!({
            "order_id": body.order_id.to_string(),
            "runbook_id": body.runbook_id.as_str(),
            "nonce": body.nonce,
            "issued_at": body.issued_at,
            "expires_at": body.expires_at,
            "target": body.target,
            "tier": "order",
        }));
        // A person's approval of an escalated incident travels signed in
        // the order; its evidence says who decided, when, and on what.
        if let Some(approval) = &body.approval {
            detail.insert("approval".to_owned(), json!(approval));
        }
        let mut trail = Trail::default();
        let order = match verify_order(signed, &context).await {
            Ok(order) => order,
            Err(refusal) => {
                let gate = refusal.gate();
                let reason = refusal.to_string();
                trail.refuse(&Refusal {
                    gate,
                    reason: reason.clone(),
                    disposition: Disposition::Refused,
                });
                detail.insert("refusal".to_owned(), json!(refusal.code()));
                let host = body.target.as_deref().unwrap_or("*");
                return self
                    .order_refused(body.order_id, host, now, gate, reason, trail, detail)
                    .await;
            }
        };
        for gate in [
            Gate::Signature,
            Gate::Order,
            Gate::Whitelist,
            Gate::Target,
            Gate::Params,
        ] {
            trail.allow(gate);
        }
        detail.insert("params".to_owned(), Value::Object(order.params().clone()));
        let host = hosts(order.targets());
        let Some(runbook) = self.catalog.runbook(order.runbook_id()) else {
            // verify_order found it in this same catalog.
            let reason = format!("runbook {} is not in the catalog", order.runbook_id());
            return self
                .order_refused(
                    order.order_id(),
                    &host,
                    now,
                    Gate::Whitelist,
                    reason,
                    trail,
                    detail,
                )
                .await;
        };
        let policy = self.policy();
        let gated = match gates::mode(policy.mode) {
            Ok(()) => {
                trail.allow(Gate::Mode);
                gates::maintenance_window(runbook, &policy.window, now)
            }
            Err(refusal) => Err(refusal),
        };
        if let Err(refusal) = gated {
            trail.refuse(&refusal);
            detail.insert("mode".to_owned(), json!(policy.mode));
            match refusal.disposition {
                Disposition::DryRun => {
                    let plans: Vec<Value> = order
                        .targets()
                        .iter()
                        .map(|target| self.plan(runbook, &order, target).describe())
                        .collect();
                    detail.insert("plans".to_owned(), Value::Array(plans));
                }
                Disposition::Deferred { until } => {
                    detail.insert("next_window".to_owned(), json!(until.to_rfc3339()));
                }
                _ => {}
            }
            return self
                .order_refused(
                    order.order_id(),
                    &host,
                    now,
                    refusal.gate,
                    refusal.reason,
                    trail,
                    detail,
                )
                .await;
        }
        trail.allow(Gate::MaintenanceWindow);

        let quotas = (policy.host_actions, policy.site_actions);
        let mut ends = Vec::with_capacity(order.targets().len());
        for target in order.targets() {
            let end = match gates::rate(&*self.limiter, self.site_id, &target.name, quotas, now)
                .await
            {
                Err(refusal) => TargetEnd::Refused(refusal),
                Ok(()) => match connector.open(&target.name).await {
                    Err(error) => TargetEnd::Unreachable(error.to_string()),
                    Ok(mut session) => {
                        let plan = self.plan(runbook, &order, target);
                        let run =
                            execute::execute(&plan, &mut *session, connector, &*self.clock).await;
                        if let Err(error) = session.close().await {
                            tracing::debug!(%error, target = %target.name, "closing the order's session failed");
                        }
                        TargetEnd::Ran(run)
                    }
                },
            };
            ends.push((target, end));
        }
        self.order_ran(&order, runbook, &host, trail, detail, ends)
            .await
    }

    fn plan<'c>(
        &'c self,
        runbook: &'c Runbook,
        order: &VerifiedOrder,
        target: &InventoryTarget,
    ) -> Plan<'c> {
        Plan::new(
            &self.catalog,
            runbook,
            target.platform,
            &target.name,
            order.params().clone(),
        )
    }

    /// Records a refused order.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per refusal path, all fields named"
    )]
    async fn order_refused(
        &self,
        order_id: OrderId,
        host: &str,
        at: DateTime<Utc>,
        gate: Gate,
        reason: String,
        trail: Trail,
        mut detail: Map<String, Value>,
    ) -> Result<OrderReport> {
        detail.insert("gate".to_owned(), json!(gate.as_str()));
        detail.insert("reason".to_owned(), json!(reason));
        detail.insert("gates".to_owned(), trail.to_value());
        let draft = evidence::draft(
            Kind::Order,
            host,
            at,
            Vec::new(),
            OrderOutcome::Refused.as_str(),
            detail,
            Vec::new(),
        );
        let seq = self.record(draft).await?;
        Ok(OrderReport {
            order_id,
            outcome: OrderOutcome::Refused,
            gate: Some(gate),
            detail: bounded(format!("refused by {}: {reason}", gate.as_str())),
            escalate: false,
            seq,
        })
    }

    /// Records an order that reached its targets.
    async fn order_ran(
        &self,
        order: &VerifiedOrder,
        runbook: &Runbook,
        host: &str,
        trail: Trail,
        mut detail: Map<String, Value>,
        ends: Vec<(&InventoryTarget, TargetEnd)>,
    ) -> Result<OrderReport> {
        let several = ends.len() > 1;
        let mut artifacts: Vec<Artifact> = Vec::new();
        let mut summary = Vec::new();
        let mut targets = Vec::new();
        let (mut failed, mut rolled_back, mut refused, mut escalate) = (false, false, 0, false);
        let mut first_gate = None;
        for (target, end) in &ends {
            let mut entry = object(json!({
                "host": target.name,
                "platform": target.platform.as_str(),
            }));
            let word = match end {
                TargetEnd::Refused(refusal) => {
                    refused += 1;
                    first_gate = first_gate.or(Some(refusal.gate));
                    entry.insert("gate".to_owned(), json!(refusal.gate.as_str()));
                    entry.insert("reason".to_owned(), json!(refusal.reason));
                    summary.push(format!(
                        "{}: refused by {} ({})",
                        target.name,
                        refusal.gate.as_str(),
                        refusal.reason
                    ));
                    "refused"
                }
                TargetEnd::Unreachable(reason) => {
                    failed = true;
                    entry.insert("reason".to_owned(), json!(reason));
                    summary.push(format!("{}: no session ({reason})", target.name));
                    "unreachable"
                }
                TargetEnd::Ran(run) => {
                    let ending = run.ending();
                    failed |= ending.needs_human();
                    escalate |= ending.needs_human();
                    rolled_back |= *ending == Ending::RolledBack;
                    entry.extend(object(run.detail()));
                    let prefix = several.then_some(target.name.as_str());
                    artifacts.extend(run.steps().iter().flat_map(|s| s.artifacts_named(prefix)));
                    summary.push(match ending {
                        Ending::Failed { reason } => format!("{}: failed ({reason})", target.name),
                        other => format!("{}: {}", target.name, other.as_str()),
                    });
                    ending.as_str()
                }
            };
            entry.insert("outcome".to_owned(), json!(word));
            targets.push(Value::Object(entry));
        }
        let outcome = if refused == ends.len() {
            OrderOutcome::Refused
        } else if failed || refused > 0 {
            OrderOutcome::Failed
        } else if rolled_back {
            OrderOutcome::RolledBack
        } else {
            OrderOutcome::Executed
        };
        detail.insert("gates".to_owned(), trail.to_value());
        detail.insert("targets".to_owned(), Value::Array(targets));
        detail.insert("escalate".to_owned(), json!(escalate));
        if outcome == OrderOutcome::Refused
            && let Some(gate) = first_gate
        {
            detail.insert("gate".to_owned(), json!(gate.as_str()));
        }
        let draft = evidence::draft(
            Kind::Order,
            host,
            self.clock.now(),
            self.cites(runbook, order),
            outcome.as_str(),
            detail,
            artifacts,
        );
        let seq = self.record(draft).await?;
        Ok(OrderReport {
            order_id: order.order_id(),
            outcome,
            gate: first_gate,
            detail: bounded(summary.join("; ")),
            escalate,
            seq,
        })
    }

    /// The citations of the checks the runbook remediates on the order's platforms.
    fn cites(&self, runbook: &Runbook, order: &VerifiedOrder) -> Vec<HipaaCitation> {
        let mut cites: Vec<HipaaCitation> = self
            .catalog
            .checks()
            .values()
            .filter(|check| {
                check.runbook == runbook.id
                    && order.targets().iter().any(|t| t.platform == check.platform)
            })
            .flat_map(evidence::cites)
            .collect();
        cites.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        cites.dedup();
        cites
    }
}

/// The bundle's `host`: the one target, or every target's name.
fn hosts(targets: &[InventoryTarget]) -> String {
    targets
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn bounded(text: String) -> String {
    if text.chars().count() <= RESULT_DETAIL_LIMIT {
        return text;
    }
    let mut cut: String = text.chars().take(RESULT_DETAIL_LIMIT - 1).collect();
    cut.push('…');
    cut
}
