//! The tour: sweep and score, drift and each tier's answer, the export and
//! its offline verification, then periodic sweeps. What each line reports
//! is read back from Central Command (its dashboard figures and the
//! evidence it stored) or from the exported evidence.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use osiris_agent::Agent;
use osiris_agent::sweep::SweepSummary;
use osiris_core::{Clock, SystemClock};
use osiris_evidence::PublicKey;
use osiris_evidence::verify::{NoProgress, VerifyOptions, verify_export};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::at;

use super::Log;
use super::central::Api;
use super::practice::{DC, EHR, FS, PlannerChoice, Practice};

/// What the tour found, as demo.json and `--json` report it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Outcomes {
    /// Central Command's compliance score after the first sweep.
    pub(crate) first_score: Option<f64>,
    /// And after the drift was handled.
    pub(crate) score_after_drift: Option<f64>,
    /// Each tier's step.
    pub(crate) tiers: Vec<TierOutcome>,
    /// The L3 escalation approved as from the dashboard.
    #[serde(default)]
    pub(crate) approval: Option<super::loops::ApprovalOutcome>,
    /// The L2 fix promoted to L1 through the learning loop.
    #[serde(default)]
    pub(crate) learning: Option<super::loops::LearningOutcome>,
    /// The site's export.
    pub(crate) export: Option<ExportOutcome>,
}

/// One tier's step: what was expected on which host, and what the
/// evidence shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TierOutcome {
    pub(crate) step: String,
    pub(crate) host: String,
    pub(crate) check_id: String,
    /// The evidence shows the expected decision.
    pub(crate) seen: bool,
    /// The deciding bundle's seq, when there is one.
    pub(crate) seq: Option<u64>,
    pub(crate) line: String,
}

/// The export and its verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExportOutcome {
    pub(crate) path: PathBuf,
    pub(crate) verified: bool,
    pub(crate) bundles_checked: u64,
    pub(crate) verify_command: String,
}

/// One drift the tour injects and the decision it expects.
struct Drift {
    step: &'static str,
    host: &'static str,
    check_id: &'static str,
    what: &'static str,
    key: &'static str,
    value: Value,
    expect: fn(&Value) -> bool,
}

fn remediation(bundle: &Value, tier: &str, outcome: &str) -> bool {
    at(bundle, "/kind") == "remediation"
        && at(bundle, "/detail/tier") == tier
        && at(bundle, "/outcome") == outcome
}

/// The Windows drift of the tour.
fn windows_drift() -> Vec<Drift> {
    vec![
        Drift {
            step: "L1 fix",
            host: DC,
            check_id: "win.av.defender",
            what: "Defender real-time protection turned off",
            key: "defender.realtime_enabled",
            value: json!(false),
            expect: |b| remediation(b, "L1", "verified"),
        },
        Drift {
            step: "L2 decision",
            host: FS,
            check_id: "win.logging.audit",
            what: "logon auditing reduced to success only",
            key: "audit.logon",
            value: json!("Success"),
            expect: |b| at(b, "/detail/tier") == "L2",
        },
        Drift {
            step: "L3 escalation",
            host: DC,
            check_id: "win.encryption.bitlocker",
            what: "BitLocker protection suspended on C:",
            key: "bitlocker.c_protection",
            value: json!("Off"),
            expect: |b| at(b, "/kind") == "escalation",
        },
        Drift {
            step: "deferred to the maintenance window",
            host: DC,
            check_id: "win.backup.wsb",
            what: "the last Windows Server Backup failed",
            key: "backup.last_result",
            value: json!(1),
            expect: |b| remediation(b, "L1", "deferred"),
        },
        Drift {
            step: "failed verification rolled back",
            host: FS,
            check_id: "win.av.defender",
            what: "Defender antivirus disabled by a policy the fix cannot override",
            key: "defender.antivirus_enabled",
            value: json!(false),
            expect: |b| remediation(b, "L1", "rolled_back"),
        },
    ]
}

pub(super) struct Tour<'a> {
    pub(super) api: &'a Api,
    pub(super) agent: &'a Agent,
    pub(super) practice: &'a Practice,
    pub(super) site_id: &'a str,
    pub(super) appliance_id: &'a str,
    pub(super) log: &'a Log,
    pub(super) planner: &'a PlannerChoice,
    /// The scripted planner, whose calls the learning step counts.
    pub(super) scripted: Option<&'a super::planner::ScriptedPlanner>,
    /// Central Command's address, for the dashboard pages the log names.
    pub(super) dashboard_url: &'a str,
    /// The demo server's learning thresholds.
    pub(super) learning: &'a osiris_server::config::LearningConfig,
}

impl Tour<'_> {
    /// Steps 1 to 4.
    pub(super) async fn run(
        &self,
        drift: bool,
        exports: &Path,
        server_key: &PublicKey,
    ) -> Result<Outcomes> {
        let mut outcomes = Outcomes::default();
        self.log.doing("1. sweeping every host");
        let swept = self.round().await?;
        let (score, counted) = self.score().await?;
        outcomes.first_score = score;
        self.log.line(&format!(
            "1. sweep: {} checks on {} hosts: {} pass, {} fail, {} unknown",
            swept.checks,
            self.practice.host_count(),
            swept.pass,
            swept.fail,
            swept.unknown
        ));
        self.log.line(&format!(
            "1. compliance score {} over {counted} check results of the last 24 h (Central Command's dashboard)",
            percent(score)
        ));

        if drift {
            self.log.doing("2. injecting drift");
            outcomes.tiers = self.tiers().await?;
            let (score, counted) = self.score().await?;
            outcomes.score_after_drift = score;
            self.log.line(&format!(
                "2. compliance score now {} over {counted} check results",
                percent(score)
            ));
            self.log.doing("2. approving the L3 escalation");
            outcomes.approval = Some(self.approve_escalation().await);
            self.log.doing("3. promoting a proven L2 fix to L1");
            outcomes.learning = Some(self.promote_l2_fix().await);
        } else {
            self.log.line("2. scenario steady: no drift injected");
        }

        self.log.doing("4. exporting the site's evidence");
        outcomes.export = Some(self.export(exports, server_key).await?);
        Ok(outcomes)
    }

    /// A sweep, then check-ins until the queue is empty.
    pub(super) async fn round(&self) -> Result<SweepSummary> {
        let swept = self.agent.sweep().await?;
        self.drain().await?;
        Ok(swept)
    }

    pub(super) async fn drain(&self) -> Result<()> {
        // A check-in sends a batch; the answer may bring a rule set whose
        // rule_change bundle the next check-in sends.
        for _ in 0..20 {
            self.agent.checkin().await.context("checking in")?;
            if self.agent.queue().stats().await?.bundles.count == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The site's compliance score and how many results it counts, from
    /// the dashboard's fleet figures.
    async fn score(&self) -> Result<(Option<f64>, u64)> {
        let fleet = self.api.get("/api/dashboard/fleet").await?;
        let site = at(&fleet, "/sites")
            .as_array()
            .and_then(|sites| sites.iter().find(|s| at(s, "/site_id") == self.site_id))
            .context("the site is not in the fleet overview")?;
        Ok((
            at(site, "/compliance_score").as_f64(),
            at(site, "/checks_counted").as_u64().unwrap_or(0),
        ))
    }

    /// The last seq Central Command stored for the appliance.
    pub(super) async fn stored_head(&self) -> Result<u64> {
        Ok(self
            .stored_after(0)
            .await?
            .iter()
            .filter_map(|e| at(e, "/seq").as_u64())
            .max()
            .unwrap_or(0))
    }

    /// Index entries of the appliance's chain after `seq`.
    async fn stored_after(&self, mut seq: u64) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        loop {
            let page = self
                .api
                .get(&format!(
                    "/api/sites/{}/evidence?appliance_id={}&after_seq={seq}&limit=1000",
                    self.site_id, self.appliance_id
                ))
                .await?;
            let entries = page.as_array().cloned().unwrap_or_default();
            let full = entries.len() == 1000;
            seq = entries
                .iter()
                .filter_map(|e| at(e, "/seq").as_u64())
                .max()
                .unwrap_or(seq);
            all.extend(entries);
            if !full {
                return Ok(all);
            }
        }
    }

    /// The decisions (remediation and escalation bundles) stored after
    /// `seq`, parsed from the bytes Central Command keeps.
    async fn decisions_after(&self, seq: u64) -> Result<Vec<Value>> {
        self.bundles_after(seq, &["remediation", "escalation"])
            .await
    }

    /// The bundles of `kinds` stored after `seq`, parsed.
    pub(super) async fn bundles_after(&self, seq: u64, kinds: &[&str]) -> Result<Vec<Value>> {
        let mut decisions = Vec::new();
        for entry in self.stored_after(seq).await? {
            if !at(&entry, "/kind")
                .as_str()
                .is_some_and(|kind| kinds.contains(&kind))
            {
                continue;
            }
            let id = at(&entry, "/bundle_id")
                .as_str()
                .context("an evidence entry without bundle_id")?;
            let raw = self
                .api
                .get_bytes(&format!("/api/evidence/{id}/raw"))
                .await?;
            decisions.push(serde_json::from_slice(&raw).context("a stored bundle is not JSON")?);
        }
        Ok(decisions)
    }

    /// Step 2: the drift, one sweep, and each tier's answer as stored.
    async fn tiers(&self) -> Result<Vec<TierOutcome>> {
        let before = self.stored_head().await?;
        let mut drifts = windows_drift();
        for drift in &drifts {
            self.practice
                .drift(drift.host, drift.key, drift.value.clone())?;
            self.log
                .line(&format!("2. drift on {}: {}", drift.host, drift.what));
        }
        if let Some(linux) = &self.practice.linux {
            linux.flush_firewall()?;
            self.log.line(&format!(
                "2. drift on {EHR}: nftables ruleset flushed (no default-deny firewall)"
            ));
            drifts.push(Drift {
                step: "L3 escalation",
                host: EHR,
                check_id: "deb.firewall.nftables",
                what: "nftables ruleset flushed",
                key: "",
                value: Value::Null,
                expect: |b| at(b, "/kind") == "escalation",
            });
        }
        self.log.doing("2. sweeping the drifted practice");
        let swept = self.round().await?;
        self.log.line(&format!(
            "2. sweep: {} fail, {} healed, {} rolled back, {} deferred, {} put to L2, {} escalated",
            swept.fail,
            swept.healed,
            swept.rolled_back,
            swept.deferred,
            swept.planned,
            swept.escalated
        ));
        let decisions = self.decisions_after(before).await?;
        let mut outcomes = Vec::with_capacity(drifts.len());
        for drift in &drifts {
            // The tier that decided may follow an earlier record of the
            // same incident (L1 finding no rule before L2 plans): the
            // expected decision wins, else the last one stands.
            let mine: Vec<&Value> = decisions
                .iter()
                .filter(|b| {
                    at(b, "/host") == drift.host && at(b, "/detail/check_id") == drift.check_id
                })
                .collect();
            let found = mine
                .iter()
                .find(|b| (drift.expect)(b))
                .or_else(|| mine.last())
                .copied();
            let seen = found.is_some_and(|b| (drift.expect)(b));
            let line = match found {
                Some(bundle) if seen => self.describe(drift, bundle),
                Some(bundle) => format!(
                    "2. {}: expected on {} {}, but the appliance decided {} {} (tier {}: {})",
                    drift.step,
                    drift.host,
                    drift.check_id,
                    at(bundle, "/kind").as_str().unwrap_or("?"),
                    at(bundle, "/outcome").as_str().unwrap_or("?"),
                    at(bundle, "/detail/tier").as_str().unwrap_or("?"),
                    at(bundle, "/detail/reason")
                        .as_str()
                        .unwrap_or("no reason recorded")
                ),
                None => format!(
                    "2. {}: no decision on {} {} reached Central Command",
                    drift.step, drift.host, drift.check_id
                ),
            };
            self.log.line(&line);
            outcomes.push(TierOutcome {
                step: drift.step.to_owned(),
                host: drift.host.to_owned(),
                check_id: drift.check_id.to_owned(),
                seen,
                seq: found.and_then(|b| at(b, "/seq").as_u64()),
                line,
            });
        }
        Ok(outcomes)
    }

    /// The log line of a decision the evidence shows.
    fn describe(&self, drift: &Drift, bundle: &Value) -> String {
        let detail = at(bundle, "/detail");
        let text = |v: &Value| v.as_str().unwrap_or("?").to_owned();
        let seq = at(bundle, "/seq").as_u64().unwrap_or(0);
        match drift.step {
            "L1 fix" => format!(
                "2. L1 fix: {} {}: rule {} ran {}, verified (seq {seq}); the rule engine decides this incident in {}",
                drift.host,
                drift.check_id,
                text(at(detail, "/rule_id")),
                text(at(detail, "/runbook_id")),
                l1_decision_time(drift.check_id, drift.host).map_or_else(
                    |e| format!("? ({e})"),
                    |t| format!("{:.1} µs", t.as_secs_f64() * 1e6)
                ),
            ),
            "L2 decision" => {
                let label = match self.planner {
                    PlannerChoice::Scripted => "scripted local planner, not a model".to_owned(),
                    PlannerChoice::Endpoint { url, model } => format!("model {model} at {url}"),
                };
                format!(
                    "2. L2 decision ({label}): {} {}: no L1 rule matched; the planner chose {}, {} (seq {seq})",
                    drift.host,
                    drift.check_id,
                    text(at(detail, "/runbook_id")),
                    text(at(bundle, "/outcome")),
                )
            }
            "L3 escalation" => format!(
                "2. L3 escalation: {} {}: {} gate: {}; waiting for a person (seq {seq})",
                drift.host,
                drift.check_id,
                text(at(detail, "/gate")),
                text(at(detail, "/reason")),
            ),
            "deferred to the maintenance window" => format!(
                "2. deferred: {} {}: {} is disruptive; held for the maintenance window (seq {seq})",
                drift.host,
                drift.check_id,
                text(at(detail, "/runbook_id")),
            ),
            _ => format!(
                "2. rolled back: {} {}: {} ran but verification still failed, so the prior state was restored (seq {seq})",
                drift.host,
                drift.check_id,
                text(at(detail, "/runbook_id")),
            ),
        }
    }

    /// Step 4: the site's export as Central Command serves it, verified
    /// offline against the server key.
    async fn export(&self, dir: &Path, server_key: &PublicKey) -> Result<ExportOutcome> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let bytes = self
            .api
            .get_bytes(&format!("/api/sites/{}/evidence/export", self.site_id))
            .await?;
        let stamp = SystemClock.now().format("%Y%m%dT%H%M%S%3fZ");
        let path = dir.join(format!("north-valley-clinic-{stamp}.tar.gz"));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        let options = VerifyOptions {
            server_key: Some(*server_key),
        };
        let report = verify_export(&path, &options, &NoProgress)?;
        let verify_command = format!(
            "osiris evidence verify {} --server-key {}",
            path.display(),
            server_key.to_base64()
        );
        self.log.line(&format!(
            "4. export {} ({} bytes) verified offline: {} ({} bundles, {} chain(s), {} failures)",
            path.display(),
            bytes.len(),
            if report.ok { "OK" } else { "FAILED" },
            report.bundles_checked,
            report.chains.len(),
            report.failures.len()
        ));
        self.log
            .line(&format!("4. verify it yourself: {verify_command}"));
        Ok(ExportOutcome {
            path,
            verified: report.ok,
            bundles_checked: report.bundles_checked,
            verify_command,
        })
    }

    /// Step 5's tail: a sweep every `every` until Ctrl-C or `stop_after`.
    pub(super) async fn live(&self, every: Duration, stop_after: Option<Duration>) {
        let deadline = async {
            match stop_after {
                Some(after) => tokio::time::sleep(after).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return,
                _ = tokio::signal::ctrl_c() => {
                    self.log.line("Ctrl-C: stopping");
                    return;
                }
                () = tokio::time::sleep(every) => {}
            }
            match self.round().await {
                Ok(swept) => {
                    let score = self
                        .score()
                        .await
                        .map(|(s, _)| percent(s))
                        .unwrap_or_else(|e| format!("? ({e})"));
                    self.log.line(&format!(
                        "sweep: {} checks, {} pass, {} fail; {} healed, {} deferred, {} escalated; score {score}",
                        swept.checks, swept.pass, swept.fail, swept.healed, swept.deferred, swept.escalated
                    ));
                }
                Err(error) => self.log.line(&format!("sweep failed: {error:#}")),
            }
        }
    }
}

fn percent(score: Option<f64>) -> String {
    score.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.1}%"))
}

/// How long the L1 rule engine takes to decide the incident of `check_id`
/// failing on `host`: the built-in rules (the same set Central Command
/// syncs), the mean of 1,000 decisions.
fn l1_decision_time(check_id: &str, host: &str) -> Result<Duration> {
    let catalog = osiris_catalog::Catalog::embedded()?;
    let matcher = osiris_rules::builtin(&catalog)?;
    let check = catalog
        .check(check_id)
        .context("not a check of the catalog")?;
    let incident = json!({
        "check_type": check.check_type,
        "check_id": check.id,
        "title": check.title,
        "status": "fail",
        "severity": check.severity,
        "platform": check.platform.as_str(),
        "host": host,
    });
    let ledger = osiris_rules::Ledger::new();
    let now = SystemClock.now();
    const ROUNDS: u32 = 1000;
    #[expect(
        clippy::disallowed_methods,
        reason = "the demo times the rule engine on the wall clock; the engine itself reads none"
    )]
    let started = std::time::Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(
            matcher
                .decide(std::hint::black_box(&incident), &ledger, now)
                .rule_id(),
        );
    }
    Ok(started.elapsed() / ROUNDS)
}
