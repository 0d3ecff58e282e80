//! One sweep: every applicable check on every target, hosts in parallel up
//! to a bound, one session per host, and each failure taken through the
//! incident log and the healing engine.

use std::sync::Arc;

use osiris_catalog::Outcome;
use osiris_catalog::{Catalog, Check};
use osiris_core::{Clock, IncidentId};
use osiris_healing::{CheckReport, Gate, HealOutcome, HealReport, Healer};
use osiris_proto::checkin::IncidentReport;
use osiris_queue::{ItemKind, Queue};
use osiris_scrub::Scrubber;
use osiris_transport::{BoxFuture, Output, Script, Transport};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::AgentError;
use crate::config::TargetConfig;
use crate::escalation::{Escalated, Escalations};
use crate::l2::{L2, L2Outcome};
use crate::ports::TargetConnector;
use crate::state::{Observation, Seen, State};

/// What one sweep found and did, per target and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Checks run.
    pub checks: u32,
    /// Checks that passed.
    pub pass: u32,
    /// Checks that failed.
    pub fail: u32,
    /// Checks whose facts could not be collected.
    pub unknown: u32,
    /// Incidents opened.
    pub opened: u32,
    /// Incidents resolved (by a pass or a verified fix).
    pub resolved: u32,
    /// Fixes verified.
    pub healed: u32,
    /// Fixes that failed verification and were rolled back.
    pub rolled_back: u32,
    /// Held back by a gate (window, cooldown, rate) until later.
    pub deferred: u32,
    /// Recorded only (observe or dry-run mode).
    pub recorded_only: u32,
    /// Put to the L2 planner (no L1 rule handled them).
    pub planned: u32,
    /// Handed to a person.
    pub escalated: u32,
    /// Targets that could not be reached.
    pub unreachable: u32,
}

impl SweepSummary {
    fn add(&mut self, other: &Self) {
        self.checks += other.checks;
        self.pass += other.pass;
        self.fail += other.fail;
        self.unknown += other.unknown;
        self.opened += other.opened;
        self.resolved += other.resolved;
        self.healed += other.healed;
        self.rolled_back += other.rolled_back;
        self.deferred += other.deferred;
        self.recorded_only += other.recorded_only;
        self.planned += other.planned;
        self.escalated += other.escalated;
        self.unreachable += other.unreachable;
    }
}

/// What a sweep needs, shared by the per-host tasks.
#[derive(Debug, Clone)]
pub struct Sweeper {
    /// The healing engine.
    pub healer: Arc<Healer>,
    /// The catalog (the same the healer holds).
    pub catalog: Arc<Catalog>,
    /// The local incident log.
    pub state: State,
    /// Where incident reports go.
    pub queue: Queue,
    /// Scrubs incident reports before they are queued.
    pub scrubber: Arc<Scrubber>,
    /// Sessions to the targets.
    pub connector: Arc<TargetConnector>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Hosts swept at once.
    pub concurrency: usize,
    /// The L2 planner, when configured.
    pub l2: Option<Arc<L2>>,
    /// L3 tickets, when `[notify]` is configured.
    pub escalations: Option<Arc<Escalations>>,
}

impl Sweeper {
    /// Sweeps every configured target once.
    ///
    /// # Errors
    /// When the queue or the state database fails: evidence that cannot be
    /// kept must stop the sweep, not be skipped.
    pub async fn sweep(&self) -> Result<SweepSummary, AgentError> {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for target in self.connector.targets() {
            let target = target.clone();
            let sweeper = self.clone();
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                sweeper.sweep_target(&target).await
            });
        }
        let mut total = SweepSummary::default();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(summary)) => total.add(&summary),
                Ok(Err(error)) => {
                    tracing::error!(%error, "sweep of a target stopped");
                    first_error.get_or_insert(error);
                }
                Err(error) => {
                    tracing::error!(%error, "a sweep task ended abnormally");
                    first_error.get_or_insert(AgentError::Task(error.to_string()));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(total),
        }
    }

    /// Every check of the target's platform over one session.
    async fn sweep_target(&self, target: &TargetConfig) -> Result<SweepSummary, AgentError> {
        let mut summary = SweepSummary::default();
        let checks: Vec<&Check> = self
            .catalog
            .checks()
            .values()
            .filter(|check| target.runs(check))
            .collect();
        let mut session: Box<dyn Transport> = match self.connector.connect(target).await {
            Ok(session) => session,
            Err(error) => {
                // Each check is still run (and recorded) as unknown with the
                // reason, so the evidence shows the host was not reachable
                // rather than showing nothing.
                tracing::warn!(target = %target.name, %error, "target unreachable");
                summary.unreachable += 1;
                Box::new(Unreachable {
                    target: target.name.clone(),
                    reason: error.to_string(),
                })
            }
        };
        for check in checks {
            let report = self.healer.check(&mut *session, check).await?;
            summary.checks += 1;
            self.after_check(target, check, &report, &mut *session, &mut summary)
                .await?;
        }
        if let Err(error) = session.close().await {
            tracing::debug!(target = %target.name, %error, "closing the session");
        }
        Ok(summary)
    }

    async fn after_check(
        &self,
        target: &TargetConfig,
        check: &Check,
        report: &CheckReport,
        session: &mut dyn Transport,
        summary: &mut SweepSummary,
    ) -> Result<(), AgentError> {
        let seen = match report.run.outcome() {
            Outcome::Pass => {
                summary.pass += 1;
                Seen::Pass
            }
            Outcome::Fail => {
                summary.fail += 1;
                Seen::Fail
            }
            Outcome::Unknown => {
                summary.unknown += 1;
                Seen::Unknown
            }
        };
        let severity = severity_name(check);
        let now = self.clock.now();
        let observation = self
            .state
            .observe(&target.name, &check.id, severity, seen, now)
            .await?;
        let (incident, new) = match observation {
            Observation::Nothing => return Ok(()),
            Observation::Resolved(id) => {
                summary.resolved += 1;
                self.follow_up_resolved(id).await?;
                return Ok(());
            }
            // Already escalated as flapping: a person has it; fighting the
            // setting again would only flip it back and forth.
            Observation::StillOpen { flapping: true, .. } => return Ok(()),
            Observation::StillOpen { id, .. } => (id, false),
            Observation::Opened(id) => {
                summary.opened += 1;
                (id, true)
            }
        };
        let Some(failed) = report.run.failed() else {
            return Ok(());
        };
        let policy_span = chrono::Duration::days(2);
        let history = self
            .state
            .episodes(&target.name, &check.id, now - policy_span)
            .await?;
        let healed = self
            .healer
            .heal(session, &*self.connector, failed, &history)
            .await?;
        if let Some(rule) = &healed.rule_id
            && let Some(entry) = self.healer.ledger_entry(rule, &target.name)
        {
            self.state
                .save_ledger_entry(rule, &target.name, entry)
                .await?;
        }
        // What no L1 rule handles goes to the L2 planner, when there is one.
        let (healed, handled_by) = match (&self.l2, &healed.outcome) {
            (
                Some(l2),
                HealOutcome::Escalate {
                    gate: Some(Gate::Rule),
                    ..
                },
            ) if healed.rule_id.is_none() => {
                summary.planned += 1;
                let outcome = l2
                    .handle(
                        &self.healer,
                        session,
                        &*self.connector,
                        target,
                        failed,
                        &history,
                    )
                    .await?;
                let healed = match outcome {
                    L2Outcome::Ran(report) => report,
                    L2Outcome::Recorded => HealReport {
                        outcome: HealOutcome::DryRun,
                        ..healed
                    },
                    L2Outcome::Escalate(reason) => HealReport {
                        outcome: HealOutcome::Escalate { gate: None, reason },
                        ..healed
                    },
                };
                (healed, "l2")
            }
            _ => (healed, "l1"),
        };
        let tier = match &healed.outcome {
            HealOutcome::Verified => {
                summary.healed += 1;
                self.state.resolve(incident, self.clock.now()).await?;
                summary.resolved += 1;
                self.follow_up_resolved(incident).await?;
                handled_by
            }
            HealOutcome::RolledBack => {
                summary.rolled_back += 1;
                handled_by
            }
            HealOutcome::Deferred { .. } => {
                summary.deferred += 1;
                handled_by
            }
            HealOutcome::Observed | HealOutcome::DryRun => {
                summary.recorded_only += 1;
                handled_by
            }
            HealOutcome::Refused { reason, .. } | HealOutcome::Escalate { reason, .. } => {
                summary.escalated += 1;
                if matches!(
                    healed.outcome,
                    HealOutcome::Escalate {
                        gate: Some(Gate::Flapping),
                        ..
                    }
                ) {
                    self.state.mark_flapping(incident).await?;
                }
                if new || !self.already_escalated(incident).await? {
                    self.state
                        .escalate(incident, &target.name, &check.id, reason, self.clock.now())
                        .await?;
                    if let Some(escalations) = &self.escalations {
                        let mut tried = Vec::new();
                        if let Some(rule) = &healed.rule_id {
                            tried.push(match &healed.runbook_id {
                                Some(runbook) => format!("L1 rule {rule} chose {runbook}"),
                                None => format!("L1 rule {rule}"),
                            });
                        }
                        if handled_by == "l2" {
                            tried.push("L2 planner consulted".to_owned());
                        }
                        tried.push(format!("escalated: {reason}"));
                        let output = String::from_utf8_lossy(report.run.step().stdout());
                        escalations
                            .open(Escalated {
                                incident,
                                host: &target.name,
                                check,
                                drift: &output,
                                tried,
                            })
                            .await?;
                    }
                }
                "l3"
            }
        };
        if tier != "l3" {
            self.state
                .set_tier(incident, &tier.to_ascii_uppercase())
                .await?;
        }
        if new || tier == "l3" {
            let report = incident_report(&check.id, &target.name, severity, tier);
            queue_report(&self.state, &self.queue, &self.scrubber, incident, &report).await?;
        }
        Ok(())
    }

    /// A resolved incident's ticket is closed on every channel.
    async fn follow_up_resolved(&self, incident: IncidentId) -> Result<(), AgentError> {
        if let Some(escalations) = &self.escalations {
            escalations
                .follow_up(incident, osiris_notify::Event::Resolve)
                .await?;
        }
        Ok(())
    }

    async fn already_escalated(&self, incident: IncidentId) -> Result<bool, AgentError> {
        Ok(self
            .state
            .escalations()
            .await?
            .iter()
            .any(|e| e.incident_id == incident))
    }
}

/// The report of an incident of `check_id` on `host` for Central Command,
/// which folds reports of the same check and host into one incident.
fn incident_report(check_id: &str, host: &str, severity: &str, tier: &str) -> IncidentReport {
    IncidentReport {
        check_id: check_id.to_owned(),
        host_id: None,
        hostname: Some(host.to_owned()),
        dedup_key: Some(format!("{check_id}:{host}")),
        severity: severity.to_owned(),
        tier: tier.to_owned(),
    }
}

/// Queues an incident's report, then records that it is queued. A crash
/// between the two only sends the report twice, which Central Command
/// folds into the same incident.
async fn queue_report(
    state: &State,
    queue: &Queue,
    scrubber: &Scrubber,
    incident: IncidentId,
    report: &IncidentReport,
) -> Result<(), AgentError> {
    let body = serde_json::to_value(report).map_err(|e| AgentError::Encode(e.to_string()))?;
    let item = queue
        .push(ItemKind::Incident, scrubber.scrub_json(&body))
        .await?;
    // The acknowledgement of this report names Central Command's id of the
    // incident, which ticket links and decisions use.
    state
        .remember_report_item(i64::try_from(item.get()).unwrap_or(i64::MAX), incident)
        .await?;
    state.mark_reported(incident).await?;
    Ok(())
}

/// Queues the reports of incidents the appliance opened but stopped before
/// reporting (killed or powered off between the incident log and the
/// queue, which are two files): run at start, before anything else
/// writes. Returns how many.
///
/// # Errors
/// When the state database or the queue fails.
pub async fn report_unreported(
    state: &State,
    queue: &Queue,
    scrubber: &Scrubber,
) -> Result<usize, AgentError> {
    let unreported = state.unreported().await?;
    for incident in &unreported {
        // The tier that last handled it; none yet means L1 was about to.
        let tier = incident
            .tier
            .as_deref()
            .map_or_else(|| "l1".to_owned(), str::to_ascii_lowercase);
        let report = incident_report(
            &incident.check_id,
            &incident.host,
            &incident.severity,
            &tier,
        );
        queue_report(state, queue, scrubber, incident.id, &report).await?;
        tracing::info!(incident = %incident.id, check_id = %incident.check_id, host = %incident.host, "incident report queued after a restart");
    }
    Ok(unreported.len())
}

/// The incident severity name of a check.
#[must_use]
pub fn severity_name(check: &Check) -> &'static str {
    match check.severity {
        osiris_catalog::Severity::Low => "low",
        osiris_catalog::Severity::Medium => "medium",
        osiris_catalog::Severity::High => "high",
        osiris_catalog::Severity::Critical => "critical",
    }
}

/// A session to a host that could not be reached: every script fails with
/// the reason, so each check is recorded as unknown with it.
struct Unreachable {
    target: String,
    reason: String,
}

impl Transport for Unreachable {
    fn target(&self) -> &str {
        &self.target
    }

    fn run<'a>(
        &'a mut self,
        _script: &'a Script,
    ) -> BoxFuture<'a, Result<Output, osiris_transport::Error>> {
        Box::pin(async move {
            Err(osiris_transport::Error::Unreachable {
                target: self.target.clone(),
                reason: self.reason.clone(),
            })
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), osiris_transport::Error>> {
        Box::pin(async { Ok(()) })
    }
}
