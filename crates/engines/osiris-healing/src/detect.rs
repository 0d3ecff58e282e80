//! Detect: one catalog check run on an open session and judged by its
//! criteria. Anything short of a clean run (transport error, timeout,
//! non-zero exit, output that is not UTF-8 or JSON) is *unknown* with the
//! reason, and unknown never heals: only a [`CheckRun`] that failed hands
//! out the [`Failed`] proof that healing demands.

use chrono::{DateTime, Utc};
use osiris_catalog::{Check, Evaluation, Finding, Outcome, Platform};
use osiris_core::Clock;
use osiris_transport::Transport;

use crate::script;
use crate::step::StepRun;

/// One run of one check on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    check_id: String,
    platform: Platform,
    host: String,
    at: DateTime<Utc>,
    evaluation: Evaluation,
    step: StepRun,
}

/// Proof that a check run failed: the only way into healing.
#[derive(Debug, Clone, Copy)]
pub struct Failed<'r> {
    run: &'r CheckRun,
}

impl<'r> Failed<'r> {
    /// The failed run.
    #[must_use]
    pub const fn run(&self) -> &'r CheckRun {
        self.run
    }
}

impl CheckRun {
    /// The check's id.
    #[must_use]
    pub fn check_id(&self) -> &str {
        &self.check_id
    }

    /// The platform the check is for.
    #[must_use]
    pub const fn platform(&self) -> Platform {
        self.platform
    }

    /// The target (inventory name).
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// When the output was judged.
    #[must_use]
    pub const fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Pass, fail or unknown.
    #[must_use]
    pub const fn outcome(&self) -> Outcome {
        self.evaluation.outcome
    }

    /// The criteria that failed or could not be decided, with reasons.
    pub const fn evaluation(&self) -> &Evaluation {
        &self.evaluation
    }

    /// The detect script's run (exit code, output digests).
    #[must_use]
    pub const fn step(&self) -> &StepRun {
        &self.step
    }

    /// Lowercase hex SHA-256 of the raw standard output.
    #[must_use]
    pub fn stdout_sha256(&self) -> String {
        osiris_evidence::Artifact::of("detect.stdout", self.step.stdout())
            .sha256()
            .to_owned()
    }

    /// The proof healing needs, only when the check failed: never for pass,
    /// never for unknown.
    #[must_use]
    pub fn failed(&self) -> Option<Failed<'_>> {
        (self.evaluation.outcome == Outcome::Fail).then_some(Failed { run: self })
    }
}

/// Runs `check`'s detect script on `session` and judges its output at the
/// clock's time once it finished.
pub async fn detect(session: &mut dyn Transport, check: &Check, clock: &dyn Clock) -> CheckRun {
    let script = script::plain(
        check.detect.shell,
        &check.detect.script,
        check.detect.timeout.as_std(),
    );
    let step = StepRun::run(session, "detect", &script).await;
    let at = clock.now();
    CheckRun {
        check_id: check.id.clone(),
        platform: check.platform,
        host: session.target().to_owned(),
        at,
        evaluation: judge(check, &step, at),
        step,
    }
}

/// The check's criteria over a detect-style step's output; any failure to
/// produce output is unknown with its reason.
pub(crate) fn judge(check: &Check, step: &StepRun, now: DateTime<Utc>) -> Evaluation {
    if let Some(reason) = step.failure() {
        return unknown(reason);
    }
    match std::str::from_utf8(step.stdout()) {
        Ok(stdout) => check.criteria.evaluate(stdout, now),
        Err(_) => unknown("detect output is not UTF-8 text".to_owned()),
    }
}

fn unknown(reason: String) -> Evaluation {
    Evaluation {
        outcome: Outcome::Unknown,
        failed: Vec::new(),
        unknown: vec![Finding {
            criterion: "output".to_owned(),
            reason,
        }],
    }
}
