//! The test world: a small catalog of Debian checks and runbooks whose
//! scripts are markers (`echo DETECT av`), a scripted in-memory host that
//! answers each marker with queued replies, a connector opening more
//! sessions to it, a recorder keeping every draft, a nonce log, and a
//! healer over all of them on a manual clock.
//!
//! Real hosts run the catalog's real scripts in the app's end-to-end tests
//! and in the lab and SSH adapter tests; here only the engine's decisions
//! are under test.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc, Weekday};
use osiris_catalog::{Catalog, SourceFile};
use osiris_core::{ApplianceId, ManualClock, SiteId};
use osiris_evidence::{BundleDraft, Kind};
use osiris_healing::{
    BoxError, BoxFuture, Connector, FlapPolicy, Healer, HealerParts, MaintenanceWindow, Mode,
    NonceLog, Policy, Recorder,
};
use osiris_limits::{InProcessLimiter, Quota};
use osiris_rules::{Matcher, RuleSetBuilder, RuleSource};
use osiris_scrub::{ScrubConfig, ScrubKey, Scrubbed, Scrubber};
use osiris_transport::{Output, Script, Transport};
use serde_json::{Value, json};

/// Monday 2024-06-17 12:00 EDT.
pub(crate) const NOW: &str = "2024-06-17T16:00:00Z";

pub(crate) fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

const HIPAA: &str = "hipaa:
  - cite: '164.308(a)(5)(ii)(B)'
    name: Protection from malicious software
    kind: addressable
";

fn check(id: &str, check_type: &str, marker: &str, runbook: &str) -> SourceFile {
    SourceFile {
        path: format!("checks/linux/{}.yaml", id.replace('.', "-")),
        text: format!(
            "id: {id}
title: Test check {marker}
platform: debian
check_type: {check_type}
severity: high
{HIPAA}detect:
  shell: sh
  timeout: 30s
  script: echo DETECT {marker}
criteria:
  pass_if:
    - id: running
      description: the service is running
      path: facts.running
      op: eq
      value: true
runbook: {runbook}
"
        ),
    }
}

fn runbook(id: &str, marker: &str, disruptive: &str, extra: &str, params: &str) -> SourceFile {
    SourceFile {
        path: format!("runbooks/linux/{id}.yaml"),
        text: format!(
            "id: {id}
title: Test runbook {marker}
description: Fixes {marker} for the tests.
platforms: [debian]
disruptive: {disruptive}
parameters:
  type: object
  additionalProperties: false
{params}steps:
  remediate:
    shell: sh
    timeout: 5m
    script: echo REMEDIATE {marker}
  verify:
    rerun_detect: true
    timeout: 2m
{extra}"
        ),
    }
}

fn rollback(marker: &str) -> String {
    format!(
        "  rollback:
    shell: sh
    timeout: 5m
    script: echo ROLLBACK {marker}
"
    )
}

fn confirm(marker: &str) -> String {
    format!(
        "  confirm:
    shell: sh
    timeout: 1m
    script: echo CONFIRM {marker}
"
    )
}

const RULES: &str = "format: osiris.rules.v1
rules:
  - id: L1-T-AV
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: antivirus }
      - { field: status, operator: eq, value: fail }
    action: run_runbook
    action_params: { runbook_id: RB-DEB-TAV-001, phases: [remediate, verify] }
    priority: 10
    cooldown_seconds: 300
    max_retries: 2
  - id: L1-T-BACKUP
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: backup }
    action: run_runbook
    action_params: { runbook_id: RB-DEB-TBACKUP-001 }
    priority: 20
  - id: L1-T-FW
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: firewall }
    action: run_runbook
    action_params: { runbook_id: RB-DEB-TFW-001 }
    priority: 20
  - id: L1-T-LOG
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: logging }
    action: run_runbook
    action_params: { runbook_id: RB-DEB-TLOG-001 }
    priority: 20
  - id: L1-T-ENC
    platform: debian
    conditions:
      - { field: check_type, operator: eq, value: encryption }
    action: escalate
    action_params: { runbook_id: RB-DEB-TAV-001 }
    priority: 20
";

/// The test catalog.
pub(crate) fn catalog() -> Catalog {
    let level = "  properties:\n    level: { type: integer, minimum: 1, maximum: 3 }\n";
    let ip = "  required: [osiris_ip]\n  properties:\n    osiris_ip: { type: string }\n";
    let mut tav_extra = confirm("tav");
    tav_extra.push_str(&rollback("tav"));
    let mut tfw_extra = confirm("tfw");
    tfw_extra.push_str(&rollback("tfw"));
    let files = vec![
        check("deb.test.av", "antivirus", "av", "RB-DEB-TAV-001"),
        check("deb.test.backup", "backup", "backup", "RB-DEB-TBACKUP-001"),
        check(
            "deb.test.firewall",
            "firewall",
            "firewall",
            "RB-DEB-TFW-001",
        ),
        check("deb.test.logging", "logging", "logging", "RB-DEB-TLOG-001"),
        check("deb.test.orphan", "accounts", "orphan", "RB-DEB-TAV-001"),
        check(
            "deb.test.encryption",
            "encryption",
            "encryption",
            "RB-DEB-TAV-001",
        ),
        runbook("RB-DEB-TAV-001", "tav", "false", &tav_extra, level),
        runbook(
            "RB-DEB-TBACKUP-001",
            "tbackup",
            "true",
            "  no_rollback: a backup run changes nothing to undo\n",
            "",
        ),
        runbook("RB-DEB-TFW-001", "tfw", "approval", &tfw_extra, ip),
        runbook("RB-DEB-TLOG-001", "tlog", "false", &rollback("tlog"), ""),
        SourceFile {
            path: "rules/test.yaml".to_owned(),
            text: RULES.to_owned(),
        },
    ];
    Catalog::from_sources(files).unwrap()
}

/// The rules of the test catalog.
pub(crate) fn rules(catalog: &Catalog) -> Matcher {
    osiris_rules::builtin(catalog).unwrap()
}

/// A rule set naming runbooks the catalog does not have (as a synced rule
/// set could), or one for another platform.
pub(crate) fn rogue_rules() -> Matcher {
    let yaml = "format: osiris.rules.v1
rules:
  - id: L1-ROGUE-AV
    platform: debian
    conditions: [{ field: check_type, operator: eq, value: antivirus }]
    action: run_runbook
    action_params: { runbook_id: RB-DEB-GHOST-001 }
  - id: L1-ROGUE-BACKUP
    platform: debian
    conditions: [{ field: check_type, operator: eq, value: backup }]
    action: run_runbook
    action_params: { runbook_id: RB-WIN-AV-001 }
";
    let file = osiris_catalog::parse_rule_file("synced.yaml", yaml).unwrap();
    RuleSetBuilder::new()
        .add(RuleSource::Synced, "synced.yaml", &file)
        .build()
        .unwrap()
}

/// Detect output with the `running` fact.
pub(crate) fn facts(running: bool) -> Reply {
    Reply::out(&json!({"ok": true, "facts": {"running": running}}).to_string())
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    Output(Output),
    Timeout,
    Unreachable,
}

impl Reply {
    pub(crate) fn out(stdout: &str) -> Self {
        Self::exit(0, stdout, "")
    }

    pub(crate) fn exit(code: i32, stdout: &str, stderr: &str) -> Self {
        Self::Output(Output {
            exit_code: code,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
        })
    }
}

/// One script a session ran.
#[derive(Debug, Clone)]
pub(crate) struct Ran {
    /// Which session (0: the sweep's, 1…: opened by the connector).
    pub(crate) session: usize,
    pub(crate) body: String,
    pub(crate) input: Option<Vec<u8>>,
    pub(crate) timeout: Duration,
}

#[derive(Debug, Default)]
struct HostState {
    replies: Vec<(String, VecDeque<Reply>)>,
    ran: Vec<Ran>,
    sessions: usize,
    refuse_sessions: bool,
}

/// A scripted host: scripts are answered by the first marker they contain.
#[derive(Debug, Clone, Default)]
pub(crate) struct Host {
    state: Arc<Mutex<HostState>>,
}

impl Host {
    /// Answers scripts containing `marker` with `replies` in turn, the last
    /// one repeating.
    pub(crate) fn on(&self, marker: &str, replies: Vec<Reply>) -> &Self {
        let mut state = self.state.lock().unwrap();
        state.replies.retain(|(m, _)| m != marker);
        state.replies.push((marker.to_owned(), replies.into()));
        self
    }

    /// Makes the connector fail to open new sessions.
    pub(crate) fn refuse_sessions(&self) {
        self.state.lock().unwrap().refuse_sessions = true;
    }

    /// The sweep's session.
    pub(crate) fn session(&self) -> FakeSession {
        FakeSession {
            host: self.clone(),
            name: "deb01".to_owned(),
            number: 0,
        }
    }

    /// Every script run so far.
    pub(crate) fn ran(&self) -> Vec<Ran> {
        self.state.lock().unwrap().ran.clone()
    }

    /// The runs whose script contains `marker`.
    pub(crate) fn ran_with(&self, marker: &str) -> Vec<Ran> {
        self.ran()
            .into_iter()
            .filter(|r| r.body.contains(marker))
            .collect()
    }

    /// Sessions the connector opened.
    pub(crate) fn sessions_opened(&self) -> usize {
        self.state.lock().unwrap().sessions
    }

    fn answer(
        &self,
        session: usize,
        name: &str,
        script: &Script,
    ) -> Result<Output, osiris_transport::Error> {
        let mut state = self.state.lock().unwrap();
        state.ran.push(Ran {
            session,
            body: script.body.clone(),
            input: script.input.clone(),
            timeout: script.timeout,
        });
        let reply = state
            .replies
            .iter_mut()
            .find(|(marker, _)| script.body.contains(marker.as_str()))
            .and_then(|(_, replies)| {
                if replies.len() > 1 {
                    replies.pop_front()
                } else {
                    replies.front().cloned()
                }
            });
        match reply {
            Some(Reply::Output(output)) => Ok(output),
            Some(Reply::Timeout) => Err(osiris_transport::Error::Timeout {
                target: name.to_owned(),
                after: script.timeout,
            }),
            Some(Reply::Unreachable) => Err(osiris_transport::Error::Unreachable {
                target: name.to_owned(),
                reason: "connection reset".to_owned(),
            }),
            None => Ok(Output {
                exit_code: 127,
                stdout: Vec::new(),
                stderr: b"sh: not found".to_vec(),
            }),
        }
    }
}

/// A session to the scripted host.
#[derive(Debug)]
pub(crate) struct FakeSession {
    host: Host,
    name: String,
    number: usize,
}

impl Transport for FakeSession {
    fn target(&self) -> &str {
        &self.name
    }

    fn run<'a>(
        &'a mut self,
        script: &'a Script,
    ) -> BoxFuture<'a, Result<Output, osiris_transport::Error>> {
        let answer = self.host.answer(self.number, &self.name, script);
        Box::pin(async move { answer })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), osiris_transport::Error>> {
        Box::pin(async { Ok(()) })
    }
}

impl Connector for Host {
    fn open<'a>(
        &'a self,
        target: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn Transport>, osiris_transport::Error>> {
        let opened = {
            let mut state = self.state.lock().unwrap();
            if state.refuse_sessions {
                Err(osiris_transport::Error::Unreachable {
                    target: target.to_owned(),
                    reason: "connection refused".to_owned(),
                })
            } else {
                state.sessions += 1;
                Ok(state.sessions)
            }
        };
        let host = self.clone();
        Box::pin(async move {
            let number = opened?;
            let session: Box<dyn Transport> = Box::new(FakeSession {
                host,
                name: target.to_owned(),
                number,
            });
            Ok(session)
        })
    }
}

/// Keeps every scrubbed draft; can be made to refuse.
#[derive(Debug, Default)]
pub(crate) struct Drafts {
    drafts: Mutex<Vec<BundleDraft>>,
    full: Mutex<bool>,
}

impl Drafts {
    pub(crate) fn all(&self) -> Vec<BundleDraft> {
        self.drafts.lock().unwrap().clone()
    }

    pub(crate) fn last(&self) -> BundleDraft {
        self.all().pop().expect("a bundle was recorded")
    }

    pub(crate) fn of(&self, kind: Kind) -> Vec<BundleDraft> {
        self.all().into_iter().filter(|d| d.kind == kind).collect()
    }

    pub(crate) fn fill(&self) {
        *self.full.lock().unwrap() = true;
    }
}

impl Recorder for Drafts {
    fn record(&self, draft: Scrubbed<BundleDraft>) -> BoxFuture<'_, Result<u64, BoxError>> {
        let result = if *self.full.lock().unwrap() {
            Err(BoxError::from("queue full"))
        } else {
            let mut drafts = self.drafts.lock().unwrap();
            drafts.push(draft.into_inner());
            Ok(drafts.len() as u64)
        };
        Box::pin(async move { result })
    }
}

/// Nonces in memory.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    seen: Mutex<BTreeMap<String, DateTime<Utc>>>,
}

impl Nonces {
    pub(crate) fn len(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl NonceLog for Nonces {
    fn contains<'a>(&'a self, nonce: &'a str) -> BoxFuture<'a, Result<bool, BoxError>> {
        let seen = self.seen.lock().unwrap().contains_key(nonce);
        Box::pin(async move { Ok(seen) })
    }

    fn insert<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<bool, BoxError>> {
        let mut seen = self.seen.lock().unwrap();
        let fresh = !seen.contains_key(nonce);
        if fresh {
            seen.insert(nonce.to_owned(), expires_at);
        }
        Box::pin(async move { Ok(fresh) })
    }
}

/// Saturday 22:00 to Sunday 02:00, New York.
pub(crate) fn window() -> MaintenanceWindow {
    MaintenanceWindow::new(
        chrono_tz::America::New_York,
        vec![Weekday::Sat],
        NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
    )
    .unwrap()
}

pub(crate) fn policy(mode: Mode) -> Policy {
    Policy {
        mode,
        window: window(),
        host_actions: Quota::new(4, TimeDelta::hours(1)).unwrap(),
        site_actions: Quota::new(30, TimeDelta::hours(1)).unwrap(),
        flapping: FlapPolicy::STANDARD,
        runbook_params: BTreeMap::from([(
            "RB-DEB-TFW-001".parse().unwrap(),
            json!({"osiris_ip": "10.0.0.5"})
                .as_object()
                .unwrap()
                .clone(),
        )]),
    }
}

/// A healer over the test world.
pub(crate) struct World {
    pub(crate) healer: Healer,
    pub(crate) host: Host,
    pub(crate) drafts: Arc<Drafts>,
    pub(crate) nonces: Arc<Nonces>,
    pub(crate) clock: ManualClock,
    pub(crate) appliance_id: ApplianceId,
}

impl World {
    pub(crate) fn new(mode: Mode) -> Self {
        Self::with(policy(mode), None)
    }

    pub(crate) fn with(policy: Policy, rules: Option<Matcher>) -> Self {
        let catalog = catalog();
        let rules = rules.unwrap_or_else(|| self::rules(&catalog));
        let drafts = Arc::new(Drafts::default());
        let nonces = Arc::new(Nonces::default());
        let clock = ManualClock::new(now());
        let site_id = SiteId::random();
        let appliance_id = ApplianceId::random();
        let scrubber =
            Scrubber::new(&ScrubKey::from_bytes([7; 32]), &ScrubConfig::it_evidence()).unwrap();
        let healer = Healer::new(HealerParts {
            site_id,
            appliance_id,
            catalog: Arc::new(catalog),
            rules: Arc::new(rules),
            policy,
            scrubber: Arc::new(scrubber),
            limiter: Arc::new(InProcessLimiter::new()),
            recorder: Arc::clone(&drafts) as Arc<dyn Recorder>,
            nonces: Arc::clone(&nonces) as Arc<dyn NonceLog>,
            clock: Arc::new(clock.clone()),
        });
        Self {
            healer,
            host: Host::default(),
            drafts,
            nonces,
            clock,
            appliance_id,
        }
    }

    /// Runs a check by id on the sweep's session.
    pub(crate) async fn check(&self, check_id: &str) -> osiris_healing::CheckReport {
        let check = self.healer.catalog().check(check_id).unwrap().clone();
        let mut session = self.host.session();
        self.healer.check(&mut session, &check).await.unwrap()
    }

    /// Runs a check that must fail, then heals it with `history`.
    pub(crate) async fn heal_with(
        &self,
        check_id: &str,
        history: &[osiris_healing::Episode],
    ) -> osiris_healing::HealReport {
        let report = self.check(check_id).await;
        let failed = report.run.failed().expect("the check failed");
        let mut session = self.host.session();
        self.healer
            .heal(&mut session, &self.host, failed, history)
            .await
            .unwrap()
    }

    /// Runs a check that must fail, then heals it (first failure).
    pub(crate) async fn heal(&self, check_id: &str) -> osiris_healing::HealReport {
        self.heal_with(check_id, &[]).await
    }
}

/// `detail[key]` of a draft.
pub(crate) fn detail<'d>(draft: &'d BundleDraft, key: &str) -> &'d Value {
    &draft.detail[key]
}
