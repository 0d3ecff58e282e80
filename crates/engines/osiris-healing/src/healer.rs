//! [`Healer`]: the appliance's domain logic in one place. `check` runs a
//! check and records it; `heal` takes a failed check through the L1 rules,
//! the guardrail gates and the runbook, recording every decision;
//! `run_order` (in `order_run.rs`) does the same for a signed order.
//!
//! The healer owns the rules ledger (cooldowns and retries per rule and
//! host) and the current rule set and policy, each behind a lock that is
//! never held across an `await`.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Check};
use osiris_core::{ApplianceId, Clock, RunbookId, SiteId};
use osiris_evidence::{BundleDraft, Kind};
use osiris_limits::RateLimiter;
use osiris_rules::{Entry, Ledger, Matcher};
use osiris_scrub::Scrubber;
use osiris_transport::Transport;
use serde_json::{Map, Value, json};

use crate::detect::{self, CheckRun, Failed};
use crate::evidence::{self, Trail, object, refusal_kind};
use crate::execute::{self, Ending, Plan};
use crate::flap::{Episode, flapping};
use crate::gates::{self, Disposition, Gate, Refusal};
use crate::l1::{self, Choice};
use crate::policy::Policy;
use crate::ports::{Connector, NonceLog, Recorder};
use crate::{Error, Result};

/// Everything a [`Healer`] needs, from the app.
#[derive(Debug)]
pub struct HealerParts {
    /// The site this appliance serves.
    pub site_id: SiteId,
    /// This appliance (orders must name it).
    pub appliance_id: ApplianceId,
    /// The catalog: the whitelist of runbooks and the checks.
    pub catalog: Arc<Catalog>,
    /// The L1 rules (built-in, synced and promoted).
    pub rules: Arc<Matcher>,
    /// The site's guardrail settings.
    pub policy: Policy,
    /// The site's PHI scrubber; every draft passes through it.
    pub scrubber: Arc<Scrubber>,
    /// Action rate limits.
    pub limiter: Arc<dyn RateLimiter>,
    /// Where evidence goes (the durable queue).
    pub recorder: Arc<dyn Recorder>,
    /// Order nonces accepted (the state database).
    pub nonces: Arc<dyn NonceLog>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// The check and healing engine of one appliance.
#[derive(Debug)]
pub struct Healer {
    pub(crate) site_id: SiteId,
    pub(crate) appliance_id: ApplianceId,
    pub(crate) catalog: Arc<Catalog>,
    rules: RwLock<Arc<Matcher>>,
    policy: RwLock<Arc<Policy>>,
    ledger: Mutex<Ledger>,
    scrubber: Arc<Scrubber>,
    pub(crate) limiter: Arc<dyn RateLimiter>,
    recorder: Arc<dyn Recorder>,
    pub(crate) nonces: Arc<dyn NonceLog>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// A recorded check run.
#[derive(Debug, Clone)]
#[must_use]
pub struct CheckReport {
    /// The run: outcome, findings, output digest.
    pub run: CheckRun,
    /// The seq of its `check` bundle.
    pub seq: u64,
}

/// What healing one failed check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct HealReport {
    /// The rule that decided, if one did.
    pub rule_id: Option<String>,
    /// The runbook chosen, if one was.
    pub runbook_id: Option<RunbookId>,
    /// What happened.
    pub outcome: HealOutcome,
    /// The seq of the bundle recording it.
    pub seq: u64,
}

/// What happened to a failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealOutcome {
    /// The runbook ran and verify passed.
    Verified,
    /// Verify failed and rollback restored the prior state; the rule's
    /// retry count went up.
    RolledBack,
    /// Observe mode: recorded only.
    Observed,
    /// Dry-run mode: the plan was recorded.
    DryRun,
    /// A gate holds it back until `until` (maintenance window, cooldown,
    /// rate limit); the next sweep tries again.
    Deferred {
        /// The gate.
        gate: Gate,
        /// When it opens.
        until: DateTime<Utc>,
        /// Why.
        reason: String,
    },
    /// A gate refused it (whitelist, parameters, rate limiter failure).
    Refused {
        /// The gate.
        gate: Gate,
        /// Why.
        reason: String,
    },
    /// A human must take it (L2 and L3 come later; the app queues it): no
    /// rule, an escalating rule, approval needed, retries exhausted,
    /// flapping, or a run that left the host in doubt.
    Escalate {
        /// The gate that escalated, when one did (`None`: the run itself).
        gate: Option<Gate>,
        /// Why.
        reason: String,
    },
}

/// The decision so far, for evidence.
struct Decision<'a> {
    check: &'a Check,
    host: &'a str,
    now: DateTime<Utc>,
    /// `L1` (a rule decided) or `L2` (the planner did).
    tier: &'static str,
    rule_id: Option<String>,
    runbook_id: Option<RunbookId>,
    trail: Trail,
    /// What else decided, such as the planner's decision record.
    extra: Map<String, Value>,
    /// The check's failed criteria (the key facts the learning loop
    /// groups remediations by).
    failed: Vec<String>,
}

impl Decision<'_> {
    fn detail(&self) -> Map<String, Value> {
        let mut detail = object(json!({
            "check_id": self.check.id,
            "check_type": self.check.check_type,
            "platform": self.check.platform.as_str(),
            "rule_id": self.rule_id,
            "runbook_id": self.runbook_id.as_ref().map(RunbookId::as_str),
            "tier": self.tier,
            "gates": self.trail.to_value(),
            "failed": self.failed,
        }));
        detail.extend(self.extra.clone());
        detail
    }
}

impl Healer {
    /// A healer over the app's parts.
    #[must_use]
    pub fn new(parts: HealerParts) -> Self {
        Self {
            site_id: parts.site_id,
            appliance_id: parts.appliance_id,
            catalog: parts.catalog,
            rules: RwLock::new(parts.rules),
            policy: RwLock::new(Arc::new(parts.policy)),
            ledger: Mutex::new(Ledger::new()),
            scrubber: parts.scrubber,
            limiter: parts.limiter,
            recorder: parts.recorder,
            nonces: parts.nonces,
            clock: parts.clock,
        }
    }

    /// Replaces the rule set (a sync from Central Command or a promotion).
    pub fn replace_rules(&self, rules: Arc<Matcher>) {
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = rules;
    }

    /// Replaces the policy (the site's settings changed).
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }

    /// Replaces the rules ledger with one the app kept (after a restart),
    /// so cooldowns and retry counts survive it.
    pub fn restore_ledger(&self, ledger: Ledger) {
        *self.ledger.lock().unwrap_or_else(PoisonError::into_inner) = ledger;
    }

    /// The ledger entry of `rule` on `host` as it stands, for the app to
    /// keep after a heal (the report names the rule; the run names the host).
    #[must_use]
    pub fn ledger_entry(&self, rule: &str, host: &str) -> Option<Entry> {
        self.ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(rule, host)
            .copied()
    }

    /// The catalog.
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub(crate) fn policy(&self) -> Arc<Policy> {
        Arc::clone(&self.policy.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn rules(&self) -> Arc<Matcher> {
        Arc::clone(&self.rules.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `check` on `session` and records its `check` bundle.
    ///
    /// # Errors
    /// [`Error::Record`] when the recorder refuses the bundle.
    #[tracing::instrument(skip_all, fields(check_id = %check.id, target = session.target()))]
    pub async fn check(&self, session: &mut dyn Transport, check: &Check) -> Result<CheckReport> {
        let run = detect::detect(session, check, &*self.clock).await;
        let seq = self.record(evidence::check_run(check, &run)).await?;
        Ok(CheckReport { run, seq })
    }

    /// Heals a failed check on the session it failed on: flap detection,
    /// the L1 decision, then the gates in order (whitelist, parameters,
    /// mode, approval, maintenance window, cooldown and retries, host and
    /// site rate), then remediate → verify → confirm or rollback. Exactly
    /// one bundle records what happened. `history` holds the incident's
    /// episodes (the current, open one included) for flap detection.
    ///
    /// # Errors
    /// [`Error::UnknownCheck`] when the run's check is not in the catalog;
    /// [`Error::Record`] when the recorder refuses the bundle.
    #[tracing::instrument(skip_all, fields(check_id = failed.run().check_id(), target = failed.run().host()))]
    pub async fn heal(
        &self,
        session: &mut dyn Transport,
        connector: &dyn Connector,
        failed: Failed<'_>,
        history: &[Episode],
    ) -> Result<HealReport> {
        let run = failed.run();
        let check = self
            .catalog
            .check(run.check_id())
            .ok_or_else(|| Error::UnknownCheck {
                check_id: run.check_id().to_owned(),
            })?;
        let now = self.clock.now();
        let policy = self.policy();
        let mut decision = Decision {
            check,
            host: run.host(),
            now,
            tier: "L1",
            rule_id: None,
            runbook_id: None,
            trail: Trail::default(),
            extra: Map::new(),
            failed: l1::failed_criteria(run),
        };

        let flap = flapping(history, policy.flapping, now);
        if flap.flapping {
            let refusal = Refusal {
                gate: Gate::Flapping,
                reason: format!(
                    "failed again {} times within {} h of being resolved: something keeps reverting the fix",
                    flap.reopenings,
                    policy.flapping.within.num_hours()
                ),
                disposition: Disposition::Escalated,
            };
            return self
                .refused(decision, refusal, json!({"reopenings": flap.reopenings}))
                .await;
        }
        decision.trail.allow(Gate::Flapping);

        let matcher = self.rules();
        let incident = l1::incident(check, run);
        let choice = {
            let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
            l1::choose(&matcher, &incident, &ledger, now)
        };
        let (rule, runbook_id, blocked) = match choice {
            Choice::NoRule => {
                let refusal = Refusal {
                    gate: Gate::Rule,
                    reason: "no L1 rule matches this incident".to_owned(),
                    disposition: Disposition::Escalated,
                };
                // A shadow rule that matches is recorded, never run.
                let extra = l1::shadow_decision(&matcher, &incident, &policy.runbook_params)
                    .map_or_else(|| json!({}), |shadow| json!({"shadow": shadow}));
                return self.refused(decision, refusal, extra).await;
            }
            Choice::Escalate { rule, reason } => {
                decision.rule_id = Some(rule.id().to_owned());
                decision.runbook_id = rule.runbook_id().and_then(|id| id.parse().ok());
                let refusal = Refusal {
                    gate: Gate::Rule,
                    reason,
                    disposition: Disposition::Escalated,
                };
                return self.refused(decision, refusal, json!({})).await;
            }
            Choice::Run {
                rule,
                runbook_id,
                blocked,
            } => (rule, runbook_id, blocked),
        };
        decision.rule_id = Some(rule.id().to_owned());
        decision.trail.allow(Gate::Rule);

        let runbook = match gates::whitelist(&self.catalog, runbook_id, check.platform) {
            Ok(runbook) => runbook,
            Err(refusal) => {
                return self
                    .refused(decision, refusal, json!({"requested_runbook": runbook_id}))
                    .await;
            }
        };
        decision.runbook_id = Some(runbook.id.clone());
        decision.trail.allow(Gate::Whitelist);

        let params = l1::rule_params(rule, policy.runbook_params.get(&runbook.id));
        let rule_id = rule.id().to_owned();
        self.gate_and_run(
            decision,
            runbook,
            params,
            Some((rule_id, blocked)),
            session,
            connector,
        )
        .await
    }

    /// Runs a runbook the L2 planner chose for a failed check, through the
    /// same gates as an L1 fix except the rule's cooldown and retries
    /// (there is no rule): whitelist, parameters, mode, approval, window,
    /// host and site rate, then remediate → verify → confirm or rollback.
    /// `decided` (the planner's decision record) goes into the bundle's
    /// `detail` under `l2`; the bundle says `tier: "L2"`.
    ///
    /// # Errors
    /// [`Error::UnknownCheck`] when the run's check is not in the catalog;
    /// [`Error::Record`] when the recorder refuses the bundle.
    #[tracing::instrument(skip_all, fields(check_id = failed.run().check_id(), target = failed.run().host(), runbook_id = %runbook_id))]
    pub async fn heal_planned(
        &self,
        session: &mut dyn Transport,
        connector: &dyn Connector,
        failed: Failed<'_>,
        runbook_id: &RunbookId,
        params: &Map<String, Value>,
        decided: Value,
    ) -> Result<HealReport> {
        let run = failed.run();
        let check = self
            .catalog
            .check(run.check_id())
            .ok_or_else(|| Error::UnknownCheck {
                check_id: run.check_id().to_owned(),
            })?;
        let policy = self.policy();
        let mut extra = Map::new();
        extra.insert("l2".to_owned(), decided);
        // What a learned rule in shadow mode would have done instead: the
        // server compares it with this run and its verification.
        if let Some(shadow) = l1::shadow_decision(
            &self.rules(),
            &l1::incident(check, run),
            &policy.runbook_params,
        ) {
            extra.insert("shadow".to_owned(), shadow);
        }
        let mut decision = Decision {
            check,
            host: run.host(),
            now: self.clock.now(),
            tier: "L2",
            rule_id: None,
            runbook_id: Some(runbook_id.clone()),
            trail: Trail::default(),
            extra,
            failed: l1::failed_criteria(run),
        };
        let runbook = match gates::whitelist(&self.catalog, runbook_id.as_str(), check.platform) {
            Ok(runbook) => runbook,
            Err(refusal) => return self.refused(decision, refusal, json!({})).await,
        };
        decision.trail.allow(Gate::Whitelist);
        let mut params = params.clone();
        // The site's own parameters win over the planner's, as over a rule's.
        if let Some(site) = policy.runbook_params.get(&runbook.id) {
            params.extend(site.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        self.gate_and_run(decision, runbook, params, None, session, connector)
            .await
    }

    /// The gates after the choice of runbook, then the run and its bundle.
    /// `ledgered` names the L1 rule (and why the matcher held it back, if
    /// it did) whose cooldown and retries apply and whose ledger entry the
    /// run updates; an L2 plan has none.
    async fn gate_and_run(
        &self,
        mut decision: Decision<'_>,
        runbook: &osiris_catalog::Runbook,
        params: Map<String, Value>,
        ledgered: Option<(String, Option<osiris_rules::Reason>)>,
        session: &mut dyn Transport,
        connector: &dyn Connector,
    ) -> Result<HealReport> {
        let check = decision.check;
        let now = decision.now;
        let policy = self.policy();

        if let Err(refusal) = gates::params(runbook, &params) {
            return self.refused(decision, refusal, json!({})).await;
        }
        decision.trail.allow(Gate::Params);
        let plan = Plan::new(
            &self.catalog,
            runbook,
            check.platform,
            decision.host,
            params,
        )
        .verified_by(check);

        if let Err(refusal) = gates::mode(policy.mode) {
            let extra = match refusal.disposition {
                Disposition::DryRun => json!({"mode": policy.mode, "plan": plan.describe()}),
                _ => json!({"mode": policy.mode, "params": plan.params()}),
            };
            return self.refused(decision, refusal, extra).await;
        }
        decision.trail.allow(Gate::Mode);

        if let Err(refusal) = gates::approval(runbook) {
            return self.refused(decision, refusal, json!({})).await;
        }
        decision.trail.allow(Gate::Approval);
        if let Err(refusal) = gates::maintenance_window(runbook, &policy.window, now) {
            return self.refused(decision, refusal, json!({})).await;
        }
        decision.trail.allow(Gate::MaintenanceWindow);
        if let Some((rule_id, blocked)) = &ledgered {
            if let Err(refusal) = gates::history(rule_id, blocked.as_ref(), now) {
                return self.refused(decision, refusal, json!({})).await;
            }
            decision.trail.allow(Gate::Cooldown);
            decision.trail.allow(Gate::Retries);
        }
        let quotas = (policy.host_actions, policy.site_actions);
        if let Err(refusal) =
            gates::rate(&*self.limiter, self.site_id, decision.host, quotas, now).await
        {
            return self.refused(decision, refusal, json!({})).await;
        }
        decision.trail.allow(Gate::HostRate);
        decision.trail.allow(Gate::SiteRate);

        if let Some((rule_id, _)) = &ledgered {
            self.ledger
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record_fired(rule_id, decision.host, now);
        }
        let execution = execute::execute(&plan, session, connector, &*self.clock).await;
        let verified = *execution.ending() == Ending::Verified;
        if let Some((rule_id, _)) = &ledgered {
            self.ledger
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record_outcome(rule_id, decision.host, verified);
        }

        let ending = execution.ending().clone();
        let mut detail = decision.detail();
        detail.insert("params".to_owned(), Value::Object(plan.params().clone()));
        detail.insert("escalate".to_owned(), Value::Bool(ending.needs_human()));
        detail.extend(object(execution.detail()));
        let draft = evidence::draft(
            Kind::Remediation,
            decision.host,
            self.clock.now(),
            evidence::cites(check),
            ending.as_str(),
            detail,
            execution.artifacts(),
        );
        let seq = self.record(draft).await?;
        let outcome = match ending {
            Ending::Verified => HealOutcome::Verified,
            Ending::RolledBack => HealOutcome::RolledBack,
            Ending::RollbackFailed => HealOutcome::Escalate {
                gate: None,
                reason: "verify failed and rollback failed: the host is in an unknown state"
                    .to_owned(),
            },
            Ending::Failed { reason } => HealOutcome::Escalate { gate: None, reason },
        };
        Ok(HealReport {
            rule_id: decision.rule_id,
            runbook_id: decision.runbook_id,
            outcome,
            seq,
        })
    }

    /// Records a refusal (with `extra` detail) and reports it.
    async fn refused(
        &self,
        mut decision: Decision<'_>,
        refusal: Refusal,
        extra: Value,
    ) -> Result<HealReport> {
        decision.trail.refuse(&refusal);
        let (kind, word) = refusal_kind(refusal.disposition);
        let mut detail = decision.detail();
        detail.insert("gate".to_owned(), json!(refusal.gate.as_str()));
        detail.insert("reason".to_owned(), json!(refusal.reason));
        if let Disposition::Deferred { until } = refusal.disposition {
            detail.insert("deferred_until".to_owned(), json!(until.to_rfc3339()));
        }
        detail.extend(object(extra));
        let draft = evidence::draft(
            kind,
            decision.host,
            decision.now,
            evidence::cites(decision.check),
            word,
            detail,
            Vec::new(),
        );
        let seq = self.record(draft).await?;
        let Refusal {
            gate,
            reason,
            disposition,
        } = refusal;
        let outcome = match disposition {
            Disposition::Refused => HealOutcome::Refused { gate, reason },
            Disposition::Deferred { until } => HealOutcome::Deferred {
                gate,
                until,
                reason,
            },
            Disposition::Escalated => HealOutcome::Escalate {
                gate: Some(gate),
                reason,
            },
            Disposition::Observed => HealOutcome::Observed,
            Disposition::DryRun => HealOutcome::DryRun,
        };
        Ok(HealReport {
            rule_id: decision.rule_id,
            runbook_id: decision.runbook_id,
            outcome,
            seq,
        })
    }

    /// Scrubs a draft and hands it to the recorder.
    pub(crate) async fn record(&self, draft: BundleDraft) -> Result<u64> {
        let kind = kind_word(draft.kind);
        let scrubbed = self.scrubber.scrub_draft(draft);
        self.recorder
            .record(scrubbed)
            .await
            .map_err(|source| Error::Record { kind, source })
    }
}

const fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Check => "check",
        Kind::Remediation => "remediation",
        Kind::Escalation => "escalation",
        Kind::Order => "order",
        Kind::RuleChange => "rule_change",
        Kind::Waiver => "waiver",
    }
}
