#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The planner's behaviour: refusals with their reasons, plans, dry-run,
//! the budget, and prompts free of PHI.

mod decide;
mod phi;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use osiris_catalog::{Catalog, Platform};
use osiris_core::SiteId;
use osiris_limits::InProcessLimiter;
use osiris_planner::{
    AnswerForm, BoxFuture, IncidentContext, LanguageModel, ModelAnswer, ModelError, Planner,
    PlannerConfig, Prompt,
};
use osiris_scrub::{IpPolicy, ScrubConfig, ScrubKey, Scrubbed, Scrubber, ZipPolicy};
use serde_json::Value;

/// A model that gives the answers it was scripted with, in order, and keeps
/// every prompt it was asked.
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    answers: Mutex<VecDeque<Result<ModelAnswer, ModelError>>>,
    pub(crate) prompts: Mutex<Vec<Prompt>>,
}

impl Scripted {
    pub(crate) fn answering(texts: &[&str]) -> Arc<Self> {
        let model = Self::default();
        for text in texts {
            model.answers.lock().unwrap().push_back(Ok(ModelAnswer {
                model: "scripted".to_owned(),
                text: (*text).to_owned(),
                form: AnswerForm::Content,
            }));
        }
        Arc::new(model)
    }

    pub(crate) fn failing(error: ModelError) -> Arc<Self> {
        let model = Self::default();
        model.answers.lock().unwrap().push_back(Err(error));
        Arc::new(model)
    }

    pub(crate) fn calls(&self) -> usize {
        self.prompts.lock().unwrap().len()
    }
}

impl LanguageModel for Scripted {
    fn complete<'a>(
        &'a self,
        prompt: &'a Prompt,
    ) -> BoxFuture<'a, Result<ModelAnswer, ModelError>> {
        self.prompts.lock().unwrap().push(prompt.clone());
        let next = self.answers.lock().unwrap().pop_front();
        Box::pin(async move {
            next.unwrap_or_else(|| {
                Err(ModelError::Unavailable {
                    reason: "the script has no more answers".to_owned(),
                })
            })
        })
    }
}

pub(crate) fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::embedded().unwrap())
}

pub(crate) fn now() -> DateTime<Utc> {
    "2026-06-17T16:00:00Z".parse().unwrap()
}

pub(crate) fn site() -> SiteId {
    "5f0c8a2e-1c1d-4b8e-9a51-0d3c6f1b2a77".parse().unwrap()
}

/// The scrubber of the scrubber's own corpus tests.
pub(crate) fn scrubber() -> Scrubber {
    let config = ScrubConfig {
        ip: IpPolicy {
            keep_loopback: true,
            keep_private: true,
            keep_link_local: true,
            inventory: Vec::new(),
        },
        zip: ZipPolicy::Redact,
        allowlist: Vec::new(),
        keep_email_domains: Vec::new(),
        keep_url_hosts: vec!["windowsupdate.com".to_owned()],
        patient_document_roots: Vec::new(),
        mrn_patterns: vec![r"\bE\d{7}\b".to_owned(), r"\bMRN\d{5,8}\b".to_owned()],
        other_patterns: Vec::new(),
    };
    Scrubber::new(
        &ScrubKey::from_bytes([0x5a; osiris_scrub::KEY_LEN]),
        &config,
    )
    .unwrap()
}

/// Scrubbed inputs of one incident, owned so contexts can borrow them.
pub(crate) struct Inputs {
    pub(crate) output: Scrubbed<String>,
    pub(crate) facts: Scrubbed<Value>,
    pub(crate) history: Scrubbed<Value>,
}

impl Inputs {
    pub(crate) fn new(output: &str, facts: &Value, history: &Value) -> Self {
        let scrubber = scrubber();
        Self {
            output: scrubber.scrub_text(output),
            facts: scrubber.scrub_json(facts),
            history: scrubber.scrub_json(history),
        }
    }

    pub(crate) fn plain() -> Self {
        Self::new(
            r#"{"ok":true,"facts":{"ufw_active":false,"default_incoming":"allow"}}"#,
            &serde_json::json!({"os": "Debian 12", "role": "ehr-db"}),
            &serde_json::json!([]),
        )
    }

    pub(crate) fn context<'a>(
        &'a self,
        catalog: &'a Catalog,
        check_id: &str,
        platform: Platform,
    ) -> IncidentContext<'a> {
        IncidentContext {
            site_id: site(),
            platform,
            check: catalog.check(check_id).unwrap(),
            check_output: &self.output,
            host_facts: &self.facts,
            history: &self.history,
        }
    }
}

pub(crate) fn planner(model: Arc<dyn LanguageModel>, config: PlannerConfig) -> Planner {
    Planner::new(catalog(), model, Arc::new(InProcessLimiter::new()), config).unwrap()
}

pub(crate) const CONFIG: PlannerConfig = PlannerConfig {
    min_confidence: 0.7,
    calls_per_hour: 10,
    dry_run: false,
};
