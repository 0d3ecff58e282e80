//! Crash safety of the appliance as it ships. The real `osiris` binary runs
//! as the appliance (`osiris agent run`) against Central Command in this
//! process (HTTPS) and a simulated domain controller whose drift makes
//! every sweep record evidence. The harness kills it with SIGKILL at a
//! random moment — while it starts, while its first sweep enqueues
//! evidence, while its check-ins upload the queue four bundles at a time —
//! and starts it again on the same files, N times. Then `osiris agent
//! checkin` drains the queue and the harness asserts:
//!
//! - **Nothing is lost, the chain has no gap.** Central Command holds the
//!   appliance's chain as seq 1..=H, each seq once, H is the queue's head,
//!   every bundle verifies (the appliance's signature, the link to its
//!   predecessor, genesis for seq 1) and the queue is empty. The rule set
//!   the appliance runs has its `rule_change` bundle in the chain.
//! - **Nothing acknowledged is sent twice.** The appliance logs, at debug
//!   level, the seq range of each check-in just before the request leaves
//!   (`check-in sending`) and, once the queue has committed an answer's
//!   acknowledgement, the seq it now holds acknowledged (`acknowledgement
//!   applied`). Each line is one write to a file, made before the step it
//!   announces or after the step it reports, so a kill can lose a line but
//!   never show one early. The runs are sequential (each is reaped before
//!   the next starts), so their lines form one timeline; between two runs
//!   the harness opens the queue file itself for A, its durable
//!   `acknowledged_through`, and asks Central Command for S, the highest
//!   seq it stored. It checks that
//!   1. every request's first seq is above everything acknowledged before
//!      it: above A when its run started and above each acknowledgement
//!      logged earlier in the run;
//!   2. A never goes back, and after a kill A is at least every
//!      acknowledgement that run logged (what the appliance acted on
//!      survived the kill);
//!   3. after a kill, A ≤ S ≤ A + batch: the appliance acknowledges only
//!      what Central Command stored, and a kill loses at most the one
//!      answer in flight.
//!
//!   So the only bundles ever sent twice are those of an answer lost to a
//!   kill — stored by Central Command, seq in (A, S], while the appliance
//!   died before committing the acknowledgement. The appliance never
//!   acknowledged them; the next run sends them first and Central Command
//!   acknowledges the identical bytes again without storing them twice. The
//!   harness counts those kills and requires the run to have landed in that
//!   window, during sweeps and with a check-in in flight, so the checks
//!   above were exercised where they matter.
//!
//! ```sh
//! cargo test -p osiris --test it crash                                # 200 kills, a few minutes
//! OSIRIS_CRASH_ITERATIONS=1000 cargo test -p osiris --test it crash   # the full run
//! ```
//!
//! `OSIRIS_CRASH_SEED` replays a run's kill delays (the seed is printed;
//! the agent's own timing still varies), `OSIRIS_CRASH_KEEP=1` keeps the
//! data directory and every run's log and prints where.
//!
//! SIGKILL tests the process dying at any instruction, not the machine
//! losing power (the page cache survives a killed process); power loss is
//! the queue's `synchronous=FULL`, tested in `osiris-queue`.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use osiris_agent::state::State;
use osiris_agent::uplink::Identity;
use osiris_agent::{queue_file, state_file};
use osiris_core::SystemClock;
use osiris_evidence::ChainHash;
use osiris_evidence::parse::parse_bundle;
use osiris_queue::{Queue, QueueConfig};
use serde_json::{Value, json};

use crate::agent::{Appliance, enrolled_appliance};

/// Bundles per check-in: small, so the queue goes up in many rounds while
/// the sweep fills it.
const BATCH: u64 = 4;

/// What the agent logs: its own debug lines, the queue opening, and
/// warnings from everything else.
const LOG_FILTER: &str = "warn,osiris_agent=debug,osiris_queue=info";

/// One line of a run's log that the harness reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The queue is open: the run got through its start.
    QueueOpened,
    /// A check-in is about to send seqs `first..=last`.
    Sending { first: u64, last: u64 },
    /// An answer's acknowledgement is committed through `through`.
    Applied { through: u64 },
    /// The run's sweep finished enqueueing.
    SweepFinished,
    /// At start, the report of an incident opened by a killed run was
    /// queued.
    ReportRecovered,
    /// Something logged at ERROR.
    Error,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// SIGKILL.
    Killed,
    /// By itself (a drain's check-in).
    Exited,
}

/// Where a kill landed, for the report (one kill can count several times).
#[derive(Debug, Default)]
struct Landed {
    /// Before the queue was open.
    starting: u32,
    /// During the sweep (evidence being enqueued).
    sweeping: u32,
    /// With a check-in sent and its acknowledgement not yet committed.
    uploading: u32,
    /// After Central Command stored a batch and before the appliance
    /// committed its acknowledgement (S > A after the kill).
    losing_an_answer: u32,
}

/// What the harness knows between runs.
#[derive(Debug, Default)]
struct Timeline {
    /// The queue's durable acknowledged_through after the last run.
    acknowledged: u64,
    /// The queue's head after the last run.
    head: u64,
    /// Central Command's stored head after the last run.
    stored: u64,
    /// Central Command's index entries of the chain, in seq order.
    entries: Vec<Value>,
    landed: Landed,
    /// Bundles sent again because an answer was lost.
    resent: u64,
    /// Check-in requests seen in the logs.
    requests: u64,
    /// Incident reports queued at start for a killed run.
    recovered_reports: u64,
    kills: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sweeps_and_uploads_loses_nothing_and_resends_nothing_acknowledged() {
    let iterations: u32 = std::env::var("OSIRIS_CRASH_ITERATIONS")
        .ok()
        .map_or(200, |text| text.parse().unwrap());
    let seed: u64 = std::env::var("OSIRIS_CRASH_SEED").ok().map_or_else(
        || {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        },
        |text| text.parse().unwrap(),
    );
    println!("appliance crash test: {iterations} kills, OSIRIS_CRASH_SEED={seed}");
    let started = now();
    let mut random = XorShift(seed | 1);
    let appliance = enrolled_appliance(usize::try_from(BATCH).unwrap()).await;
    let logs = appliance.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    if std::env::var_os("OSIRIS_CRASH_KEEP").is_some() {
        println!("keeping {}", appliance.dir.path().display());
    }
    let mut timeline = Timeline::default();

    for iteration in 0..iterations {
        // The backup fails every other run, so incidents keep opening (and
        // resolving) for the whole test, each to be reported.
        appliance
            .lab
            .set_state("backup.last_result", json!(1 - iteration % 2))
            .unwrap();
        let log = logs.join(format!("run-{iteration:04}.log"));
        let mut child = appliance
            .command("run", &[])
            .env("OSIRIS_LOG", LOG_FILTER)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // A run opens its files in about 80 ms (debug build), sweeps for
        // the next 100 to 200 ms while its first check-ins upload what the
        // last run left, 60 ms each, and checks in again a second later.
        // Most kills land in the first burst, some during the start and
        // some later, in the one-second check-in.
        let delay = match random.below(10) {
            0 => random.below(80),
            1..=6 => 80 + random.below(370),
            _ => 450 + random.below(950),
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "run {iteration} exited by itself ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
        }
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.signal(), Some(9), "run {iteration}: {status}");
        let events = read_log(&log);
        timeline
            .after_run(
                &appliance,
                &format!("run {iteration}"),
                &events,
                Ending::Killed,
            )
            .await;
    }

    // Drain: one check-in at a time, as an operator would.
    for round in 0.. {
        assert!(round < 1_000, "the queue does not drain");
        let out = appliance
            .command("checkin", &["--json"])
            .env("OSIRIS_LOG", LOG_FILTER)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "drain {round}: {stderr}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        timeline
            .after_run(
                &appliance,
                &format!("drain {round}"),
                &parse_log(&stderr),
                Ending::Exited,
            )
            .await;
        if report["queued_bundles"] == 0 {
            break;
        }
    }

    let head = timeline.verify_chain(&appliance).await;
    let incidents = verify_incidents(&appliance).await;
    println!(
        "appliance crash test: {} kills in {:.0?}: {} bundles sealed and stored once each, \
         {} check-ins; kills while starting {}, sweeping {}, uploading {}, losing an answer {} \
         ({} bundles sent again, each after a lost answer); {} incidents, {} reported only at \
         the next start",
        timeline.kills,
        now() - started,
        head,
        timeline.requests,
        timeline.landed.starting,
        timeline.landed.sweeping,
        timeline.landed.uploading,
        timeline.landed.losing_an_answer,
        timeline.resent,
        incidents,
        timeline.recovered_reports,
    );
    if iterations >= 100 {
        assert!(
            timeline.landed.sweeping > 0
                && timeline.landed.uploading > 0
                && timeline.landed.losing_an_answer > 0,
            "the kills missed a window that matters: {:?}",
            timeline.landed
        );
    }
    if std::env::var_os("OSIRIS_CRASH_KEEP").is_some() {
        let kept = appliance.dir.keep();
        println!("kept {}", kept.display());
    }
}

impl Timeline {
    /// The checks after one run (killed, or a drain that ended by itself).
    async fn after_run(
        &mut self,
        appliance: &Appliance,
        context: &str,
        events: &[Event],
        ending: Ending,
    ) {
        assert!(
            !events.contains(&Event::Error),
            "{context}: the appliance logged an error"
        );
        // 1. Nothing acknowledged is read for a check-in again.
        let mut acknowledged = self.acknowledged;
        let mut in_flight = false;
        for event in events {
            match *event {
                Event::Sending { first, last } => {
                    assert!(
                        first > acknowledged,
                        "{context}: a check-in sent seqs {first}..={last} after seq {acknowledged} was acknowledged"
                    );
                    assert!(first <= last);
                    if first <= self.stored {
                        self.resent += self.stored.min(last) - first + 1;
                    }
                    self.requests += 1;
                    in_flight = true;
                }
                Event::Applied { through } => {
                    assert!(
                        through >= acknowledged,
                        "{context}: the acknowledgement went back"
                    );
                    acknowledged = through;
                    in_flight = false;
                }
                Event::ReportRecovered => self.recovered_reports += 1,
                Event::QueueOpened | Event::SweepFinished | Event::Error => {}
            }
        }

        // 2. What the appliance acted on is in its queue file.
        let (queue, identity) = open_queue(&appliance.data_dir()).await;
        let stats = queue.stats().await.unwrap();
        queue.close().await.unwrap();
        let head = stats.head.map_or(0, |h| h.seq);
        assert!(head >= self.head, "{context}: the queue's head went back");
        assert!(
            stats.acknowledged_through >= acknowledged,
            "{context}: acknowledged through {acknowledged} before the kill, {} after",
            stats.acknowledged_through
        );
        assert!(stats.acknowledged_through >= self.acknowledged);
        assert_eq!(
            identity.appliance_id.to_string(),
            appliance.site.appliance_id
        );

        // 3. Central Command stored at least what was acknowledged and at
        //    most one batch more; its chain grows without a gap.
        let new = appliance.stored_after(self.stored).await;
        for entry in new {
            let seq = entry["seq"].as_u64().unwrap();
            assert_eq!(
                seq,
                self.stored + 1,
                "{context}: Central Command's chain has a gap"
            );
            self.stored = seq;
            self.entries.push(entry);
        }
        assert!(
            self.stored >= stats.acknowledged_through,
            "{context}: the appliance acknowledged seq {} but Central Command stored only {}",
            stats.acknowledged_through,
            self.stored
        );
        assert!(
            self.stored <= stats.acknowledged_through + BATCH,
            "{context}: Central Command stored through {}, the appliance acknowledged only {}: \
             more than the one answer in flight was lost",
            self.stored,
            stats.acknowledged_through
        );
        assert!(self.stored <= head);

        if ending == Ending::Killed {
            self.kills += 1;
            if !events.contains(&Event::QueueOpened) {
                self.landed.starting += 1;
            } else if !events.contains(&Event::SweepFinished) {
                self.landed.sweeping += 1;
            }
            if in_flight {
                self.landed.uploading += 1;
            }
            if self.stored > stats.acknowledged_through {
                self.landed.losing_an_answer += 1;
            }
        }
        self.acknowledged = stats.acknowledged_through;
        self.head = head;
    }

    /// After the drain: the queue is empty and Central Command's chain is
    /// the appliance's whole chain, each bundle verified. Returns its head.
    async fn verify_chain(&self, appliance: &Appliance) -> u64 {
        let (queue, identity) = open_queue(&appliance.data_dir()).await;
        let head = queue.head().await.unwrap().unwrap();
        let pending = queue.pending(usize::MAX, usize::MAX).await.unwrap();
        queue.close().await.unwrap();
        assert!(pending.bundles.is_empty(), "bundles left in the queue");
        assert!(pending.items.is_empty(), "items left in the queue");

        let seqs: Vec<u64> = self
            .entries
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=head.seq).collect::<Vec<_>>(),
            "Central Command's chain is not 1..=head"
        );
        let key = identity.public_key;
        let mut previous = ChainHash::GENESIS;
        let mut bundle_ids = BTreeSet::new();
        let mut rule_changes = Vec::new();
        for entry in &self.entries {
            let id = entry["bundle_id"].as_str().unwrap();
            let raw = appliance.site.admin.evidence_raw(id).await;
            let bundle = parse_bundle(&raw).unwrap();
            let seq = bundle.seq;
            assert_eq!(Some(seq), entry["seq"].as_u64());
            assert_eq!(bundle.appliance_id, identity.appliance_id, "seq {seq}");
            assert_eq!(bundle.site_id, identity.site_id, "seq {seq}");
            assert_eq!(bundle.key_id, key.key_id(), "seq {seq}");
            assert!(
                key.verify_strict(&bundle.signed_message, &bundle.signature),
                "seq {seq}: the signature does not verify"
            );
            assert_eq!(bundle.prev_hash, previous, "seq {seq} does not link");
            assert_eq!(
                entry["chain_hash"].as_str(),
                Some(bundle.hash.to_string().as_str())
            );
            assert!(
                bundle_ids.insert(bundle.bundle_id),
                "seq {seq}: bundle stored twice"
            );
            previous = bundle.hash;
            let value: Value = serde_json::from_slice(&raw).unwrap();
            if value["kind"] == "rule_change" && value["outcome"] == "applied" {
                rule_changes.push(value["detail"]["version"].clone());
            }
        }
        assert_eq!(
            previous, head.hash,
            "the server's last bundle is the queue's head"
        );

        let out = appliance.run("status", &["--json"]).await;
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        let version = &status["rule_set_version"];
        assert!(version.is_string(), "{status}");
        assert!(
            rule_changes.contains(version),
            "the appliance runs rule set {version} without its rule_change bundle: {rule_changes:?}"
        );
        head.seq
    }
}

/// Every incident the appliance opened was reported: Central Command has
/// an incident for its check on the host. Returns how many it opened.
async fn verify_incidents(appliance: &Appliance) -> usize {
    let state = State::open(&state_file(&appliance.data_dir()))
        .await
        .unwrap();
    let incidents = state.incidents().await.unwrap();
    state.close().await;
    let unreported: Vec<_> = incidents.iter().filter(|i| !i.reported).collect();
    assert!(unreported.is_empty(), "never reported: {unreported:?}");
    let at_central_command = appliance
        .site
        .admin
        .incidents(&appliance.site.tenant.site)
        .await;
    for incident in &incidents {
        assert!(
            at_central_command
                .iter()
                .any(|known| known["check_id"] == incident.check_id.as_str()),
            "Central Command never heard of {incident:?}: {at_central_command:#?}"
        );
    }
    assert!(incidents.len() > 3, "the drift opened only {incidents:?}");
    incidents.len()
}

async fn open_queue(data_dir: &Path) -> (Queue, Identity) {
    let (identity, key) = Identity::load_with_key(data_dir).unwrap();
    let queue = Queue::open(
        QueueConfig::new(queue_file(data_dir), Arc::new(SystemClock)),
        key,
        identity.site_id,
        identity.appliance_id,
    )
    .await
    .unwrap_or_else(|e| panic!("the queue does not reopen: {e}"));
    (queue, identity)
}

fn read_log(path: &PathBuf) -> Vec<Event> {
    parse_log(&String::from_utf8_lossy(&std::fs::read(path).unwrap()))
}

/// The events in a run's log; a line cut by the kill is ignored.
fn parse_log(text: &str) -> Vec<Event> {
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| {
            if line.contains(" ERROR ") {
                eprintln!("{line}");
                Some(Event::Error)
            } else if line.contains("check-in sending") {
                Some(Event::Sending {
                    first: field(line, "first_seq")?,
                    last: field(line, "last_seq")?,
                })
            } else if line.contains("acknowledgement applied") {
                Some(Event::Applied {
                    through: field(line, "acknowledged_through")?,
                })
            } else if line.contains("queue opened") {
                Some(Event::QueueOpened)
            } else if line.contains("sweep finished") {
                Some(Event::SweepFinished)
            } else if line.contains("incident report queued after a restart") {
                Some(Event::ReportRecovered)
            } else {
                None
            }
        })
        .collect()
}

/// The number after ` name=` in a log line.
fn field(line: &str, name: &str) -> Option<u64> {
    let (_, rest) = line.split_once(&format!(" {name}="))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[expect(
    clippy::disallowed_methods,
    reason = "the harness reports how long it ran"
)]
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// A small deterministic generator, so a run's kill delays can be replayed.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
