//! JSON Schemas of the three file kinds, generated from the Rust types.
//! The committed copies in `catalog/schema/` let editors validate files as
//! they are written; a test fails when they are stale.

use schemars::generate::SchemaSettings;

use crate::model::{Check, Runbook};
use crate::rules::RuleFile;

/// `(file name, pretty JSON)` for each schema, in a stable order.
#[must_use]
pub fn generate() -> Vec<(&'static str, String)> {
    let settings = || SchemaSettings::draft2020_12().for_deserialize();
    let render = |schema: schemars::Schema| {
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    };
    vec![
        (
            "check.schema.json",
            render(settings().into_generator().into_root_schema_for::<Check>()),
        ),
        (
            "runbook.schema.json",
            render(
                settings()
                    .into_generator()
                    .into_root_schema_for::<Runbook>(),
            ),
        ),
        (
            "rules.schema.json",
            render(
                settings()
                    .into_generator()
                    .into_root_schema_for::<RuleFile>(),
            ),
        ),
    ]
}
