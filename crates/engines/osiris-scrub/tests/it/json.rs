//! JSON mode: keys kept, structure kept, values under identifying keys
//! redacted whatever their form.

use serde_json::json;

use crate::{mask_tokens, scrubber};

#[test]
fn json_values_under_identifying_keys_are_redacted_whatever_their_form() {
    let input = json!({
        "check": "ehr.export",
        "collected_utc": "2024-03-14T08:15:22Z",
        "ok": true,
        "facts": {
            "patient_name": "Ann Lee",
            "DOB": "1950-01-02",
            "ssn": 123456789,
            "mrn": ["A1", "B2"],
            "PatientAge": 93,
            "patient": {"first": "Ann", "last": "Lee", "active": true, "notes": null},
            "note": "called from 312.555.0110",
            "Address": "10.20.1.5",
            "pending": 2
        }
    });
    let scrubbed = scrubber().scrub_json(&input);
    let masked = mask_tokens(&serde_json::to_string(scrubbed.as_inner()).unwrap());
    let output: serde_json::Value = serde_json::from_str(&masked).unwrap();
    assert_eq!(
        output,
        json!({
            "check": "ehr.export",
            "collected_utc": "2024-03-14T08:15:22Z",
            "ok": true,
            "facts": {
                "patient_name": "{{NAME}}",
                "DOB": "{{DATE}}",
                "ssn": "{{SSN}}",
                "mrn": ["{{MRN}}", "{{MRN}}"],
                "PatientAge": "{{AGE}}",
                "patient": {"first": "{{NAME}}", "last": "{{NAME}}", "active": true, "notes": null},
                "note": "called from {{PHONE}}",
                "Address": "10.20.1.5",
                "pending": 2
            }
        })
    );
    assert_eq!(scrubbed.report().total(), 9);
}

#[test]
fn scrubbing_scrubbed_json_changes_nothing() {
    let input = json!({"dob": "1950-01-02", "zip": "62704", "list": ["SSN 123-45-6789", 5]});
    let s = scrubber();
    let once = s.scrub_json(&input).into_inner();
    let twice = s.scrub_json(&once);
    assert_eq!(twice.as_inner(), &once);
    assert_eq!(twice.report().total(), 0);
}

#[test]
fn an_evidence_draft_is_scrubbed_in_its_free_text_and_kept_in_its_typed_parts() {
    use osiris_evidence::{Artifact, BundleDraft, Kind};
    let created_at = chrono::DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
        .unwrap()
        .to_utc();
    let draft = BundleDraft {
        bundle_id: osiris_core::BundleId::random(),
        created_at,
        kind: Kind::Check,
        host: "nvc-dc01".to_owned(),
        hipaa: vec!["164.312(b)".parse().unwrap()],
        outcome: "fail".to_owned(),
        detail: json!({
            "check_id": "win.logging.eventlog",
            "note": "Patient: Ann Lee, SSN 219-09-9999",
            "patient_name": "Ann Lee",
            "version": "10.0.17763.1",
        }),
        artifacts: vec![Artifact::of("stdout", b"{\"ok\":true}")],
    };
    let scrubbed = scrubber().scrub_draft(draft.clone());
    let out = scrubbed.as_inner();
    assert_eq!(out.bundle_id, draft.bundle_id);
    assert_eq!(out.created_at, created_at);
    assert_eq!(out.host, "nvc-dc01");
    assert_eq!(out.outcome, "fail");
    assert_eq!(out.hipaa, draft.hipaa);
    assert_eq!(out.artifacts, draft.artifacts);
    assert_eq!(out.detail["check_id"], "win.logging.eventlog");
    assert_eq!(out.detail["version"], "10.0.17763.1");
    let text = serde_json::to_string(&out.detail).unwrap();
    assert!(!text.contains("Ann Lee"), "{text}");
    assert!(!text.contains("219-09-9999"), "{text}");
    assert!(scrubbed.report().total() >= 3, "{}", scrubbed.report());
    // Once scrubbed, a second pass changes nothing.
    let again = scrubber().scrub_draft(out.clone());
    assert_eq!(again.as_inner().detail, out.detail);
    assert_eq!(again.report().total(), 0);
}
