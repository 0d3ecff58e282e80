//! The demo's scripted L2 planner: a stand-in for a language model that
//! answers every prompt with the catalog's own remediation for the failed
//! check, so the L2 tier runs on any machine without a model. Its answer
//! goes through the same validation and gates as a real model's, and the
//! evidence names it (`scripted-local-planner`), so nobody mistakes it for
//! a model's judgement.

use std::sync::atomic::{AtomicU64, Ordering};

use osiris_planner::{AnswerForm, BoxFuture, LanguageModel, ModelAnswer, ModelError, Prompt};
use serde_json::json;

/// The name the evidence records as the model.
pub(super) const MODEL: &str = "scripted-local-planner";

/// The line of the prompt naming the check's own runbook.
const OWN_REMEDIATION: &str = "The catalog's own remediation for this check is ";

/// Counts its calls, so the demo can show a promoted rule taking over
/// without asking it.
#[derive(Debug, Default)]
pub(super) struct ScriptedPlanner {
    calls: AtomicU64,
}

impl ScriptedPlanner {
    /// How many prompts it has answered.
    pub(super) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl LanguageModel for ScriptedPlanner {
    fn complete<'a>(
        &'a self,
        prompt: &'a Prompt,
    ) -> BoxFuture<'a, Result<ModelAnswer, ModelError>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let answer = answer(prompt.user());
        Box::pin(async move { answer })
    }
}

/// Picks the runbook the prompt names as the check's own remediation, or
/// none (a person decides) when the prompt names none.
fn answer(user: &str) -> Result<ModelAnswer, ModelError> {
    let runbook = user
        .lines()
        .find_map(|line| line.strip_prefix(OWN_REMEDIATION))
        .map(|rest| rest.trim_end_matches('.').trim().to_owned());
    let text = match runbook {
        Some(runbook) => json!({
            "runbook_id": runbook,
            "params": {},
            "confidence": 0.9,
            "reasoning": format!("scripted: the catalog's own remediation {runbook} for this check"),
        }),
        None => json!({
            "runbook_id": null,
            "params": {},
            "confidence": 0.0,
            "reasoning": "scripted: the prompt names no remediation; a person decides",
        }),
    };
    Ok(ModelAnswer {
        model: MODEL.to_owned(),
        text: text.to_string(),
        form: AnswerForm::Content,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;

    #[test]
    fn it_names_the_checks_own_runbook_or_none() {
        let prompt = "Check win.logging.audit failed.\nThe catalog's own remediation for this check is RB-WIN-LOGGING-001.\n";
        let answer: serde_json::Value =
            serde_json::from_str(&answer(prompt).unwrap().text).unwrap();
        assert_eq!(answer["runbook_id"], "RB-WIN-LOGGING-001");
        let answer: serde_json::Value = serde_json::from_str(&answer_of("nothing")).unwrap();
        assert!(answer["runbook_id"].is_null());
    }

    fn answer_of(prompt: &str) -> String {
        answer(prompt).unwrap().text
    }
}
