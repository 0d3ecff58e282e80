//! Recording the simulated sweeps as real evidence: the appliance's local
//! log (one canonical bundle per line, fsynced per sweep) and the server's
//! checkpoints of it.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Timelike, Utc};
use osiris_core::{ApplianceId, BundleId, Clock, ManualClock};
use osiris_evidence::parse::parse_bundle;
use osiris_evidence::{Artifact, BundleDraft, ChainHead, Checkpoint, KeyPair, Kind, Sealer};
use serde_json::{Value, json};

use super::Identity;
use osiris_catalog::{Catalog, Disruptive};

use super::practice::{self, Check, Drift, HOSTS, Host};

/// The appliance's append-only evidence log.
pub(super) struct EvidenceLog {
    path: PathBuf,
    checkpoints_path: PathBuf,
    head: Option<ChainHead>,
    first_created_at: Option<DateTime<Utc>>,
    last_created_at: Option<DateTime<Utc>>,
    len: u64,
}

impl EvidenceLog {
    pub(super) fn open(dir: &Path, appliance: &ApplianceId) -> Result<Self> {
        let path = dir.join(format!("{appliance}.jsonl"));
        let mut log = Self {
            checkpoints_path: dir.join(format!("{appliance}.checkpoints.json")),
            path,
            head: None,
            first_created_at: None,
            last_created_at: None,
            len: 0,
        };
        if !log.path.exists() {
            return Ok(log);
        }
        let file =
            File::open(&log.path).with_context(|| format!("opening {}", log.path.display()))?;
        for (index, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.with_context(|| format!("reading {}", log.path.display()))?;
            let bundle = parse_bundle(&line).map_err(|e| {
                anyhow::anyhow!(
                    "{}:{}: {e}; run `osiris demo --fresh` to start a new chain",
                    log.path.display(),
                    index + 1
                )
            })?;
            log.first_created_at.get_or_insert(bundle.created_at);
            log.last_created_at = Some(bundle.created_at);
            log.head = Some(ChainHead {
                seq: bundle.seq,
                hash: bundle.hash,
            });
            log.len += 1;
        }
        Ok(log)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) const fn len(&self) -> u64 {
        self.len
    }

    pub(super) const fn first_created_at(&self) -> Option<DateTime<Utc>> {
        self.first_created_at
    }

    pub(super) const fn last_created_at(&self) -> Option<DateTime<Utc>> {
        self.last_created_at
    }

    /// Appends sealed bundles and fsyncs: once this returns they survive a crash.
    fn append(&mut self, bundles: &[(osiris_evidence::SealedBundle, DateTime<Utc>)]) -> Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))?;
        let mut buffer = Vec::new();
        for (bundle, created_at) in bundles {
            buffer.extend_from_slice(bundle.bytes());
            buffer.push(b'\n');
            self.first_created_at.get_or_insert(*created_at);
            self.last_created_at = Some(*created_at);
            self.head = Some(ChainHead {
                seq: bundle.seq(),
                hash: bundle.hash(),
            });
            self.len += 1;
        }
        file.write_all(&buffer)
            .with_context(|| format!("writing {}", self.path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", self.path.display()))
    }

    pub(super) fn bundles(&self) -> Result<Vec<Vec<u8>>> {
        let bytes =
            fs::read(&self.path).with_context(|| format!("reading {}", self.path.display()))?;
        Ok(bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    pub(super) fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        if !self.checkpoints_path.exists() {
            return Ok(Vec::new());
        }
        let text = fs::read_to_string(&self.checkpoints_path)
            .with_context(|| format!("reading {}", self.checkpoints_path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a checkpoint list", self.checkpoints_path.display()))
    }

    /// Records a server checkpoint of the current head (atomic replace).
    fn checkpoint(
        &self,
        server_key: &KeyPair,
        appliance: ApplianceId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let Some(head) = self.head else { return Ok(()) };
        let mut all = self.checkpoints()?;
        if all.last().is_some_and(|c| c.seq() == head.seq) {
            return Ok(());
        }
        all.push(Checkpoint::sign(appliance, head, at, server_key)?);
        let partial = self.checkpoints_path.with_extension("json.partial");
        fs::write(&partial, serde_json::to_vec_pretty(&all)?)
            .with_context(|| format!("writing {}", partial.display()))?;
        fs::rename(&partial, &self.checkpoints_path)
            .with_context(|| format!("replacing {}", self.checkpoints_path.display()))
    }
}

/// What the sweeps recorded.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) new_bundles: u64,
    pub(super) checks: u64,
    pub(super) pass: u64,
    pub(super) fail: u64,
    pub(super) unknown: u64,
    pub(super) fixed: u64,
    pub(super) rolled_back: u64,
    pub(super) deferred: u64,
    pub(super) escalated: u64,
    last_sweep_passing: u64,
    last_sweep_total: u64,
}

impl Stats {
    pub(super) fn compliance_percent(&self) -> f64 {
        if self.last_sweep_total == 0 {
            return 0.0;
        }
        // Counts are small; the conversion is exact.
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let ratio = self.last_sweep_passing as f64 / self.last_sweep_total as f64;
        (ratio * 1000.0).round() / 10.0
    }
}

pub(super) struct Recorder<'a> {
    catalog: &'a Catalog,
    sealer: Sealer<'a>,
    identity: &'a Identity,
    log: &'a mut EvidenceLog,
    server_key: &'a KeyPair,
    stats: Stats,
}

impl<'a> Recorder<'a> {
    pub(super) fn new(
        key: &'a KeyPair,
        identity: &'a Identity,
        log: &'a mut EvidenceLog,
        server_key: &'a KeyPair,
        catalog: &'a Catalog,
    ) -> Result<Self> {
        let sealer = Sealer::new(key, identity.site_id, identity.appliance_id, log.head);
        Ok(Self {
            catalog,
            sealer,
            identity,
            log,
            server_key,
            stats: Stats::default(),
        })
    }

    /// One sweep of every host at the clock's time; the server checkpoints
    /// the chain once a day.
    pub(super) fn sweep(&mut self, clock: &ManualClock) -> Result<()> {
        let at = clock.now();
        let mut sealed = Vec::new();
        let (mut passing, mut total) = (0, 0);
        let mut offset = 0;
        for host in &HOSTS {
            for check in practice::checks_for(self.catalog, host) {
                let drift = practice::drift(&self.identity.site_id.to_string(), host, &check, at);
                for draft in drafts(host, &check, drift, at, &mut offset) {
                    self.count(&draft);
                    let bundle = self.sealer.seal(&draft)?;
                    sealed.push((bundle, draft.created_at));
                }
                total += 1;
                if drift == Drift::Compliant || (drift == Drift::Fixable && heals_now(&check, at)) {
                    passing += 1;
                }
            }
        }
        self.stats.new_bundles += u64::try_from(sealed.len()).unwrap_or(0);
        self.stats.last_sweep_passing = passing;
        self.stats.last_sweep_total = total;
        self.log.append(&sealed)?;
        if at.hour() < 4 {
            self.log.checkpoint(
                self.server_key,
                self.identity.appliance_id,
                at + Duration::minutes(30),
            )?;
        }
        Ok(())
    }

    fn count(&mut self, draft: &BundleDraft) {
        let stats = &mut self.stats;
        match (draft.kind, draft.outcome.as_str()) {
            (Kind::Check, "pass") => {
                stats.checks += 1;
                stats.pass += 1;
            }
            (Kind::Check, "fail") => {
                stats.checks += 1;
                stats.fail += 1;
            }
            (Kind::Check, _) => {
                stats.checks += 1;
                stats.unknown += 1;
            }
            (Kind::Remediation, "verified") => stats.fixed += 1,
            (Kind::Remediation, "rolled_back") => stats.rolled_back += 1,
            (Kind::Remediation, _) => stats.deferred += 1,
            (Kind::Escalation, _) => stats.escalated += 1,
            _ => {}
        }
    }

    /// The server's closing checkpoint of the head.
    pub(super) fn finish(self, now: DateTime<Utc>) -> Result<Stats> {
        self.log
            .checkpoint(self.server_key, self.identity.appliance_id, now)?;
        Ok(self.stats)
    }
}

/// Whether L1 may run the check's runbook at `at`: always for
/// non-disruptive runbooks, inside the maintenance window for disruptive
/// ones, never for those a human must approve.
fn heals_now(check: &Check<'_>, at: DateTime<Utc>) -> bool {
    match check.disruptive {
        Disruptive::No => true,
        Disruptive::Yes => practice::in_maintenance_window(at),
        Disruptive::Approval => false,
    }
}

/// The bundles one check produces at one sweep.
fn drafts(
    host: &Host,
    check: &Check<'_>,
    drift: Drift,
    at: DateTime<Utc>,
    offset: &mut i64,
) -> Vec<BundleDraft> {
    let (id, runbook) = (check.check.id.as_str(), check.check.runbook.as_str());
    let mut next = |kind: Kind, outcome: &str, detail: Value, output: &Value| {
        *offset += 1;
        let raw = output.to_string();
        BundleDraft {
            bundle_id: BundleId::random(),
            created_at: at + Duration::seconds(*offset),
            kind,
            host: host.name.into(),
            hipaa: check.check.hipaa.iter().map(|h| h.cite.clone()).collect(),
            outcome: outcome.into(),
            detail,
            artifacts: vec![Artifact::of("stdout", raw.as_bytes())],
        }
    };
    let facts =
        |compliant: bool| json!({"check": id, "ok": true, "facts": {"compliant": compliant}});
    let check_detail = |state: &str| json!({"check_id": id, "title": check.check.title, "platform": host.platform.as_str(), "role": host.role, "state": state, "simulated": true});
    let with = |mut base: Value, extra: Value| {
        if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
            base.extend(extra);
        }
        base
    };
    let action = json!({"check_id": id, "runbook_id": runbook, "tier": "L1", "rule_id": format!("L1-{runbook}"), "simulated": true});
    let ticket = |reason: &str| json!({"check_id": id, "runbook_id": runbook, "tier": "L3", "channel": "email", "reason": reason, "simulated": true});
    match drift {
        Drift::Compliant => vec![next(
            Kind::Check,
            "pass",
            check_detail("compliant"),
            &facts(true),
        )],
        Drift::Unreachable => {
            let output =
                json!({"check": id, "ok": false, "error": "the remote operation timed out"});
            vec![next(
                Kind::Check,
                "unknown",
                check_detail("facts could not be collected; unknown never heals"),
                &output,
            )]
        }
        Drift::Fixable | Drift::Stubborn => {
            let mut out = vec![next(
                Kind::Check,
                "fail",
                check_detail("drifted"),
                &facts(false),
            )];
            if check.disruptive == Disruptive::Approval {
                let detail = ticket("the runbook needs a human's approval before it runs");
                out.push(next(
                    Kind::Escalation,
                    "escalated",
                    detail,
                    &json!({"approval": "requested"}),
                ));
            } else if !heals_now(check, at) {
                let detail = with(
                    action,
                    json!({"reason": "disruptive runbook deferred to the maintenance window (01:00-05:00 UTC)"}),
                );
                out.push(next(
                    Kind::Remediation,
                    "deferred",
                    detail,
                    &json!({"deferred": true}),
                ));
            } else if drift == Drift::Fixable {
                let detail = with(
                    action,
                    json!({"pre": {"compliant": false}, "post": {"compliant": true}}),
                );
                out.push(next(Kind::Remediation, "verified", detail, &facts(true)));
            } else {
                let detail = with(
                    action,
                    json!({"pre": {"compliant": false}, "post": {"compliant": false, "verify": "failed", "rollback": "restored prior state"}}),
                );
                out.push(next(
                    Kind::Remediation,
                    "rolled_back",
                    detail,
                    &facts(false),
                ));
                let detail = ticket("L1 fix failed verification and was rolled back");
                out.push(next(
                    Kind::Escalation,
                    "escalated",
                    detail,
                    &json!({"ticket": "queued"}),
                ));
            }
            out
        }
    }
}
