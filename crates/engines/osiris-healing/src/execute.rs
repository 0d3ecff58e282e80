//! Running a runbook: remediate → verify → confirm (verify passed) or
//! rollback (verify failed), with remediate's captured `before` state fed
//! to confirm and rollback.
//!
//! Remediate runs on the sweep's session. Verify runs over a *new* session
//! from the [`Connector`]: a change that locks the appliance out (a
//! firewall) must fail its verification, not pass over the connection that
//! made it. Confirm runs over the verifying session; rollback too, or over
//! the original session when no new one could be opened.
//!
//! Remediate must print JSON with a `before` member: without it nothing
//! can be rolled back, so the run stops there, failed, for a human.

use osiris_catalog::{Catalog, Check, Evaluation, Outcome, Platform, Runbook, Script as Step};
use osiris_core::Clock;
use osiris_evidence::Artifact;
use osiris_transport::Transport;
use serde_json::{Map, Value, json};

use crate::detect::judge;
use crate::ports::Connector;
use crate::script::{self, Captured};
use crate::step::StepRun;

/// What is about to run: a whitelisted runbook, its validated parameters,
/// the target, and the checks whose detect verifies it.
#[derive(Debug, Clone)]
pub struct Plan<'c> {
    runbook: &'c Runbook,
    platform: Platform,
    host: String,
    params: Map<String, Value>,
    verify_checks: Vec<&'c Check>,
}

/// How a runbook run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Verify passed (and confirm, if any, succeeded).
    Verified,
    /// Verify failed and rollback restored the prior state.
    RolledBack,
    /// Verify failed and rollback failed too: the host is in an unknown state.
    RollbackFailed,
    /// Remediate failed without a `before` to roll back to, confirm failed,
    /// or verify failed on a runbook that has no rollback.
    Failed {
        /// What failed.
        reason: String,
    },
}

impl Ending {
    /// The evidence outcome word.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::RolledBack => "rolled_back",
            Self::RollbackFailed => "rollback_failed",
            Self::Failed { .. } => "failed",
        }
    }

    /// Whether a human must look now: the host may be half-changed.
    #[must_use]
    pub const fn needs_human(&self) -> bool {
        matches!(self, Self::RollbackFailed | Self::Failed { .. })
    }
}

/// Everything a runbook run did.
#[derive(Debug, Clone)]
pub struct Execution {
    ending: Ending,
    steps: Vec<StepRun>,
    before: Option<Value>,
    verification: Vec<(String, Evaluation)>,
    notes: Vec<String>,
}

impl<'c> Plan<'c> {
    /// A plan to run `runbook` (already through the whitelist and
    /// parameter gates) with `params` on `host`, verified (when the runbook
    /// re-runs detect) by every check of `platform` that names the runbook:
    /// what an order, which comes without a check, needs.
    #[must_use]
    pub fn new(
        catalog: &'c Catalog,
        runbook: &'c Runbook,
        platform: Platform,
        host: &str,
        params: Map<String, Value>,
    ) -> Self {
        let verify_checks = catalog
            .checks()
            .values()
            .filter(|check| check.runbook == runbook.id && check.platform == platform)
            .collect();
        Self {
            runbook,
            platform,
            host: host.to_owned(),
            params,
            verify_checks,
        }
    }

    /// The same plan verified by `check` alone: healing an incident
    /// re-runs the check that failed, not others sharing the runbook.
    #[must_use]
    pub fn verified_by(mut self, check: &'c Check) -> Self {
        self.verify_checks = vec![check];
        self
    }

    /// The runbook.
    #[must_use]
    pub const fn runbook(&self) -> &'c Runbook {
        self.runbook
    }

    /// The target.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The parameters the steps receive.
    #[must_use]
    pub const fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    fn step_script(&self, step: &Step, captured: Option<&Captured>) -> osiris_transport::Script {
        script::runbook_step(
            step.shell,
            &step.script,
            step.timeout.as_std(),
            &self.params,
            captured,
        )
    }

    fn verify_scripts(&self) -> Vec<(Option<&'c Check>, osiris_transport::Script)> {
        let verify = &self.runbook.steps.verify;
        let timeout = verify.timeout.as_std();
        match (&verify.shell, &verify.script) {
            (Some(shell), Some(body)) if !verify.rerun_detect => {
                vec![(None, script::plain(*shell, body, timeout))]
            }
            _ => self
                .verify_checks
                .iter()
                .map(|check| {
                    (
                        Some(*check),
                        script::plain(check.detect.shell, &check.detect.script, timeout),
                    )
                })
                .collect(),
        }
    }

    /// What would run, for dry-run evidence: each step with its shell,
    /// time limit and the SHA-256 of its text (for remediate the exact text
    /// sent; confirm and rollback also receive remediate's output, so their
    /// digest is of the catalog text), the target and the parameters.
    #[must_use]
    pub fn describe(&self) -> Value {
        let steps = &self.runbook.steps;
        let mut described = vec![json!({
            "step": "remediate",
            "shell": shell_word(steps.remediate.shell),
            "timeout_seconds": steps.remediate.timeout.as_secs(),
            "script_sha256": script::digest(&self.step_script(&steps.remediate, None)),
        })];
        for (check, verify) in self.verify_scripts() {
            described.push(json!({
                "step": "verify",
                "rerun_detect": check.is_some(),
                "check_id": check.map(|c| c.id.as_str()),
                "timeout_seconds": steps.verify.timeout.as_secs(),
                "script_sha256": script::digest(&verify),
            }));
        }
        for (name, step) in [("confirm", &steps.confirm), ("rollback", &steps.rollback)] {
            if let Some(step) = step {
                described.push(json!({
                    "step": name,
                    "shell": shell_word(step.shell),
                    "timeout_seconds": step.timeout.as_secs(),
                    "catalog_sha256": script::hex(&sha256(step.script.as_bytes())),
                    "input": "remediate's output on standard input; sh also gets its before member as OSIRIS_BEFORE",
                    "when": if name == "confirm" { "verify passed" } else { "verify failed" },
                }));
            }
        }
        json!({
            "runbook_id": self.runbook.id.as_str(),
            "title": self.runbook.title,
            "target": self.host,
            "platform": self.platform.as_str(),
            "params": self.params,
            "disruptive": self.runbook.disruptive,
            "no_rollback": steps.no_rollback,
            "steps": described,
        })
    }
}

impl Execution {
    /// How it ended.
    #[must_use]
    pub const fn ending(&self) -> &Ending {
        &self.ending
    }

    /// The steps that ran, in order.
    #[must_use]
    pub fn steps(&self) -> &[StepRun] {
        &self.steps
    }

    /// The prior state remediate captured.
    #[must_use]
    pub const fn before(&self) -> Option<&Value> {
        self.before.as_ref()
    }

    /// Digests of every step's output.
    #[must_use]
    pub fn artifacts(&self) -> Vec<Artifact> {
        self.steps.iter().flat_map(StepRun::artifacts).collect()
    }

    /// The run for `detail`: steps, before, verification and ending.
    #[must_use]
    pub fn detail(&self) -> Value {
        let verification: Vec<Value> = self
            .verification
            .iter()
            .map(|(check_id, evaluation)| {
                json!({
                    "check_id": check_id,
                    "outcome": crate::l1::outcome_word(evaluation.outcome),
                    "failed": evaluation.failed,
                    "unknown": evaluation.unknown,
                })
            })
            .collect();
        json!({
            "steps": self.steps.iter().map(StepRun::detail).collect::<Vec<_>>(),
            "before": self.before,
            "verification": verification,
            "ending": self.ending.as_str(),
            "reason": match &self.ending {
                Ending::Failed { reason } => Some(reason.as_str()),
                _ => None,
            },
            "notes": self.notes,
        })
    }
}

/// Runs `plan`: remediate on `session`, the rest over a new session.
pub async fn execute(
    plan: &Plan<'_>,
    session: &mut dyn Transport,
    connector: &dyn Connector,
    clock: &dyn Clock,
) -> Execution {
    let mut run = Execution {
        ending: Ending::Verified,
        steps: Vec::new(),
        before: None,
        verification: Vec::new(),
        notes: Vec::new(),
    };
    let steps = &plan.runbook.steps;
    let remediate = StepRun::run(
        session,
        "remediate",
        &plan.step_script(&steps.remediate, None),
    )
    .await;
    let captured = remediate
        .exit_code()
        .and_then(|_| Captured::parse(remediate.stdout()));
    let remediate_failure = remediate.failure();
    run.steps.push(remediate);
    let Some(captured) = captured else {
        run.ending = Ending::Failed {
            reason: format!(
                "{}; remediate printed no JSON with a before member, so nothing can be rolled back",
                remediate_failure.unwrap_or_else(|| "remediate exited 0".to_owned())
            ),
        };
        return run;
    };
    run.before = Some(captured.before().clone());

    let mut fresh = match connector.open(&plan.host).await {
        Ok(fresh) => Some(fresh),
        Err(error) => {
            run.notes.push(format!(
                "no new session after remediate ({error}); rolling back over the original one"
            ));
            None
        }
    };
    let passed = match (&remediate_failure, fresh.as_deref_mut()) {
        (Some(failure), _) => {
            run.notes.push(format!("{failure}; verify skipped"));
            false
        }
        (None, None) => false,
        (None, Some(verifier)) => verify(plan, verifier, clock, &mut run).await,
    };

    if passed {
        if let (Some(confirm), Some(verifier)) = (&steps.confirm, fresh.as_deref_mut()) {
            let step = StepRun::run(
                verifier,
                "confirm",
                &plan.step_script(confirm, Some(&captured)),
            )
            .await;
            if let Some(failure) = step.failure() {
                run.ending = Ending::Failed {
                    reason: format!("{failure}; the provisional change may still be undone"),
                };
            }
            run.steps.push(step);
        }
    } else {
        run.ending = match &steps.rollback {
            None => Ending::Failed {
                reason: format!(
                    "verify failed and the runbook has no rollback: {}",
                    steps.no_rollback.as_deref().unwrap_or("none given")
                ),
            },
            Some(rollback) => {
                let script = plan.step_script(rollback, Some(&captured));
                let step = match fresh.as_deref_mut() {
                    Some(verifier) => StepRun::run(verifier, "rollback", &script).await,
                    None => StepRun::run(session, "rollback", &script).await,
                };
                let ending = if step.succeeded() {
                    Ending::RolledBack
                } else {
                    Ending::RollbackFailed
                };
                run.steps.push(step);
                ending
            }
        };
    }
    if let Some(fresh) = fresh
        && let Err(error) = fresh.close().await
    {
        tracing::debug!(%error, target = %plan.host, "closing the verifying session failed");
    }
    run
}

/// Runs the verify step(s); true when every one passes.
async fn verify(
    plan: &Plan<'_>,
    session: &mut dyn Transport,
    clock: &dyn Clock,
    run: &mut Execution,
) -> bool {
    let scripts = plan.verify_scripts();
    if scripts.is_empty() {
        run.notes.push(format!(
            "no {} check re-runs for runbook {}: verify cannot pass",
            plan.platform, plan.runbook.id
        ));
        return false;
    }
    let mut passed = true;
    for (check, script) in scripts {
        let step = StepRun::run(session, "verify", &script).await;
        let (name, outcome) = match check {
            Some(check) => {
                let evaluation = judge(check, &step, clock.now());
                let outcome = evaluation.outcome;
                run.verification.push((check.id.clone(), evaluation));
                (check.id.clone(), outcome)
            }
            None => ("verify".to_owned(), own_verdict(&step)),
        };
        if outcome != Outcome::Pass {
            run.notes.push(format!("verify by {name} did not pass"));
            passed = false;
        }
        run.steps.push(step);
    }
    passed
}

/// A runbook's own verify script passes when it exits 0 and prints the
/// detect envelope with `ok: true`.
fn own_verdict(step: &StepRun) -> Outcome {
    if !step.succeeded() {
        return Outcome::Unknown;
    }
    let ok = std::str::from_utf8(step.stdout())
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')).ok())
        .and_then(|document| document.get("ok").and_then(Value::as_bool));
    match ok {
        Some(true) => Outcome::Pass,
        Some(false) => Outcome::Fail,
        None => Outcome::Unknown,
    }
}

const fn shell_word(shell: osiris_catalog::Shell) -> &'static str {
    match shell {
        osiris_catalog::Shell::Powershell => "powershell",
        osiris_catalog::Shell::Sh => "sh",
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
