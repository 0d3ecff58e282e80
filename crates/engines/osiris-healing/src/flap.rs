//! Flap detection: a check that keeps failing again soon after it was
//! healed is being reverted by something (a group policy, a configuration
//! manager, a person). Healing it again would fight that forever, so a
//! flapping incident is escalated instead.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// One episode of an incident: when it opened and, if it did, when it was
/// resolved (the check passed again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    /// When the check started failing.
    pub opened_at: DateTime<Utc>,
    /// When it passed again; `None` while still open.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// When an incident counts as flapping: `reopenings` or more reopenings
/// (an episode opening after an earlier one was resolved) within `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapPolicy {
    /// How many reopenings make it flapping.
    pub reopenings: u32,
    /// Over how long they are counted, back from now.
    pub within: Duration,
}

impl FlapPolicy {
    /// Three reopenings within 24 hours.
    pub const STANDARD: Self = Self {
        reopenings: 3,
        within: Duration::hours(24),
    };
}

/// What the history says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[must_use]
pub struct Flapping {
    /// Reopenings counted within the policy's span.
    pub reopenings: u32,
    /// Whether that reaches the policy's threshold.
    pub flapping: bool,
}

/// Counts the reopenings of an incident in `history` (episodes in any
/// order) within `policy.within` before `now`. An episode is a reopening
/// when an earlier episode had been resolved by the time it opened.
pub fn flapping(history: &[Episode], policy: FlapPolicy, now: DateTime<Utc>) -> Flapping {
    let mut episodes = history.to_vec();
    episodes.sort_by_key(|e| e.opened_at);
    let since = now - policy.within;
    let mut resolved_before = false;
    let mut reopenings = 0_u32;
    for episode in &episodes {
        if resolved_before && episode.opened_at > since && episode.opened_at <= now {
            reopenings = reopenings.saturating_add(1);
        }
        resolved_before |= episode
            .resolved_at
            .is_some_and(|resolved| resolved >= episode.opened_at);
    }
    Flapping {
        reopenings,
        flapping: reopenings >= policy.reopenings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        "2024-06-15T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(hours)
    }

    fn episode(opened: i64, resolved: Option<i64>) -> Episode {
        Episode {
            opened_at: at(opened),
            resolved_at: resolved.map(at),
        }
    }

    fn check(history: &[Episode], now: i64) -> (u32, bool) {
        let result = flapping(history, FlapPolicy::STANDARD, at(now));
        (result.reopenings, result.flapping)
    }

    #[test]
    fn a_first_failure_is_not_flapping() {
        assert_eq!(check(&[episode(0, None)], 1), (0, false));
        assert_eq!(check(&[], 1), (0, false));
    }

    #[test]
    fn three_reopenings_within_a_day_are_flapping() {
        let history = [
            episode(0, Some(1)),
            episode(2, Some(3)),
            episode(4, Some(5)),
            episode(6, None),
        ];
        assert_eq!(check(&history, 6), (3, true));
        // Two reopenings are not yet.
        assert_eq!(check(&history[..3], 4), (2, false));
    }

    #[test]
    fn reopenings_older_than_the_span_do_not_count() {
        let history = [
            episode(0, Some(1)),
            episode(2, Some(3)),
            episode(4, Some(5)),
            episode(30, None),
        ];
        // At hour 30 the reopenings at 2 and 4 are more than 24 h old.
        assert_eq!(check(&history, 30), (1, false));
    }

    #[test]
    fn the_order_of_the_history_does_not_matter() {
        let history = [
            episode(6, None),
            episode(2, Some(3)),
            episode(0, Some(1)),
            episode(4, Some(5)),
        ];
        assert_eq!(check(&history, 6), (3, true));
    }

    #[test]
    fn an_incident_that_never_resolved_is_not_flapping() {
        // Episodes recorded without resolution (a restart lost it) are not reopenings.
        let history = [episode(0, None), episode(2, None), episode(4, None)];
        assert_eq!(check(&history, 5), (0, false));
    }
}
