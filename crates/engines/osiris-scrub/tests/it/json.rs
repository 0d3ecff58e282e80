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
