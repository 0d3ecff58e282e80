//! [`Agent`]: the appliance assembled from its configuration and its
//! enrolled identity. `sweep` and `checkin` are one round each (the tests
//! and `osiris agent run --once` drive them); `run` repeats both on their
//! schedules until shut down.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use osiris_catalog::Catalog;
use osiris_core::Clock;
use osiris_evidence::{BundleDraft, Kind};
use osiris_healing::{
    FlapPolicy, Healer, HealerParts, InventoryTarget, MaintenanceWindow, Mode, OrderOutcome, Policy,
};
use osiris_limits::{InProcessLimiter, Quota};
use osiris_proto::checkin::{
    CheckinRequest, CheckinResponse, IncidentReport, InventoryHost, OrderResult,
};
use osiris_proto::orders::SignedOrder;
use osiris_proto::rule_set::RuleSet;
use osiris_queue::{ItemKind, Queue, QueueConfig, QueueStats};
use osiris_scrub::Scrubber;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{AgentConfig, Mode as ConfigMode};
use crate::escalation::{DeliverySummary, EscalationParts, Escalations};
use crate::l2::L2;
use crate::ports::{QueueRecorder, StateNonces, TargetConnector};
use crate::state::State;
use crate::sweep::{SweepSummary, Sweeper};
use crate::targets::EnvLookup;
use crate::uplink::{Backoff, BackoffPolicy, Identity, OsRandom, Timeouts, Uplink, UplinkSettings};
use crate::{AgentError, rules};

/// The version the appliance reports at check-in.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Incident reports, telemetry and order results sent per check-in.
const ITEMS_PER_CHECKIN: usize = 500;

/// SQLite's memory for all of the appliance's databases: the queue appends
/// and the state database is small, so pages read once need not stay
/// cached (BENCHMARKS.md, "Appliance memory").
const SQLITE_HEAP_BYTES: u64 = 1 << 20;

/// The appliance.
#[derive(Debug)]
pub struct Agent {
    config: AgentConfig,
    identity: Identity,
    catalog: Arc<Catalog>,
    state: State,
    queue: Queue,
    scrubber: Arc<Scrubber>,
    healer: Arc<Healer>,
    connector: Arc<TargetConnector>,
    uplink: Uplink,
    clock: Arc<dyn Clock>,
    l2: Option<Arc<L2>>,
    escalations: Option<Arc<Escalations>>,
    rule_set_version: Mutex<Option<String>>,
}

/// What one check-in did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckinSummary {
    /// Bundles sent.
    pub bundles_sent: usize,
    /// Items (incidents, telemetry, order results) sent.
    pub items_sent: usize,
    /// Everything up to this seq is stored by Central Command.
    pub acknowledged_through_seq: u64,
    /// Bundles the server refused, with its reasons.
    pub rejected: Vec<String>,
    /// Orders received, and how each ended.
    pub orders: Vec<(String, String)>,
    /// The rule set version now run, when one arrived.
    pub rule_set: Option<String>,
    /// Decisions without an order received (Central Command's incident
    /// id, and `rejected` or `refused`).
    pub decisions: Vec<(String, String)>,
    /// When the server wants the next check-in.
    pub next_checkin_secs: u32,
}

/// The appliance's state at a glance, for `osiris agent status`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Its id.
    pub appliance_id: String,
    /// Its site.
    pub site_id: String,
    /// Open incidents.
    pub open_incidents: Vec<crate::state::Incident>,
    /// Incidents waiting for a person.
    pub escalations: Vec<crate::state::Escalation>,
    /// The outbound queue.
    #[serde(skip)]
    pub queue: Option<QueueStats>,
    /// Bundles waiting for acknowledgement.
    pub queued_bundles: u64,
    /// The rule set version it runs.
    pub rule_set_version: Option<String>,
}

/// Where the appliance's files are.
#[must_use]
pub fn state_file(data_dir: &Path) -> PathBuf {
    data_dir.join("state.db")
}

/// Where the outbound queue is.
#[must_use]
pub fn queue_file(data_dir: &Path) -> PathBuf {
    data_dir.join("queue.db")
}

/// Where the scrubbing key is.
#[must_use]
pub fn scrub_key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("scrub.key")
}

impl Agent {
    /// Opens the enrolled appliance in `config.data_dir`.
    ///
    /// # Errors
    /// When the appliance is not enrolled, or a file, the catalog or the
    /// rule set cannot be used; each error names what failed.
    pub async fn open(
        config: AgentConfig,
        clock: Arc<dyn Clock>,
        env: Arc<EnvLookup>,
    ) -> Result<Self, AgentError> {
        let model = match &config.planner {
            Some(settings) => Some(crate::l2::model(settings, &*env)?),
            None => None,
        };
        Self::open_with_model(config, clock, env, model).await
    }

    /// As [`Agent::open`], with the L2 planner asking `model` (when the
    /// configuration has a `[planner]` section) instead of the configured
    /// endpoints.
    ///
    /// # Errors
    /// As [`Agent::open`].
    pub async fn open_with_model(
        config: AgentConfig,
        clock: Arc<dyn Clock>,
        env: Arc<EnvLookup>,
        model: Option<Arc<dyn osiris_planner::LanguageModel>>,
    ) -> Result<Self, AgentError> {
        let data_dir = config.data_dir.clone();
        let settings = UplinkSettings {
            server_url: Some(config.server.url.clone()),
            trust: match &config.server.ca_file {
                Some(file) => Some(crate::uplink::ServerTrust::ca_file(file)?),
                None => None,
            },
            allow_http: config.server.allow_http,
            timeouts: Timeouts {
                connect: Duration::from_secs(10),
                request: Duration::from_secs(120),
            },
        };
        let (identity, key) = Identity::load_with_key(&data_dir)?;
        // The queue seals evidence with the same key the uplink signs
        // requests with; the key file is read once for each owner.
        let (_, sealing_key) = Identity::load_with_key(&data_dir)?;
        let uplink = Uplink::new(
            identity.clone(),
            Arc::new(key),
            Arc::clone(&clock),
            &settings,
        )?;
        let catalog = Arc::new(match &config.catalog_dir {
            Some(dir) => Catalog::load_dir(dir)?,
            None => Catalog::embedded()?,
        });
        let problems = config.catalog_problems(&catalog);
        if !problems.is_empty() {
            return Err(crate::ConfigError::Invalid(problems).into());
        }
        let state = State::open(&state_file(&data_dir)).await?;
        // Before the queue opens: the limit covers its connections too.
        state.limit_sqlite_heap(SQLITE_HEAP_BYTES).await?;
        let synced = state.synced_rules().await?;
        let (matcher, rule_set_version) = match &synced {
            Some((version, files)) => match rules::compile(&catalog, files) {
                Ok(matcher) => (matcher, Some(version.clone())),
                Err(error) => {
                    // The stored set loaded before; a catalog change made it
                    // unusable. Run the built-in rules and get a fresh set.
                    tracing::warn!(%error, "the stored synced rule set no longer loads; running the built-in rules");
                    (rules::compile(&catalog, &[])?, None)
                }
            },
            None => (rules::compile(&catalog, &[])?, None),
        };
        let mut queue_config = QueueConfig::new(queue_file(&data_dir), Arc::clone(&clock));
        queue_config.max_bytes = config.limits.queue_max_mib.saturating_mul(1 << 20);
        let queue = Queue::open(
            queue_config,
            sealing_key,
            identity.site_id,
            identity.appliance_id,
        )
        .await?;
        let scrub_key = load_or_create_scrub_key(&scrub_key_file(&data_dir))?;
        let scrubber = Arc::new(Scrubber::new(&scrub_key, &config.scrub_config())?);
        let escalations = match &config.notify {
            Some(settings) => {
                let channels = crate::escalation::channels(
                    settings,
                    &*env,
                    &clock,
                    &format!("osiris-appliance-{}", identity.appliance_id),
                )?;
                Some(Arc::new(Escalations::new(
                    settings,
                    channels,
                    EscalationParts {
                        server_url: config.server.url.clone(),
                        site_id: identity.site_id,
                        catalog: Arc::clone(&catalog),
                        scrubber: Arc::clone(&scrubber),
                        queue: queue.clone(),
                        state: state.clone(),
                        clock: Arc::clone(&clock),
                    },
                )?))
            }
            None => None,
        };
        let connector = Arc::new(TargetConnector::new(
            config.targets.clone(),
            data_dir.clone(),
            env,
        ));
        let limiter: Arc<dyn osiris_limits::RateLimiter> = Arc::new(InProcessLimiter::new());
        let l2 = match (&config.planner, model) {
            (Some(settings), Some(model)) => Some(Arc::new(L2::new(
                settings,
                model,
                Arc::clone(&catalog),
                Arc::clone(&limiter),
                (
                    identity.site_id,
                    Arc::clone(&scrubber),
                    queue.clone(),
                    Arc::clone(&clock),
                ),
            )?)),
            _ => None,
        };
        let healer = Arc::new(Healer::new(HealerParts {
            site_id: identity.site_id,
            appliance_id: identity.appliance_id,
            catalog: Arc::clone(&catalog),
            rules: Arc::new(matcher),
            policy: policy(&config)?,
            scrubber: Arc::clone(&scrubber),
            limiter,
            recorder: Arc::new(QueueRecorder(queue.clone())),
            nonces: Arc::new(StateNonces(state.clone())),
            clock: Arc::clone(&clock),
        }));
        // Cooldowns and retry counts hold across restarts.
        healer.restore_ledger(state.ledger().await?);
        // An incident opened just before the appliance stopped still
        // reaches Central Command.
        crate::sweep::report_unreported(&state, &queue, &scrubber).await?;
        Ok(Self {
            config,
            identity,
            catalog,
            state,
            queue,
            scrubber,
            healer,
            connector,
            uplink,
            clock,
            l2,
            escalations,
            rule_set_version: Mutex::new(rule_set_version),
        })
    }

    /// Its enrolled identity.
    #[must_use]
    pub const fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The local state database.
    #[must_use]
    pub const fn state(&self) -> &State {
        &self.state
    }

    /// The outbound queue.
    #[must_use]
    pub const fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The healing engine.
    #[must_use]
    pub const fn healer(&self) -> &Arc<Healer> {
        &self.healer
    }

    fn sweeper(&self) -> Sweeper {
        Sweeper {
            healer: Arc::clone(&self.healer),
            catalog: Arc::clone(&self.catalog),
            state: self.state.clone(),
            queue: self.queue.clone(),
            scrubber: Arc::clone(&self.scrubber),
            connector: Arc::clone(&self.connector),
            clock: Arc::clone(&self.clock),
            concurrency: self.config.limits.concurrency,
            l2: self.l2.clone(),
            escalations: self.escalations.clone(),
        }
    }

    /// Sends the escalation tickets due now (nothing without `[notify]`).
    ///
    /// # Errors
    /// When the state database or the queue fails.
    pub async fn deliver_tickets(&self) -> Result<DeliverySummary, AgentError> {
        match &self.escalations {
            Some(escalations) => escalations.deliver_due().await,
            None => Ok(DeliverySummary::default()),
        }
    }

    /// One sweep of every target, then a telemetry record of it.
    ///
    /// # Errors
    /// When evidence or incidents cannot be kept.
    pub async fn sweep(&self) -> Result<SweepSummary, AgentError> {
        let started = self.clock.now();
        let summary = self.sweeper().sweep().await?;
        let finished = self.clock.now();
        let record = json!({
            "kind": "sweep",
            "started_at": started,
            "duration_ms": (finished - started).num_milliseconds(),
            "summary": summary,
        });
        // Telemetry is the first thing dropped when the queue is full, and
        // losing it must not fail the sweep that produced real evidence.
        if let Err(error) = self
            .queue
            .push(ItemKind::Telemetry, self.scrubber.scrub_json(&record))
            .await
        {
            tracing::warn!(%error, "sweep telemetry not queued");
        }
        tracing::info!(
            checks = summary.checks,
            pass = summary.pass,
            fail = summary.fail,
            unknown = summary.unknown,
            healed = summary.healed,
            escalated = summary.escalated,
            "sweep finished"
        );
        Ok(summary)
    }

    /// One check-in: the oldest queued evidence and items up, then the
    /// acknowledgements applied, a rule-set update loaded and every order
    /// run (each ending in one queued result, sent next time).
    ///
    /// # Errors
    /// When Central Command cannot be reached or refuses the request (the
    /// queue is untouched then), or the queue fails.
    pub async fn checkin(&self) -> Result<CheckinSummary, AgentError> {
        let pending = self
            .queue
            .pending(self.config.limits.checkin_batch, ITEMS_PER_CHECKIN)
            .await?;
        let mut request = CheckinRequest {
            appliance_id: self.identity.appliance_id,
            agent_version: AGENT_VERSION.to_owned(),
            rule_set_version: self.rule_set_version(),
            bundles: pending
                .bundles
                .iter()
                .map(|b| b.canonical.clone())
                .collect(),
            incidents: Vec::new(),
            telemetry: Vec::new(),
            order_results: Vec::new(),
            inventory: self.inventory(),
        };
        let mut sent_items = Vec::with_capacity(pending.items.len());
        // The queue items of the request's incident reports, in order: the
        // answer acknowledges them in the same order.
        let mut report_items = Vec::new();
        for item in &pending.items {
            // The queue holds only what this appliance wrote; an item that no
            // longer reads is dropped with an error rather than wedging every
            // later check-in behind it.
            let read = serde_json::from_str::<Value>(&item.body).map_err(|e| e.to_string());
            let placed = read.and_then(|value| match item.kind {
                ItemKind::Incident => serde_json::from_value::<IncidentReport>(value)
                    .map(|r| {
                        request.incidents.push(r);
                        report_items.push(item.id);
                    })
                    .map_err(|e| e.to_string()),
                ItemKind::Telemetry => {
                    request.telemetry.push(value);
                    Ok(())
                }
                ItemKind::OrderResult => serde_json::from_value::<OrderResult>(value)
                    .map(|r| request.order_results.push(r))
                    .map_err(|e| e.to_string()),
            });
            if let Err(error) = placed {
                tracing::error!(item = %item.id, kind = %item.kind, %error, "a queued item does not read; dropping it");
            }
            sent_items.push(item.id);
        }
        if let (Some(first), Some(last)) = (pending.bundles.first(), pending.bundles.last()) {
            // Written before the request leaves: the crash-safety harness
            // reads these lines to show that nothing acknowledged is sent
            // again.
            tracing::debug!(
                first_seq = first.seq,
                last_seq = last.seq,
                bundles = pending.bundles.len(),
                items = sent_items.len(),
                "check-in sending"
            );
        }
        let response = self.uplink.checkin(&request).await?;
        self.apply(&request, &sent_items, &report_items, response)
            .await
    }

    async fn apply(
        &self,
        request: &CheckinRequest,
        sent_items: &[osiris_queue::ItemId],
        report_items: &[osiris_queue::ItemId],
        response: CheckinResponse,
    ) -> Result<CheckinSummary, AgentError> {
        // Central Command's ids of the reported incidents, before the items
        // are acknowledged (and forgotten).
        let learned: Vec<(i64, osiris_core::IncidentId)> = report_items
            .iter()
            .zip(&response.incidents)
            .map(|(item, ack)| {
                (
                    i64::try_from(item.get()).unwrap_or(i64::MAX),
                    ack.incident_id,
                )
            })
            .collect();
        self.state.learn_server_ids(&learned).await?;
        let acknowledged = self
            .queue
            .acknowledge(response.acknowledged_through_seq, sent_items)
            .await?;
        // The acknowledgement is durable now: nothing up to this seq is
        // ever read for a check-in again.
        tracing::debug!(
            acknowledged_through = acknowledged.acknowledged_through,
            "acknowledgement applied"
        );
        let mut summary = CheckinSummary {
            bundles_sent: request.bundles.len(),
            items_sent: sent_items.len(),
            acknowledged_through_seq: acknowledged.acknowledged_through,
            next_checkin_secs: response.next_checkin_secs,
            ..CheckinSummary::default()
        };
        for rejection in &response.rejected {
            tracing::error!(seq = ?rejection.seq, reason = %rejection.reason, "central command refused a bundle");
            summary.rejected.push(format!(
                "seq {}: {}",
                rejection
                    .seq
                    .map_or_else(|| "?".to_owned(), |s| s.to_string()),
                rejection.reason
            ));
        }
        for rejected in &response.rejected_order_results {
            tracing::warn!(order_id = %rejected.order_id, reason = %rejected.reason, "central command did not record an order result");
        }
        if let Some(set) = response.rule_set {
            summary.rule_set = self.apply_rule_set(set).await?;
        }
        let decisions = crate::decisions::Decisions {
            appliance_id: self.identity.appliance_id,
            server_key: &self.identity.server_public_key,
            state: &self.state,
            queue: &self.queue,
            scrubber: &self.scrubber,
            clock: &*self.clock,
            escalations: self.escalations.as_deref(),
        };
        for decision in &response.decisions {
            let accepted = decisions.take(decision).await?;
            summary.decisions.push((
                decision.decision.incident_id.to_string(),
                if accepted {
                    decision.decision.decision.clone()
                } else {
                    "refused".to_owned()
                },
            ));
        }
        for order in &response.orders {
            decisions.approved(order).await?;
            let outcome = self.run_order(order).await?;
            summary
                .orders
                .push((order.body.order_id.to_string(), outcome.as_str().to_owned()));
        }
        Ok(summary)
    }

    /// Loads a rule set from Central Command; a set that does not load is
    /// refused whole (the running one stays) and both are evidence.
    async fn apply_rule_set(&self, set: RuleSet) -> Result<Option<String>, AgentError> {
        let files: Vec<(String, String)> = set
            .files
            .iter()
            .map(|file| (file.path.clone(), file.content.to_string()))
            .collect();
        match rules::compile(&self.catalog, &files) {
            Ok(matcher) => {
                let count = matcher.rules().len();
                // Evidence first, then the change: stopped in between, the
                // appliance still reports its old version, so the next
                // answer brings the set again and it is applied (and
                // recorded) then. The other order could leave a rule set
                // running that no bundle records.
                let mut detail = json!({"version": set.version, "files": files.len(), "rules": count, "tier": "L1"});
                // The learning loop's promotions and demotions behind the
                // set's learned rules: who approved which rule on what
                // figures, and why one was taken back.
                if !set.changes.is_empty() {
                    let changes = serde_json::to_value(&set.changes)
                        .map_err(|e| AgentError::Encode(e.to_string()))?;
                    let promoted: Vec<&str> = matcher
                        .rules()
                        .iter()
                        .filter(|rule| rule.source() == osiris_rules::RuleSource::Promoted)
                        .map(|rule| rule.id())
                        .collect();
                    // Rules in shadow mode: they record what they would
                    // run beside L2's decision and never act.
                    let shadow: Vec<&str> = matcher
                        .rules()
                        .iter()
                        .filter(|rule| rule.is_shadow())
                        .map(|rule| rule.id())
                        .collect();
                    if let Some(object) = detail.as_object_mut() {
                        object.insert("changes".to_owned(), changes);
                        object.insert("promoted_rules".to_owned(), json!(promoted));
                        object.insert("shadow_rules".to_owned(), json!(shadow));
                    }
                }
                self.record(Kind::RuleChange, "appliance", "applied", detail)
                    .await?;
                self.state.store_rules(&set.version, &files).await?;
                self.healer.replace_rules(Arc::new(matcher));
                *self
                    .rule_set_version
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(set.version.clone());
                tracing::info!(version = %set.version, rules = count, "rule set applied");
                Ok(Some(set.version))
            }
            Err(error) => {
                tracing::error!(version = %set.version, %error, "rule set refused");
                self.record(
                    Kind::RuleChange,
                    "appliance",
                    "refused",
                    json!({"version": set.version, "reason": error.to_string(), "tier": "L1"}),
                )
                .await?;
                Ok(None)
            }
        }
    }

    /// Runs one order through the healing engine (which verifies it and
    /// records its `order` bundle) and queues its one result.
    async fn run_order(&self, order: &SignedOrder) -> Result<OrderOutcome, AgentError> {
        let inventory = self.inventory_targets(order.body.target.as_deref());
        let report = self
            .healer
            .run_order(
                order,
                &self.identity.server_public_key,
                &inventory,
                &*self.connector,
            )
            .await?;
        tracing::info!(order_id = %report.order_id, outcome = report.outcome.as_str(), "order ended");
        let result = OrderResult {
            order_id: report.order_id,
            outcome: report.outcome.as_str().to_owned(),
            detail: report.detail.clone(),
        };
        let body = serde_json::to_value(&result).map_err(|e| AgentError::Encode(e.to_string()))?;
        self.queue
            .push(ItemKind::OrderResult, self.scrubber.scrub_json(&body))
            .await?;
        Ok(report.outcome)
    }

    /// The targets an order may run on: the one it names, or all.
    fn inventory_targets(&self, target: Option<&str>) -> Vec<InventoryTarget> {
        self.config
            .targets
            .iter()
            .filter(|t| target.is_none_or(|name| t.name.eq_ignore_ascii_case(name)))
            .map(|t| InventoryTarget {
                name: t.name.clone(),
                platform: t.platform,
            })
            .collect()
    }

    fn inventory(&self) -> Vec<InventoryHost> {
        self.config
            .targets
            .iter()
            .map(|t| InventoryHost {
                hostname: t.name.clone(),
                platform: t.platform.as_str().to_owned(),
                address: if t.address.is_empty() {
                    "localhost".to_owned()
                } else {
                    t.address.clone()
                },
            })
            .collect()
    }

    fn rule_set_version(&self) -> Option<String> {
        self.rule_set_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn record(
        &self,
        kind: Kind,
        host: &str,
        outcome: &str,
        detail: Value,
    ) -> Result<u64, AgentError> {
        let draft = BundleDraft {
            bundle_id: osiris_core::BundleId::random(),
            created_at: self.clock.now(),
            kind,
            host: host.to_owned(),
            hipaa: Vec::new(),
            outcome: outcome.to_owned(),
            detail,
            artifacts: Vec::new(),
        };
        Ok(self
            .queue
            .append(self.scrubber.scrub_draft(draft))
            .await?
            .seq)
    }

    /// The appliance's state at a glance.
    ///
    /// # Errors
    /// When the state database or queue fails.
    pub async fn status(&self) -> Result<Status, AgentError> {
        let open_incidents = self
            .state
            .incidents()
            .await?
            .into_iter()
            .filter(|i| i.open)
            .collect();
        let queue = self.queue.stats().await?;
        Ok(Status {
            appliance_id: self.identity.appliance_id.to_string(),
            site_id: self.identity.site_id.to_string(),
            open_incidents,
            escalations: self.state.escalations().await?,
            queued_bundles: queue.bundles.count,
            queue: Some(queue),
            rule_set_version: self.rule_set_version(),
        })
    }

    /// Sweeps and checks in on their schedules until `shutdown` resolves:
    /// the two loops run side by side, so a long sweep never delays
    /// evidence leaving or orders arriving.
    ///
    /// # Errors
    /// Only when a loop cannot continue at all (the queue or state
    /// database fails); unreachable servers and hosts are retried.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), AgentError> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let sweeps = async {
            let mut stopped = stopped.clone();
            let interval = Duration::from_secs(self.config.schedule.sweep_interval_secs);
            loop {
                let started = self.clock.now();
                // A sweep that cannot keep its evidence (the queue is full
                // after weeks offline, the disk failed) heals nothing, since
                // every check is recorded before anything acts; it is logged
                // and tried again next interval while check-ins drain.
                if let Err(error) = self.sweep().await {
                    tracing::error!(%error, "sweep stopped: no evidence can be kept, so nothing is healed");
                }
                let spent = (self.clock.now() - started).to_std().unwrap_or_default();
                let wait = interval.saturating_sub(spent);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return Ok::<(), AgentError>(()),
                }
            }
        };
        let checkins = async {
            let mut stopped = stopped.clone();
            let mut backoff = Backoff::new(BackoffPolicy {
                base: Duration::from_secs(5),
                cap: Duration::from_secs(600),
            });
            loop {
                let wait = match self.checkin().await {
                    Ok(summary) => {
                        // A full batch means more is waiting: send it now.
                        if summary.bundles_sent >= self.config.limits.checkin_batch {
                            Duration::ZERO
                        } else {
                            backoff.succeeded(summary.next_checkin_secs)
                        }
                    }
                    Err(AgentError::Uplink(error)) => {
                        tracing::warn!(%error, class = ?error.class(), "check-in failed");
                        backoff.failed(error.retry_after(), &mut OsRandom)
                    }
                    Err(other) => return Err(other),
                };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stopped.changed() => return Ok(()),
                }
            }
        };
        let stopper = async {
            shutdown.await;
            let _ = stop.send(true);
            Ok::<(), AgentError>(())
        };
        tokio::try_join!(sweeps, checkins, stopper)?;
        self.state.close().await;
        Ok(())
    }
}

fn policy(config: &AgentConfig) -> Result<Policy, AgentError> {
    let (start, end) = config.window_times();
    let window = MaintenanceWindow::new(config.timezone(), config.window_days(), start, end)?;
    let hour = chrono::Duration::hours(1);
    let quota = |max: u32, setting: &str| {
        Quota::new(max, hour).map_err(|e| {
            AgentError::Config(crate::ConfigError::Invalid(vec![format!("{setting}: {e}")]))
        })
    };
    Ok(Policy {
        mode: match config.healing.mode {
            ConfigMode::Observe => Mode::Observe,
            ConfigMode::DryRun => Mode::DryRun,
            ConfigMode::Heal => Mode::Heal,
        },
        window,
        host_actions: quota(
            config.limits.host_actions_per_hour,
            "limits.host_actions_per_hour",
        )?,
        site_actions: quota(
            config.limits.site_actions_per_hour,
            "limits.site_actions_per_hour",
        )?,
        flapping: FlapPolicy::STANDARD,
        runbook_params: config
            .runbook_params
            .iter()
            .filter_map(|(id, params)| Some((id.parse().ok()?, params.clone())))
            .collect(),
    })
}

/// The scrubbing key, made on first start. It is written under a
/// temporary name and renamed into place, so a crash while writing never
/// leaves a key file that does not load (which would keep the appliance
/// from starting again).
fn load_or_create_scrub_key(path: &Path) -> Result<osiris_scrub::ScrubKey, AgentError> {
    if path.exists() {
        return Ok(osiris_scrub::load_key_file(path)?);
    }
    let file_error = |path: &Path, what: &str, error: std::io::Error| AgentError::File {
        path: path.display().to_string(),
        reason: format!("{what}: {error}"),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    // Left by a crash before the rename: never used, so never needed.
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(file_error(&temporary, "removing", error)),
    }
    let key = osiris_scrub::create_key_file(&temporary)?;
    std::fs::rename(&temporary, path).map_err(|e| file_error(path, "renaming into place", e))?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| file_error(dir, "syncing", e))?;
    }
    Ok(key)
}
