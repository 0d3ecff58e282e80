//! The server's jobs on a timer while it serves: checkpoints every
//! `evidence.checkpoint_interval_minutes`, the learning evaluation every
//! `learning.evaluate_interval_minutes`, and hourly housekeeping of the
//! fleet rollups. Each job runs in its own task, first at start (to catch
//! up on what happened while the server was down), then every interval; a
//! run that overruns delays the next rather than queueing runs. The tasks
//! end when the server stops.

use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound as _, Utc};
use tokio::task::JoinHandle;

use crate::error::ApiResult;
use crate::state::AppState;

/// How often the rollups are pruned.
const HOUSEKEEPING: StdDuration = StdDuration::from_secs(3600);

/// How long hourly check counts are kept: the fleet's recent period is
/// the last 24 UTC hours, and a day more leaves room for a clock that
/// jumps back.
const HOURLY_KEPT: Duration = Duration::hours(48);

/// The running jobs.
#[derive(Debug)]
pub(crate) struct Jobs(Vec<JoinHandle<()>>);

impl Jobs {
    /// Starts every job of `state`, checkpoints and learning at the given
    /// intervals.
    pub(crate) fn start(state: &AppState, checkpoints: StdDuration, learning: StdDuration) -> Self {
        let signer = state.clone();
        let evaluator = state.clone();
        let housekeeper = state.clone();
        Self(vec![
            every(checkpoints, "checkpoints", move || {
                let state = signer.clone();
                async move {
                    let signed = crate::checkpoints::checkpoint_all(&state).await?;
                    if signed > 0 {
                        tracing::info!(signed, "checkpoints signed");
                    }
                    Ok(())
                }
            }),
            every(learning, "learning evaluation", move || {
                let state = evaluator.clone();
                async move {
                    let demoted = crate::learning::evaluate_all(&state, state.clock.now()).await?;
                    if demoted > 0 {
                        tracing::warn!(demoted, "scheduled evaluation demoted learned rules");
                    }
                    Ok(())
                }
            }),
            every(HOUSEKEEPING, "rollup housekeeping", move || {
                let state = housekeeper.clone();
                async move {
                    let before = hourly_cutoff(state.clock.now());
                    let pruned = state.store.prune_check_hours(before).await?;
                    tracing::debug!(pruned, %before, "hourly check counts pruned");
                    Ok(())
                }
            }),
        ])
    }

    /// Stops every job.
    pub(crate) fn stop(self) {
        for job in self.0 {
            job.abort();
        }
    }
}

/// The first UTC hour whose counts are kept at `now`.
fn hourly_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::hours(1)).unwrap_or(now) - HOURLY_KEPT
}

/// Runs `job` now and then every `interval` until the task is aborted; a
/// failed run is logged and the next one still comes.
fn every<F, Fut>(interval: StdDuration, name: &'static str, job: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ApiResult<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = job().await {
                tracing::warn!(job = name, error = ?error, "scheduled job failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn the_last_two_days_of_whole_hours_are_kept() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 18, 42, 7).unwrap();
        assert_eq!(
            hourly_cutoff(now),
            Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap()
        );
    }
}
