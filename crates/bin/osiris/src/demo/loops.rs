//! The two loops that close over a person's or the fleet's judgement: an
//! L3 escalation approved as from the dashboard (a signed order the
//! appliance runs at its next check-in), and a proven L2 fix promoted to
//! L1 through the learning loop. As in the tour, each line reports what
//! Central Command's API or its stored evidence shows.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::at;
use super::practice::{DC, FS};
use super::steps::Tour;

/// The escalation the demo approves, and the fix it approves.
const L3_CHECK: &str = "win.encryption.bitlocker";
const L3_RUNBOOK: &str = "RB-WIN-ENCRYPTION-001";

/// The L2-handled drift the learning loop learns.
const L2_CHECK: &str = "win.logging.audit";
const L2_KEY: &str = "audit.logon";
const L2_DRIFTED: &str = "Success";

/// Episodes of the same incident a host may have in the learning step:
/// the healer escalates a fix that keeps being reverted (three reopenings
/// within a day), so each host drifts at most twice before the L1 proof.
const EPISODES_PER_HOST: u32 = 2;
/// Rounds of drift before the learning step gives up.
const LEARNING_ROUNDS: u32 = 4;

/// The approval of the L3 escalation and what became of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ApprovalOutcome {
    pub(crate) incident_id: Option<String>,
    /// The incident's dashboard page.
    pub(crate) incident_url: Option<String>,
    pub(crate) order_id: Option<String>,
    /// How the appliance said the order ended.
    pub(crate) order_outcome: Option<String>,
    /// The order bundle's seq and outcome, as stored.
    pub(crate) order_seq: Option<u64>,
    pub(crate) evidence_outcome: Option<String>,
    /// Central Command resolved the incident.
    pub(crate) resolved: bool,
    pub(crate) line: String,
}

/// The promotion of the L2 fix and the L1 run that followed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LearningOutcome {
    /// The demo server's thresholds, and the production defaults.
    pub(crate) thresholds: String,
    /// L2 runs of the pattern driven in this step.
    pub(crate) l2_runs: u32,
    pub(crate) candidate_id: Option<String>,
    pub(crate) rule_id: Option<String>,
    /// The rule set version the appliance received.
    pub(crate) rule_set: Option<String>,
    /// The L1 bundle naming the learned rule.
    pub(crate) l1_seq: Option<u64>,
    pub(crate) l1_host: Option<String>,
    /// The scripted planner's calls before and after the L1 run.
    pub(crate) planner_calls: Option<(u64, u64)>,
    pub(crate) handled_by_l1: bool,
    pub(crate) line: String,
}

impl Tour<'_> {
    /// Step 2's tail: the open L3 incident approved with the check's
    /// whitelisted runbook, the order received and run at the next
    /// check-in, and its evidence. A failure is a line of the log, not the
    /// end of the demo.
    pub(super) async fn approve_escalation(&self) -> ApprovalOutcome {
        let mut outcome = ApprovalOutcome::default();
        if let Err(error) = self.approve_into(&mut outcome).await {
            outcome.line = format!("2. L3 approval failed: {error:#}");
        }
        self.log.line(&outcome.line);
        outcome
    }

    async fn approve_into(&self, outcome: &mut ApprovalOutcome) -> Result<()> {
        let incidents = self
            .api
            .get(&format!(
                "/api/dashboard/incidents?site_id={}&status=open",
                self.site_id
            ))
            .await?;
        let incident = incidents
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|i| at(i, "/check_id") == L3_CHECK && at(i, "/tier") == "l3")
            })
            .with_context(|| format!("no open L3 incident of {L3_CHECK} on Central Command"))?;
        let id = at(incident, "/id")
            .as_str()
            .context("an incident without id")?
            .to_owned();
        let page = format!("{}/incidents/{id}", self.dashboard_url);
        self.log
            .line(&format!("2. L3 escalation on the dashboard: {page}"));
        outcome.incident_id = Some(id.clone());
        outcome.incident_url = Some(page);

        let before = self.stored_head().await?;
        let decided = self
            .api
            .post(
                &format!("/api/incidents/{id}/approve"),
                json!({"runbook_id": L3_RUNBOOK, "params": {"mount_point": "C:"}}),
                StatusCode::CREATED,
            )
            .await?;
        let order_id = at(&decided, "/order_id")
            .as_str()
            .context("the approval names no order")?
            .to_owned();
        self.log.line(&format!(
            "2. approved as from the dashboard: {L3_RUNBOOK} with mount_point C: on {DC}; signed order {order_id} waits for the appliance's next check-in"
        ));
        outcome.order_id = Some(order_id.clone());

        let summary = self.agent.checkin().await.context("checking in")?;
        outcome.order_outcome = summary
            .orders
            .iter()
            .find(|(order, _)| *order == order_id)
            .map(|(_, ended)| ended.clone());
        self.drain().await?;
        let order = self
            .bundles_after(before, &["order"])
            .await?
            .into_iter()
            .find(|b| at(b, "/detail/order_id") == order_id.as_str());
        outcome.order_seq = order.as_ref().and_then(|b| at(b, "/seq").as_u64());
        outcome.evidence_outcome = order
            .as_ref()
            .and_then(|b| at(b, "/outcome").as_str())
            .map(str::to_owned);
        let resolved = self
            .api
            .get(&format!(
                "/api/dashboard/incidents?site_id={}&status=resolved",
                self.site_id
            ))
            .await?;
        outcome.resolved = resolved
            .as_array()
            .is_some_and(|all| all.iter().any(|i| at(i, "/id") == id.as_str()));
        let shown = |v: &Option<String>| v.as_deref().unwrap_or("none").to_owned();
        outcome.line = format!(
            "2. L3 approved fix: the appliance received order {order_id} at check-in and ran it: {}; its evidence: order bundle {} (seq {}); incident {}",
            shown(&outcome.order_outcome),
            shown(&outcome.evidence_outcome),
            outcome
                .order_seq
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
            if outcome.resolved {
                "resolved"
            } else {
                "still open"
            },
        );
        Ok(())
    }

    /// Step 3: the same L2-handled drift until Central Command lists its
    /// pattern as a candidate, the promotion, the rule set at check-in, and
    /// the drift once more, now handled by L1 without the planner.
    pub(super) async fn promote_l2_fix(&self) -> LearningOutcome {
        let production = osiris_server::config::LearningConfig::default();
        let thresholds = format!(
            "demo thresholds: a candidate after {} verified L2 runs with a 95% Wilson lower bound >= {:.2}; production defaults: {} runs and >= {:.2} (about 35 verified runs in a row)",
            self.learning.min_samples,
            self.learning.min_lower_bound,
            production.min_samples,
            production.min_lower_bound
        );
        self.log.line(&format!("3. learning loop: {thresholds}"));
        let mut outcome = LearningOutcome {
            thresholds,
            ..LearningOutcome::default()
        };
        if let Err(error) = self.learn_into(&mut outcome).await {
            outcome.line = format!("3. learning loop failed: {error:#}");
        }
        self.log.line(&outcome.line);
        outcome
    }

    async fn learn_into(&self, outcome: &mut LearningOutcome) -> Result<()> {
        // The step-2 L2 fix on the file server was the pattern's first run.
        let mut episodes: BTreeMap<&str, u32> = BTreeMap::from([(FS, 1)]);
        let mut rule_id = self.promoted_rule().await?;
        if let Some(rule) = &rule_id {
            self.log.line(&format!(
                "3. {L2_CHECK}: learned rule {rule} was promoted in an earlier run"
            ));
        }
        let mut round = 0;
        while rule_id.is_none() {
            if let Some((candidate, rule)) = self.candidate().await? {
                self.api
                    .post(
                        &format!("/api/learning/candidates/{candidate}/promote"),
                        json!({}),
                        StatusCode::CREATED,
                    )
                    .await?;
                self.log.line(&format!(
                    "3. candidate {candidate} ({L2_CHECK}) listed by GET /api/learning/candidates; promoted as rule {rule} (POST /api/learning/candidates/{candidate}/promote)"
                ));
                outcome.candidate_id = Some(candidate);
                rule_id = Some(rule);
                break;
            }
            round += 1;
            let hosts: Vec<&str> = self
                .practice
                .windows
                .iter()
                .map(|h| h.name.as_str())
                .filter(|h| episodes.get(h).copied().unwrap_or(0) < EPISODES_PER_HOST)
                .collect();
            if round > LEARNING_ROUNDS || hosts.is_empty() {
                bail!(
                    "no candidate for {L2_CHECK} after {} L2 runs",
                    outcome.l2_runs
                );
            }
            for host in &hosts {
                self.practice.drift(host, L2_KEY, json!(L2_DRIFTED))?;
                *episodes.entry(host).or_default() += 1;
            }
            let swept = self.round().await?;
            outcome.l2_runs += swept.planned;
            self.log.line(&format!(
                "3. round {round}: logon auditing reduced again on {}; the L2 planner was asked {} times, {} healed",
                hosts.join(", "),
                swept.planned,
                swept.healed
            ));
        }
        let Some(rule_id) = rule_id else {
            bail!("no learned rule for {L2_CHECK}");
        };
        outcome.rule_id = Some(rule_id.clone());

        let summary = self.agent.checkin().await.context("checking in")?;
        outcome.rule_set = summary.rule_set.clone();
        self.drain().await?;
        if let Some(version) = &summary.rule_set {
            self.log.line(&format!(
                "3. the appliance received rule set {version} with {rule_id} at its next check-in"
            ));
        }

        // The host with the fewest episodes drifts once more.
        let host = self
            .practice
            .windows
            .iter()
            .map(|h| h.name.as_str())
            .min_by_key(|h| episodes.get(h).copied().unwrap_or(0))
            .context("the practice has no Windows host")?;
        let before = self.stored_head().await?;
        let calls_before = self.scripted.map(super::planner::ScriptedPlanner::calls);
        self.practice.drift(host, L2_KEY, json!(L2_DRIFTED))?;
        let swept = self.round().await?;
        let calls_after = self.scripted.map(super::planner::ScriptedPlanner::calls);
        outcome.planner_calls = calls_before.zip(calls_after);
        let fixed = self
            .bundles_after(before, &["remediation"])
            .await?
            .into_iter()
            .find(|b| {
                at(b, "/host") == host
                    && at(b, "/detail/check_id") == L2_CHECK
                    && at(b, "/detail/tier") == "L1"
                    && at(b, "/detail/rule_id") == rule_id.as_str()
                    && at(b, "/outcome") == "verified"
            });
        outcome.l1_host = Some(host.to_owned());
        outcome.l1_seq = fixed.as_ref().and_then(|b| at(b, "/seq").as_u64());
        outcome.handled_by_l1 = fixed.is_some() && swept.planned == 0;
        let calls = match outcome.planner_calls {
            Some((before, after)) => {
                format!("the scripted planner's calls stayed at {before} (now {after})")
            }
            None => format!("the planner was asked {} times", swept.planned),
        };
        outcome.line = match outcome.l1_seq {
            Some(seq) if outcome.handled_by_l1 => format!(
                "3. drift again on {host}: handled by L1 with learned rule {rule_id}, verified (seq {seq}); {calls}"
            ),
            _ => format!(
                "3. drift again on {host}: NOT handled by learned rule {rule_id} ({} put to L2, {} healed); {calls}",
                swept.planned, swept.healed
            ),
        };
        Ok(())
    }

    /// The candidate of the L2 check's pattern, with the rule it makes.
    async fn candidate(&self) -> Result<Option<(String, String)>> {
        let candidates = self.api.get("/api/learning/candidates").await?;
        let Some(found) = candidates
            .as_array()
            .and_then(|all| all.iter().find(|c| at(c, "/check_id") == L2_CHECK))
        else {
            return Ok(None);
        };
        let id = at(found, "/id")
            .as_str()
            .context("a candidate without id")?;
        let rule = at(found, "/rule/id").as_str().with_context(|| {
            format!(
                "candidate {id} makes no valid rule: {}",
                at(found, "/rule_error")
            )
        })?;
        Ok(Some((id.to_owned(), rule.to_owned())))
    }

    /// A learned rule for the L2 check already in force.
    async fn promoted_rule(&self) -> Result<Option<String>> {
        let rules = self.api.get("/api/learning/rules").await?;
        Ok(rules.as_array().and_then(|all| {
            all.iter()
                .filter(|r| at(r, "/state") == "active")
                .find(|r| at(r, "/rule").to_string().contains(L2_CHECK))
                .and_then(|r| at(r, "/rule_id").as_str())
                .map(str::to_owned)
        }))
    }
}
