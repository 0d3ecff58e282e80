//! The appliance's own evidence (rule changes, planner decisions): one
//! bundle, scrubbed, then sealed by the queue.

use osiris_core::Clock;
use osiris_evidence::{BundleDraft, Kind};
use osiris_queue::Queue;
use osiris_scrub::Scrubber;
use serde_json::Value;

use crate::AgentError;

/// Records one bundle of `kind` about `host`; returns its seq.
///
/// # Errors
/// When the queue refuses it.
pub(crate) async fn record(
    queue: &Queue,
    scrubber: &Scrubber,
    clock: &dyn Clock,
    (kind, host, outcome): (Kind, &str, &str),
    detail: Value,
) -> Result<u64, AgentError> {
    let draft = BundleDraft {
        bundle_id: osiris_core::BundleId::random(),
        created_at: clock.now(),
        kind,
        host: host.to_owned(),
        hipaa: Vec::new(),
        outcome: outcome.to_owned(),
        detail,
        artifacts: Vec::new(),
    };
    Ok(queue.append(scrubber.scrub_draft(draft)).await?.seq)
}
