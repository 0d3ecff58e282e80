//! The [`Matcher`]: compiled rules in priority order with an index on the most
//! common `eq` field, so a decision touches only the rules that can match.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use osiris_catalog::rules::{RuleFile, RuleSource};
use serde::Serialize;
use serde_json::Value;

use crate::compile::{Rule, compile, lookup};
use crate::ledger::Ledger;
use crate::{Error, Problem};

/// Collects rule files from their sources, applies overrides, compiles.
#[derive(Debug, Default)]
pub struct RuleSetBuilder {
    chosen: BTreeMap<String, (RuleSource, String, osiris_catalog::rules::RuleSpec)>,
    problems: Vec<Problem>,
}

impl RuleSetBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the rules of one parsed file. A rule replaces one with the same id
    /// from a lower source (builtin < synced < promoted); the same id twice in
    /// one source is a problem.
    #[must_use]
    pub fn add(mut self, source: RuleSource, file: &str, rules: &RuleFile) -> Self {
        for spec in &rules.rules {
            let source = spec.source.unwrap_or(source);
            match self.chosen.get(&spec.id) {
                Some((existing, other, _)) if *existing == source => self.problems.push(Problem {
                    file: file.to_owned(),
                    rule: spec.id.clone(),
                    path: "id".to_owned(),
                    message: format!(
                        "duplicate rule id {:?} from the same source, also in {other}",
                        spec.id
                    ),
                }),
                Some((existing, _, _)) if *existing > source => {}
                _ => {
                    self.chosen
                        .insert(spec.id.clone(), (source, file.to_owned(), spec.clone()));
                }
            }
        }
        self
    }

    /// Compiles every chosen rule.
    ///
    /// # Errors
    /// [`Error::Rules`] listing each rule that does not compile and why.
    pub fn build(mut self) -> Result<Matcher, Error> {
        let mut rules = Vec::with_capacity(self.chosen.len());
        for (id, (source, file, spec)) in &self.chosen {
            match compile(spec, *source, file) {
                Ok(rule) => rules.push(rule),
                Err(problems) => {
                    self.problems
                        .extend(problems.into_iter().map(|(path, message)| Problem {
                            file: file.clone(),
                            rule: id.clone(),
                            path,
                            message,
                        }))
                }
            }
        }
        if !self.problems.is_empty() {
            return Err(Error::Rules(self.problems));
        }
        Ok(Matcher::new(rules))
    }
}

/// Rules compiled once, matched many times.
#[derive(Debug)]
pub struct Matcher {
    /// Sorted by (priority, id): lower priority first, ties broken by id so the
    /// order never depends on load order.
    rules: Vec<Rule>,
    index: Index,
}

/// Enabled rules grouped by the string their `eq` condition on one field demands.
#[derive(Debug, Default)]
struct Index {
    path: Vec<Box<str>>,
    by_value: HashMap<String, Vec<u32>>,
    rest: Vec<u32>,
}

/// Why a rule did not match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The rule is disabled.
    Disabled,
    /// The rule is for another platform.
    Platform {
        /// What the rule requires.
        expected: String,
    },
    /// The incident's severity is not in the rule's filter.
    Severity {
        /// The filter.
        allowed: Vec<String>,
    },
    /// A condition does not hold.
    Condition {
        /// Its position in the rule.
        index: usize,
        /// What was compared and found.
        detail: String,
    },
    /// The rule fired for this host too recently.
    Cooldown {
        /// Seconds until it may fire again.
        remaining_seconds: i64,
    },
    /// The rule failed too often on this host.
    RetriesExhausted {
        /// Failures since the last success.
        failures: u32,
    },
    /// A rule earlier in priority order matched first.
    NotReached,
    /// The rule is in shadow mode: it never acts (see [`Matcher::shadow`]).
    Shadow,
}

/// The result of matching one incident: the rule that matched, if any.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Decision<'m> {
    rule: Option<&'m Rule>,
}

impl<'m> Decision<'m> {
    /// The matched rule.
    #[must_use]
    pub const fn rule(&self) -> Option<&'m Rule> {
        self.rule
    }

    /// The matched rule's id.
    #[must_use]
    pub fn rule_id(&self) -> Option<&'m str> {
        self.rule.map(Rule::id)
    }

    /// The runbook the matched rule runs.
    #[must_use]
    pub fn runbook_id(&self) -> Option<&'m str> {
        self.rule.and_then(Rule::runbook_id)
    }
}

/// A decision with the reason every other rule did not match (for the
/// dashboard and evidence).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[must_use]
pub struct Explained {
    /// The matched rule id, or null.
    pub matched: Option<String>,
    /// Its runbook, or null.
    pub runbook_id: Option<String>,
    /// Its action, or null.
    pub action: Option<String>,
    /// Its action parameters, or null.
    pub action_params: Option<serde_json::Map<String, Value>>,
    /// Its source, or null.
    pub source: Option<RuleSource>,
    /// One line per rule, in priority order.
    pub explain: Vec<RuleVerdict>,
}

/// What happened to one rule for one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleVerdict {
    /// The rule id.
    pub rule: String,
    /// Its priority.
    pub priority: u32,
    /// Whether it matched.
    pub matched: bool,
    /// Why not, when it did not.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl Matcher {
    fn new(mut rules: Vec<Rule>) -> Self {
        rules.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
        let index = Index::build(&rules);
        Self { rules, index }
    }

    /// The compiled rules in priority order.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Matches an incident (a JSON object addressed by dot paths) against the
    /// rules: the first rule in priority order that is enabled, suits the
    /// platform and severity, satisfies every condition and is neither cooling
    /// down nor out of retries for the incident's `host`.
    pub fn decide(&self, incident: &Value, ledger: &Ledger, now: DateTime<Utc>) -> Decision<'_> {
        let host = host_of(incident);
        let rule = self
            .index
            .candidates(incident)
            .filter_map(|position| self.rules.get(position as usize))
            .find(|rule| self.verdict(rule, incident, ledger, host, now).is_none());
        Decision { rule }
    }

    /// What the shadow rules would do: the first shadow rule in priority
    /// order that is enabled, suits the platform and severity and whose
    /// conditions hold. A shadow rule never acts, so cooldowns and retries
    /// do not apply to it; [`Self::decide`] never returns one.
    #[must_use]
    pub fn shadow(&self, incident: &Value) -> Option<&Rule> {
        self.index
            .candidates(incident)
            .filter_map(|position| self.rules.get(position as usize))
            .filter(|rule| rule.shadow)
            .find(|rule| Self::static_verdict(rule, incident).is_none())
    }

    /// [`Self::decide`] plus the reason each other rule did not match.
    pub fn explain(&self, incident: &Value, ledger: &Ledger, now: DateTime<Utc>) -> Explained {
        let decision = self.decide(incident, ledger, now);
        let host = host_of(incident);
        let mut reached = true;
        let explain = self
            .rules
            .iter()
            .map(|rule| {
                let is_match = decision.rule.is_some_and(|m| std::ptr::eq(m, rule));
                let reason = if is_match {
                    reached = false;
                    None
                } else if reached {
                    Some(
                        self.verdict(rule, incident, ledger, host, now)
                            .unwrap_or(Reason::NotReached),
                    )
                } else {
                    Some(Reason::NotReached)
                };
                RuleVerdict {
                    rule: rule.id.clone(),
                    priority: rule.priority,
                    matched: is_match,
                    reason,
                }
            })
            .collect();
        let rule = decision.rule;
        Explained {
            matched: rule.map(|r| r.id.clone()),
            runbook_id: rule.and_then(|r| r.runbook_id.clone()),
            action: rule.map(|r| r.action.clone()),
            action_params: rule.map(|r| r.action_params.clone()),
            source: rule.map(|r| r.source),
            explain,
        }
    }

    /// `None` when the rule matches, or why it does not. Cheap checks first.
    fn verdict(
        &self,
        rule: &Rule,
        incident: &Value,
        ledger: &Ledger,
        host: &str,
        now: DateTime<Utc>,
    ) -> Option<Reason> {
        if let Some(reason) = Self::static_verdict(rule, incident) {
            return Some(reason);
        }
        if rule.shadow {
            return Some(Reason::Shadow);
        }
        if rule.cooldown_seconds == 0 && rule.max_retries.is_none() {
            return None;
        }
        let entry = ledger.get(&rule.id, host)?;
        if let Some(max) = rule.max_retries
            && entry.failures >= max
        {
            return Some(Reason::RetriesExhausted {
                failures: entry.failures,
            });
        }
        let elapsed = now.signed_duration_since(entry.last_fired).num_seconds();
        let cooldown = i64::try_from(rule.cooldown_seconds).unwrap_or(i64::MAX);
        (elapsed < cooldown).then(|| Reason::Cooldown {
            remaining_seconds: cooldown.saturating_sub(elapsed),
        })
    }

    /// The checks that do not depend on the ledger: enabled, platform,
    /// severity, conditions.
    fn static_verdict(rule: &Rule, incident: &Value) -> Option<Reason> {
        if !rule.enabled {
            return Some(Reason::Disabled);
        }
        if let Some(platform) = rule.platform
            && incident.get("platform").and_then(Value::as_str) != Some(platform.as_str())
        {
            return Some(Reason::Platform {
                expected: platform.as_str().to_owned(),
            });
        }
        if !rule.severity_filter.is_empty() {
            let severity = incident
                .get("severity")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !rule
                .severity_filter
                .iter()
                .any(|s| s.eq_ignore_ascii_case(severity))
            {
                return Some(Reason::Severity {
                    allowed: rule.severity_filter.clone(),
                });
            }
        }
        if let Some((index, condition)) = rule
            .conditions
            .iter()
            .enumerate()
            .find(|(_, c)| !c.holds(incident))
        {
            return Some(Reason::Condition {
                index,
                detail: condition.why_not(incident),
            });
        }
        None
    }
}

/// The key cooldowns and retries are counted per: the incident's `host` (or `hostname`).
fn host_of(incident: &Value) -> &str {
    incident
        .get("host")
        .or_else(|| incident.get("hostname"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

impl Index {
    fn build(rules: &[Rule]) -> Self {
        // The field most enabled rules test with a string `eq` (check_type in practice).
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for rule in rules.iter().filter(|r| r.enabled) {
            for condition in rule.conditions.iter().filter(|c| c.eq_string().is_some()) {
                *counts.entry(condition.field.as_str()).or_default() += 1;
            }
        }
        let Some((field, _)) = counts
            .iter()
            .max_by_key(|(field, count)| (**count, std::cmp::Reverse(**field)))
        else {
            return Self {
                rest: positions(rules, |_| true),
                ..Self::default()
            };
        };
        let mut index = Self {
            path: field.split('.').map(Box::from).collect(),
            ..Self::default()
        };
        for (position, rule) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let Ok(position) = u32::try_from(position) else {
                continue;
            };
            let key = rule
                .conditions
                .iter()
                .find(|c| c.field == *field)
                .and_then(|c| c.eq_string());
            match key {
                Some(value) => index
                    .by_value
                    .entry(value.to_owned())
                    .or_default()
                    .push(position),
                None => index.rest.push(position),
            }
        }
        index
    }

    /// Enabled rule positions that can match, ascending (= priority order).
    fn candidates<'a>(&'a self, incident: &Value) -> impl Iterator<Item = u32> + 'a {
        let keyed: &[u32] = lookup(incident, &self.path)
            .and_then(Value::as_str)
            .and_then(|value| self.by_value.get(value))
            .map_or(&[], Vec::as_slice);
        Merge {
            left: keyed,
            right: &self.rest,
        }
    }
}

fn positions(rules: &[Rule], keep: impl Fn(&Rule) -> bool) -> Vec<u32> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.enabled && keep(r))
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect()
}

/// Merges two ascending position lists.
struct Merge<'a> {
    left: &'a [u32],
    right: &'a [u32],
}

impl Iterator for Merge<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        match (self.left.split_first(), self.right.split_first()) {
            (Some((l, left)), Some((r, _))) if l <= r => {
                self.left = left;
                Some(*l)
            }
            (_, Some((r, right))) => {
                self.right = right;
                Some(*r)
            }
            (Some((l, left)), None) => {
                self.left = left;
                Some(*l)
            }
            (None, None) => None,
        }
    }
}
