//! Evidence drafts: the appliance's only path from a [`BundleDraft`] to
//! something the outbound queue accepts.

use osiris_evidence::BundleDraft;
use serde_json::Value;

use crate::engine::Scrubber;
use crate::scrubbed::{Report, Scrubbed};

impl Scrubber {
    /// Scrubs every free-text part of an evidence draft: the host name and
    /// outcome as text, `detail` in JSON mode (keys kept, values under
    /// identifying keys scrubbed whatever their form). Ids, times, HIPAA
    /// citations and artifact digests are typed or fixed-form and pass as
    /// they are. Sealing comes after this, and nothing scrubs a sealed
    /// bundle again.
    #[must_use]
    pub fn scrub_draft(&self, draft: BundleDraft) -> Scrubbed<BundleDraft> {
        let mut report = Report::default();
        let host = self.scrub_text(&draft.host);
        report.merge(host.report());
        let outcome = self.scrub_text(&draft.outcome);
        report.merge(outcome.report());
        let detail: Scrubbed<Value> = self.scrub_json(&draft.detail);
        report.merge(detail.report());
        Scrubbed::new(
            BundleDraft {
                host: host.into_inner(),
                outcome: outcome.into_inner(),
                detail: detail.into_inner(),
                ..draft
            },
            report,
        )
    }
}
