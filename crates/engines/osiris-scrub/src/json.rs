//! JSON that keeps its structure: keys stay, string values are scrubbed as
//! text, and every scalar under an identifying key (`patient_name`, `dob`,
//! `ssn`, …) becomes a token whatever its form.

use serde_json::{Map, Value};

use crate::engine::Scrubber;
use crate::family::Family;
use crate::key::token_len;
use crate::scrubbed::{Report, Scrubbed};

/// Keys (lower case, letters and digits only) whose values identify a
/// person. `name` alone is absent on purpose: in IT data it names services,
/// hosts and files.
const PHI_KEYS: &[(&str, Family)] = &[
    ("patient", Family::Name),
    ("patientname", Family::Name),
    ("patientfullname", Family::Name),
    ("patientfirstname", Family::Name),
    ("patientlastname", Family::Name),
    ("ptname", Family::Name),
    ("firstname", Family::Name),
    ("lastname", Family::Name),
    ("middlename", Family::Name),
    ("fullname", Family::Name),
    ("guarantor", Family::Name),
    ("guarantorname", Family::Name),
    ("insuredname", Family::Name),
    ("subscribername", Family::Name),
    ("nextofkin", Family::Name),
    ("emergencycontact", Family::Name),
    ("maidenname", Family::Name),
    ("mothersmaidenname", Family::Name),
    ("dob", Family::Date),
    ("dateofbirth", Family::Date),
    ("birthdate", Family::Date),
    ("birthday", Family::Date),
    ("admitdate", Family::Date),
    ("admissiondate", Family::Date),
    ("admitdatetime", Family::Date),
    ("dischargedate", Family::Date),
    ("dischargedatetime", Family::Date),
    ("deathdate", Family::Date),
    ("dateofdeath", Family::Date),
    ("dod", Family::Date),
    ("age", Family::Age),
    ("patientage", Family::Age),
    ("ssn", Family::Ssn),
    ("socialsecuritynumber", Family::Ssn),
    ("socialsecurity", Family::Ssn),
    ("mrn", Family::Mrn),
    ("medicalrecordnumber", Family::Mrn),
    ("patientid", Family::Mrn),
    ("chartnumber", Family::Mrn),
    ("encounterid", Family::Mrn),
    ("visitid", Family::Mrn),
    ("empi", Family::Mrn),
    ("mbi", Family::HealthPlan),
    ("medicareid", Family::HealthPlan),
    ("medicarenumber", Family::HealthPlan),
    ("medicaidid", Family::HealthPlan),
    ("memberid", Family::HealthPlan),
    ("subscriberid", Family::HealthPlan),
    ("policynumber", Family::HealthPlan),
    ("groupnumber", Family::HealthPlan),
    ("insuranceid", Family::HealthPlan),
    ("accountnumber", Family::Account),
    ("acctnumber", Family::Account),
    ("bankaccount", Family::Account),
    ("routingnumber", Family::Account),
    ("iban", Family::Account),
    ("cardnumber", Family::Card),
    ("creditcard", Family::Card),
    ("ccnumber", Family::Card),
    ("driverslicense", Family::License),
    ("driverlicense", Family::License),
    ("licensenumber", Family::License),
    ("deanumber", Family::License),
    ("passportnumber", Family::License),
    ("vin", Family::Vehicle),
    ("licenseplate", Family::Vehicle),
    ("deviceserial", Family::Device),
    ("imei", Family::Device),
    ("udi", Family::Device),
    ("implantserial", Family::Device),
    ("phone", Family::Phone),
    ("phonenumber", Family::Phone),
    ("homephone", Family::Phone),
    ("workphone", Family::Phone),
    ("mobilephone", Family::Phone),
    ("cellphone", Family::Phone),
    ("telephone", Family::Phone),
    ("fax", Family::Fax),
    ("faxnumber", Family::Fax),
    ("email", Family::Email),
    ("emailaddress", Family::Email),
    ("address", Family::Address),
    ("streetaddress", Family::Address),
    ("homeaddress", Family::Address),
    ("street", Family::Address),
    ("addressline1", Family::Address),
    ("addressline2", Family::Address),
    ("city", Family::Address),
    ("county", Family::Address),
    ("zip", Family::Zip),
    ("zipcode", Family::Zip),
    ("postalcode", Family::Zip),
    ("biometrictemplate", Family::Biometric),
    ("voiceprint", Family::Biometric),
    ("photo", Family::Photo),
    ("photourl", Family::Photo),
    ("claimnumber", Family::Other),
    ("accessionnumber", Family::Other),
    ("specimenid", Family::Other),
];

/// The family of values under `key`, if the key identifies a person.
#[must_use]
pub fn phi_key_family(key: &str) -> Option<Family> {
    let normal: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    PHI_KEYS
        .iter()
        .find(|(k, _)| *k == normal)
        .map(|(_, family)| *family)
}

impl Scrubber {
    /// Scrubs a JSON value, keeping its shape: same keys, same array
    /// lengths, booleans and nulls untouched, numbers untouched except under
    /// identifying keys, where they become token strings.
    #[must_use]
    pub fn scrub_json(&self, value: &Value) -> Scrubbed<Value> {
        let mut report = Report::default();
        let value = self.walk(value, None, &mut report);
        Scrubbed::new(value, report)
    }

    fn walk(&self, value: &Value, family: Option<Family>, report: &mut Report) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, child)| {
                        let child_family = phi_key_family(key).or(family);
                        (key.clone(), self.walk(child, child_family, report))
                    })
                    .collect::<Map<String, Value>>(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.walk(item, family, report))
                    .collect(),
            ),
            Value::String(text) => Value::String(match family {
                Some(family) => self.whole_value(family, text, report),
                None => self.text_into(text, report),
            }),
            Value::Number(number) => match family {
                Some(family) => {
                    Value::String(self.whole_value(family, &number.to_string(), report))
                }
                None => value.clone(),
            },
            Value::Bool(_) | Value::Null => value.clone(),
        }
    }

    fn text_into(&self, text: &str, report: &mut Report) -> String {
        let scrubbed = self.scrub_text(text);
        report.merge(scrubbed.report());
        scrubbed.into_inner()
    }

    /// A value under an identifying key: one token for the whole of it. An
    /// IP address under `address` is network data and follows the IP policy.
    fn whole_value(&self, family: Family, text: &str, report: &mut Report) -> String {
        let trimmed = text.trim().as_bytes();
        // A ZIP kept to three digits reads `627[PHI:ZIP:…]`.
        let after_digits = if family == Family::Zip {
            let digits = trimmed
                .iter()
                .take(3)
                .take_while(|c| c.is_ascii_digit())
                .count();
            trimmed.get(digits..).unwrap_or_default()
        } else {
            trimmed
        };
        let is_token =
            !after_digits.is_empty() && token_len(after_digits) == Some(after_digits.len());
        if trimmed.is_empty() || is_token {
            return text.to_owned();
        }
        if family == Family::Address && text.trim().parse::<std::net::IpAddr>().is_ok() {
            return self.text_into(text, report);
        }
        if self.is_allowlisted(text.trim()) {
            return text.to_owned();
        }
        let mut out = Vec::with_capacity(32);
        self.write_replacement(family, text.trim().as_bytes(), &mut out);
        report.add(family);
        String::from_utf8(out).unwrap_or_default()
    }
}
