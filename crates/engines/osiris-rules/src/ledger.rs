//! Per-(rule, host) memory of firings and failures, for cooldown and max retries.
//! The matcher only reads it; the caller records what actually ran.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// What happened to one rule on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// When the rule last fired there.
    pub last_fired: DateTime<Utc>,
    /// Failed attempts since the last success.
    pub failures: u32,
}

/// The firing history the matcher consults. Time is always passed in.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    by_rule: HashMap<String, HashMap<String, Entry>>,
}

impl Ledger {
    /// An empty history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `rule` fired for `host` at `at`.
    pub fn record_fired(&mut self, rule: &str, host: &str, at: DateTime<Utc>) {
        let hosts = self.by_rule.entry(rule.to_owned()).or_default();
        hosts
            .entry(host.to_owned())
            .and_modify(|entry| entry.last_fired = at)
            .or_insert(Entry {
                last_fired: at,
                failures: 0,
            });
    }

    /// Records the verified outcome of the action a rule fired: a success
    /// clears the failure count, a failure adds one.
    pub fn record_outcome(&mut self, rule: &str, host: &str, success: bool) {
        if let Some(entry) = self
            .by_rule
            .get_mut(rule)
            .and_then(|hosts| hosts.get_mut(host))
        {
            entry.failures = if success {
                0
            } else {
                entry.failures.saturating_add(1)
            };
        }
    }

    /// The history of `rule` on `host`.
    #[must_use]
    pub fn get(&self, rule: &str, host: &str) -> Option<&Entry> {
        self.by_rule.get(rule).and_then(|hosts| hosts.get(host))
    }
}
