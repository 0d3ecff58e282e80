//! The simulated fleet: appliances enrolled by claim code through the
//! appliance's own client, each with the bundles it will send sealed in
//! advance, so that sealing is not measured.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::ProgressBar;
use osiris_agent::uplink::{
    Claim, Enrolment, ServerTrust, Timeouts, Uplink, UplinkSettings, enrol,
};
use osiris_core::{BundleId, Clock, Secret, SystemClock};
use osiris_evidence::{BundleDraft, Kind, Sealer};
use osiris_proto::CheckinRequest;
use serde_json::json;

use crate::admin::Admin;
use crate::run::Plan;

/// The agent version the simulated appliances report.
const AGENT_VERSION: &str = concat!("loadgen-", env!("CARGO_PKG_VERSION"));

/// One enrolled appliance and what it will send.
pub(crate) struct Appliance {
    pub(crate) uplink: Uplink,
    /// The rule set version it holds (learned at its first check-in), so
    /// that the server does not send the rule set with every answer.
    rule_set_version: Option<String>,
    /// Sealed bundle lines, in chain order, for every load check-in of
    /// every round.
    bundles: Vec<String>,
}

impl Appliance {
    /// A check-in carrying `bundles` (none for the baseline).
    pub(crate) fn request(&self, bundles: &[String]) -> CheckinRequest {
        CheckinRequest {
            appliance_id: self.uplink.identity().appliance_id,
            agent_version: AGENT_VERSION.to_owned(),
            rule_set_version: self.rule_set_version.clone(),
            bundles: bundles.to_vec(),
            incidents: Vec::new(),
            telemetry: Vec::new(),
            order_results: Vec::new(),
            inventory: Vec::new(),
        }
    }

    /// The bundles of load check-in `index` (0-based over all rounds).
    pub(crate) fn batch(&self, index: usize, size: usize) -> &[String] {
        let start = index * size;
        self.bundles.get(start..start + size).unwrap_or_default()
    }
}

/// Every appliance of the run.
pub(crate) struct Fleet {
    pub(crate) appliances: Vec<Appliance>,
}

impl Fleet {
    /// Creates a partner, a practice and one site per appliance at the
    /// server, enrols each appliance under `dir`, and seals its bundles.
    pub(crate) async fn enrol(
        admin: &Admin,
        url: &str,
        ca_file: Option<&Path>,
        dir: &Path,
        plan: &Plan,
    ) -> Result<Self> {
        let allow_http = url.starts_with("http://");
        let trust = ca_file
            .map(ServerTrust::ca_file)
            .transpose()
            .context("--ca-file")?;
        let timeouts = Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(120),
        };
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let run = BundleId::random();
        let partner = admin
            .create_id("/api/partners", json!({"name": format!("Load {run} IT")}))
            .await?;
        let client = admin
            .create_id(
                "/api/clients",
                json!({"partner_id": partner, "name": format!("Load {run} Clinic")}),
            )
            .await?;
        let progress = ProgressBar::new(u64::try_from(plan.appliances).unwrap_or(u64::MAX))
            .with_message("enrolling appliances");
        let mut appliances = Vec::with_capacity(plan.appliances);
        for index in 0..plan.appliances {
            let site = admin
                .create_id(
                    "/api/sites",
                    json!({
                        "client_id": client,
                        "name": format!("Site {index}"),
                        "settings": {
                            "maintenance_window": {"time_zone": "UTC", "starts_at": "02:00", "duration_minutes": 120},
                            "healing_mode": "heal"
                        }
                    }),
                )
                .await?;
            let created = admin
                .create(
                    &format!("/api/sites/{site}/appliances"),
                    json!({"name": format!("Appliance {index}")}),
                )
                .await?;
            let code = created
                .get("claim_code")
                .and_then(serde_json::Value::as_str)
                .context("no claim_code in the created appliance")?;
            let data_dir = dir.join(format!("appliance-{index}"));
            enrol(
                &data_dir,
                &Enrolment {
                    server_url: url.to_owned(),
                    trust: trust.clone(),
                    allow_http,
                    claim: Claim::Code(Secret::from(code.to_owned())),
                    replace_existing: false,
                    timeouts,
                },
            )
            .await
            .with_context(|| format!("enrolling appliance {index}"))?;
            let uplink = Uplink::open(
                &data_dir,
                Arc::clone(&clock),
                &UplinkSettings {
                    server_url: None,
                    trust: None,
                    allow_http,
                    timeouts,
                },
            )
            .with_context(|| format!("opening appliance {index}"))?;
            let mut appliance = Appliance {
                bundles: seal(&uplink, &*clock, plan.rounds * plan.checkins * plan.bundles)?,
                uplink,
                rule_set_version: None,
            };
            // The first check-in brings the rule set; later ones name it.
            let answer = appliance
                .uplink
                .checkin(&appliance.request(&[]))
                .await
                .with_context(|| format!("first check-in of appliance {index}"))?;
            appliance.rule_set_version = answer.rule_set.map(|set| set.version);
            appliances.push(appliance);
            progress.inc(1);
        }
        progress.finish_and_clear();
        if appliances.is_empty() {
            bail!("no appliance enrolled");
        }
        Ok(Self { appliances })
    }
}

/// Seals `count` check bundles of the appliance's chain, from its start.
fn seal(uplink: &Uplink, clock: &dyn Clock, count: usize) -> Result<Vec<String>> {
    let identity = uplink.identity();
    let mut sealer = Sealer::new(uplink.key(), identity.site_id, identity.appliance_id, None);
    let hipaa = vec!["164.308(a)(5)(ii)(B)".parse().context("citation")?];
    (0..count)
        .map(|index| {
            let draft = BundleDraft {
                bundle_id: BundleId::random(),
                created_at: clock.now(),
                kind: Kind::Check,
                host: format!("host{:02}", index % 10),
                hipaa: hipaa.clone(),
                outcome: "pass".to_owned(),
                detail: json!({
                    "check_id": "win.defender.realtime",
                    "tier": "L1",
                    "observed": {"realtime_enabled": true, "signature_age_days": 1},
                }),
                artifacts: Vec::new(),
            };
            let sealed = sealer.seal(&draft).context("sealing")?;
            String::from_utf8(sealed.into_bytes()).context("a sealed bundle is not UTF-8")
        })
        .collect()
}
