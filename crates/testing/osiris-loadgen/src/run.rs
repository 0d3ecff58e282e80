//! The measured phases: every appliance at once, each sending its
//! check-ins one after the other, every answer checked.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use indicatif::ProgressBar;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::fleet::{Appliance, Fleet};
use crate::report::{Phase, Report};

/// What to send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) appliances: usize,
    pub(crate) checkins: usize,
    pub(crate) bundles: usize,
    pub(crate) rounds: usize,
}

impl Plan {
    /// Every count must be at least 1.
    pub(crate) fn validate(&self) -> Result<()> {
        for (name, value) in [
            ("--appliances", self.appliances),
            ("--checkins", self.checkins),
            ("--bundles", self.bundles),
            ("--rounds", self.rounds),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        Ok(())
    }
}

/// One appliance's timings of one phase.
struct Timings {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

/// Runs the rounds and pools their figures.
pub(crate) async fn run(fleet: Fleet, plan: &Plan) -> Result<Report> {
    let fleet: Vec<Arc<Appliance>> = fleet.appliances.into_iter().map(Arc::new).collect();
    let mut baseline = Phase::new("baseline: check-ins without bundles", 0);
    let mut load = Phase::new("load: check-ins with bundles", plan.bundles);
    for round in 0..plan.rounds {
        phase(&fleet, plan, None, &mut baseline).await?;
        phase(&fleet, plan, Some(round), &mut load).await?;
    }
    Ok(Report::new(plan.appliances, baseline, load))
}

/// One phase: `round` names the load round (its bundles), `None` the
/// baseline.
async fn phase(
    fleet: &[Arc<Appliance>],
    plan: &Plan,
    round: Option<usize>,
    into: &mut Phase,
) -> Result<()> {
    let total = plan.checkins * fleet.len();
    let progress =
        ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX)).with_message(into.name.clone());
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for appliance in fleet {
        let appliance = Arc::clone(appliance);
        let progress = progress.clone();
        let plan = *plan;
        tasks.spawn(async move { send(&appliance, &plan, round, &progress).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let timings = joined?;
        into.latencies.extend(timings.latencies);
        into.failures.extend(timings.failures);
    }
    into.wall += started.elapsed();
    into.checkins += total;
    progress.finish_and_clear();
    Ok(())
}

/// One appliance's check-ins of one phase.
async fn send(
    appliance: &Appliance,
    plan: &Plan,
    round: Option<usize>,
    progress: &ProgressBar,
) -> Timings {
    let mut timings = Timings {
        latencies: Vec::with_capacity(plan.checkins),
        failures: Vec::new(),
    };
    for checkin in 0..plan.checkins {
        let bundles = match round {
            Some(round) => appliance.batch(round * plan.checkins + checkin, plan.bundles),
            None => &[],
        };
        let request = appliance.request(bundles);
        let sent = Instant::now();
        let answer = appliance.uplink.checkin(&request).await;
        timings.latencies.push(sent.elapsed());
        progress.inc(1);
        match answer {
            Err(error) => timings.failures.push(error.to_string()),
            Ok(answer) if !answer.rejected.is_empty() => timings
                .failures
                .push(format!("refused bundles: {:?}", answer.rejected)),
            Ok(answer) => {
                // Seqs start at 1: the last bundle sent is seq (index + 1).
                if let Some(round) = round {
                    let last = (round * plan.checkins + checkin + 1) * plan.bundles;
                    if answer.acknowledged_through_seq != last as u64 {
                        timings.failures.push(format!(
                            "acknowledged through {} instead of {last}",
                            answer.acknowledged_through_seq
                        ));
                    }
                }
            }
        }
    }
    timings
}
