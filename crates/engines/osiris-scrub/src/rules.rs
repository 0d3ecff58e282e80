//! The patterns, as data: labels that announce a value, the shapes of those
//! values, and the unlabelled shapes found anywhere.
//!
//! Every pattern is line-local (no `\s`, `\W` or `.` that could cross a
//! newline): the engine relies on that to scrub blocks of lines and lines
//! alone with the same result. `\b` is written `(?-u:\b)`: a Unicode word
//! boundary would force the slow engine on non-ASCII text.

use crate::family::Family;

/// How the value after a label looks. Each kind is one anchored regex whose
/// group 1 is the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Name,
    Date,
    Age,
    Ssn,
    Digits,
    Code,
    Phone,
    Address,
    Zip,
    Blob,
    Reference,
    PathSegment,
}

/// Separator after a label that needs an explicit `:`, `=` or `#`.
const SEP_STRICT: &str = r#"\A"?[ \t]*(?:\.[ \t]*)*[:=#>][ \t]*"?"#;
/// Separator that may also be absent or carry a `no`/`number`/`#` word.
const SEP_LOOSE: &str =
    r#"\A"?(?:[ \t]*(?i:no\.?|num|number|nbr|#)(?-u:\b)?)?[ \t]*[:=#>_]{0,2}[ \t]*"?(?:-[ \t]*)?"#;

impl ValueKind {
    pub(crate) const ALL: [Self; 12] = [
        Self::Name,
        Self::Date,
        Self::Age,
        Self::Ssn,
        Self::Digits,
        Self::Code,
        Self::Phone,
        Self::Address,
        Self::Zip,
        Self::Blob,
        Self::Reference,
        Self::PathSegment,
    ];

    pub(crate) fn pattern(self) -> String {
        let word = r"\p{Lu}[\p{L}'’\-]*\.?";
        let month = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-zA-Z]*\.?";
        match self {
            Self::Name => {
                format!(r"{SEP_STRICT}({word}(?:(?:[ \t]*[,^][ \t]*|[ \t]+){word}){{0,3}})")
            }
            Self::Date => format!(
                r#"\A"?[ \t]*(?:\([^)\n]{{0,12}}\))?[ \t]*[:=#>\-]?[ \t]*"?(?i:on[ \t]+)?((?:\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}})?)?|\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}})|\d{{8}}(?:\d{{4,6}})?|{month}[ \t]+\d{{1,2}},?[ \t]+\d{{4}}|\d{{1,2}}[ \t]+{month},?[ \t]+\d{{4}}))(?-u:\b)"#
            ),
            Self::Age => r#"\A"?[ \t]*[:=]?[ \t]*"?(9\d|1[01]\d)(?-u:\b)"#.to_owned(),
            Self::Ssn => format!(r"{SEP_LOOSE}(\d{{3}}[\- ]?\d{{2}}[\- ]?\d{{4}})(?-u:\b)"),
            Self::Digits => format!(r"{SEP_LOOSE}(\d(?:[ \-]?\d){{5,18}})(?-u:\b)"),
            Self::Code => format!(r"{SEP_LOOSE}([A-Za-z0-9][A-Za-z0-9\-]{{3,30}})"),
            Self::Phone => format!(
                r"{SEP_LOOSE}(\+?1?[ .\-]?\(?\d{{3}}\)?[ .\-]?\d{{3}}[ .\-]?\d{{4}}(?:[ \t]*(?i:x|ext\.?)[ \t]*\d{{1,5}})?)(?-u:\b)"
            ),
            Self::Address => format!(
                r"{SEP_STRICT}(\d{{1,6}}[ \t]+[^\n\r\t|;<>\[\]{{}}]{{2,100}}|(?i:p\.?[ \t]?o\.?[ \t]*box)[ \t]*\d+[^\n\r\t|;<>\[\]{{}}]{{0,100}})"
            ),
            Self::Zip => format!(r"{SEP_LOOSE}(\d{{5}}(?:-\d{{4}})?)(?-u:\b)"),
            Self::Blob => format!(r"{SEP_STRICT}([A-Za-z0-9+/]{{64,}}={{0,2}})"),
            Self::Reference => format!(r#"{SEP_STRICT}([^ \t\n\r"'<>\[\]|;,]{{3,}})"#),
            Self::PathSegment => r#"\A([^\\/ \t\n\r"'<>|\[\]]+)"#.to_owned(),
        }
    }
}

/// Labels announcing a value of `kind` to redact as `family`. Labels are
/// matched ASCII case-insensitively, longest first, and must stand as words.
#[derive(Debug)]
pub(crate) struct LabelRule {
    pub(crate) family: Family,
    pub(crate) kind: ValueKind,
    pub(crate) labels: &'static [&'static str],
}

pub(crate) const LABEL_RULES: &[LabelRule] = &[
    LabelRule {
        family: Family::Name,
        kind: ValueKind::Name,
        labels: &[
            "patient",
            "pt",
            "patient name",
            "pt name",
            "patient's name",
            "patient full name",
            "guarantor",
            "guarantor name",
            "insured",
            "insured name",
            "insured's name",
            "subscriber",
            "subscriber name",
            "member name",
            "next of kin",
            "nok",
            "emergency contact",
            "mother",
            "father",
            "spouse",
            "guardian",
            "responsible party",
            "resident",
            "resident name",
            "client name",
            "beneficiary",
            "legal name",
            "maiden name",
            "mother's maiden name",
            "policyholder",
            "policy holder",
            "caller",
            "caller name",
            "first name",
            "last name",
            "full name",
        ],
    },
    LabelRule {
        family: Family::Date,
        kind: ValueKind::Date,
        labels: &[
            "dob",
            "d.o.b",
            "d.o.b.",
            "date of birth",
            "birth date",
            "birthdate",
            "birthday",
            "born",
            "admit",
            "admit date",
            "admitted",
            "admission",
            "admission date",
            "admit dt",
            "discharge",
            "discharged",
            "discharge date",
            "disch date",
            "dod",
            "date of death",
            "death date",
            "deceased",
            "date of service",
            "dos",
        ],
    },
    LabelRule {
        family: Family::Age,
        kind: ValueKind::Age,
        labels: &["age", "patient age", "pt age", "aged"],
    },
    LabelRule {
        family: Family::Ssn,
        kind: ValueKind::Ssn,
        labels: &[
            "ssn",
            "ss#",
            "ss #",
            "ss no",
            "soc sec",
            "social",
            "social security",
            "social security number",
            "social security no",
            "social sec",
            "sin",
        ],
    },
    LabelRule {
        family: Family::Mrn,
        kind: ValueKind::Code,
        labels: &[
            "mrn",
            "medical record",
            "medical record number",
            "medical record no",
            "med rec",
            "med rec no",
            "med rec num",
            "medrec",
            "chart",
            "chart no",
            "chart number",
            "chart #",
            "patient id",
            "patient no",
            "patient number",
            "patient #",
            "pt id",
            "pt #",
            "pt no",
            "patientid",
            "encounter",
            "encounter id",
            "encounter number",
            "visit id",
            "visit number",
            "visit #",
            "fin",
            "fin #",
            "csn",
            "empi",
        ],
    },
    LabelRule {
        family: Family::HealthPlan,
        kind: ValueKind::Code,
        labels: &[
            "mbi",
            "medicare",
            "medicare id",
            "medicare number",
            "medicare #",
            "hicn",
            "medicaid",
            "medicaid id",
            "medicaid number",
            "medicaid #",
            "member id",
            "member #",
            "member no",
            "member number",
            "subscriber id",
            "subscriber #",
            "subscriber no",
            "policy number",
            "policy #",
            "policy no",
            "group number",
            "group #",
            "group no",
            "insurance id",
            "insurance #",
            "beneficiary id",
            "health plan id",
            "plan member id",
        ],
    },
    LabelRule {
        family: Family::Account,
        kind: ValueKind::Digits,
        labels: &[
            "account",
            "account number",
            "account no",
            "account #",
            "acct",
            "acct #",
            "acct no",
            "acct num",
            "bank account",
            "routing",
            "routing number",
            "routing #",
            "aba",
            "iban",
            "billing account",
            "guarantor account",
        ],
    },
    LabelRule {
        family: Family::Card,
        kind: ValueKind::Digits,
        labels: &[
            "card number",
            "card #",
            "card no",
            "credit card",
            "cc",
            "cc#",
            "cc #",
            "debit card",
            "pan",
        ],
    },
    LabelRule {
        family: Family::License,
        kind: ValueKind::Code,
        labels: &[
            "driver's license",
            "drivers license",
            "driver license",
            "driver's lic",
            "drivers lic",
            "dl",
            "dl#",
            "dl #",
            "license number",
            "license no",
            "license #",
            "licence number",
            "licence no",
            "lic #",
            "lic no",
            "dea",
            "dea #",
            "dea number",
            "certificate number",
            "certificate no",
            "cert number",
            "cert no",
            "passport",
            "passport number",
            "passport no",
            "state id",
        ],
    },
    LabelRule {
        family: Family::Vehicle,
        kind: ValueKind::Code,
        labels: &[
            "vin",
            "vehicle id",
            "license plate",
            "licence plate",
            "plate",
            "plate number",
        ],
    },
    LabelRule {
        family: Family::Device,
        kind: ValueKind::Code,
        labels: &[
            "serial",
            "serial number",
            "serial no",
            "serial #",
            "s/n",
            "sn",
            "udi",
            "imei",
            "device id",
            "device serial",
            "implant serial",
            "pump serial",
            "meid",
        ],
    },
    LabelRule {
        family: Family::Phone,
        kind: ValueKind::Phone,
        labels: &[
            "phone",
            "tel",
            "telephone",
            "cell",
            "mobile",
            "home phone",
            "work phone",
            "cell phone",
            "ph",
            "contact number",
            "callback",
            "call back",
            "phone number",
        ],
    },
    LabelRule {
        family: Family::Fax,
        kind: ValueKind::Phone,
        labels: &["fax", "fax number", "fax #", "fax no", "facsimile"],
    },
    LabelRule {
        family: Family::Address,
        kind: ValueKind::Address,
        labels: &[
            "address",
            "addr",
            "home address",
            "street",
            "street address",
            "mailing address",
            "residence",
            "patient address",
            "address line 1",
            "address1",
        ],
    },
    LabelRule {
        family: Family::Zip,
        kind: ValueKind::Zip,
        labels: &[
            "zip",
            "zip code",
            "zipcode",
            "postal code",
            "postcode",
            "zip+4",
        ],
    },
    LabelRule {
        family: Family::Biometric,
        kind: ValueKind::Blob,
        labels: &[
            "fingerprint",
            "biometric",
            "biometric template",
            "voiceprint",
            "voice print",
            "face template",
            "finger template",
            "iris template",
            "palm template",
        ],
    },
    LabelRule {
        family: Family::Photo,
        kind: ValueKind::Reference,
        labels: &[
            "photo",
            "patient photo",
            "picture",
            "headshot",
            "face image",
            "photo file",
            "photo path",
            "id photo",
        ],
    },
    LabelRule {
        family: Family::Other,
        kind: ValueKind::Code,
        labels: &[
            "unique identifier",
            "unique identifying number",
            "unique id",
            "claim number",
            "claim #",
            "claim no",
            "claim id",
            "accession",
            "accession number",
            "accession #",
            "accession no",
            "specimen id",
            "specimen #",
            "lab id",
            "requisition",
            "requisition number",
            "order number",
            "prescription number",
            "rx #",
            "rx number",
        ],
    },
];

/// HL7 v2 segments whose listed fields identify a person: (field number,
/// family). Field 1 is the first after the segment name.
pub(crate) const HL7_SEGMENTS: &[(&str, &[(u16, Family)])] = &[
    (
        "PID|",
        &[
            (2, Family::Mrn),
            (3, Family::Mrn),
            (4, Family::Mrn),
            (5, Family::Name),
            (6, Family::Name),
            (7, Family::Date),
            (9, Family::Name),
            (11, Family::Address),
            (12, Family::Address),
            (13, Family::Phone),
            (14, Family::Phone),
            (18, Family::Account),
            (19, Family::Ssn),
            (20, Family::License),
            (21, Family::Mrn),
            (23, Family::Address),
            (29, Family::Date),
        ],
    ),
    (
        "NK1|",
        &[
            (2, Family::Name),
            (4, Family::Address),
            (5, Family::Phone),
            (6, Family::Phone),
            (16, Family::Date),
            (30, Family::Name),
            (31, Family::Phone),
            (32, Family::Address),
            (33, Family::Mrn),
            (37, Family::Ssn),
        ],
    ),
    (
        "GT1|",
        &[
            (2, Family::Account),
            (3, Family::Name),
            (4, Family::Name),
            (5, Family::Address),
            (6, Family::Phone),
            (7, Family::Phone),
            (8, Family::Date),
            (12, Family::Ssn),
        ],
    ),
    (
        "IN1|",
        &[
            (16, Family::Name),
            (18, Family::Date),
            (19, Family::Address),
            (36, Family::HealthPlan),
            (49, Family::HealthPlan),
        ],
    ),
    (
        "IN2|",
        &[
            (1, Family::HealthPlan),
            (2, Family::Ssn),
            (6, Family::HealthPlan),
            (8, Family::HealthPlan),
        ],
    ),
    (
        "MRG|",
        &[
            (1, Family::Mrn),
            (2, Family::Mrn),
            (3, Family::Account),
            (5, Family::Account),
            (7, Family::Name),
        ],
    ),
    (
        "PV1|",
        &[
            (19, Family::Account),
            (44, Family::Date),
            (45, Family::Date),
            (50, Family::Mrn),
        ],
    ),
];

/// A value found without a label, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Email,
    Url,
    Ssn,
    Phone,
    Card,
    Mbi,
    Ipv4,
    Ipv6,
    Street,
    PoBox,
    StateZip,
    Vin,
    InlineImage,
}

const STATES: &str = "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI";
const MBI_LETTER: &str = "[AC-HJKMNP-RT-Y]";
const MBI_ALNUM: &str = "[AC-HJKMNP-RT-Y0-9]";

impl Shape {
    pub(crate) const ALL: [Self; 13] = [
        Self::Email,
        Self::Url,
        Self::Ssn,
        Self::Phone,
        Self::Card,
        Self::Mbi,
        Self::Ipv4,
        Self::Ipv6,
        Self::Street,
        Self::PoBox,
        Self::StateZip,
        Self::Vin,
        Self::InlineImage,
    ];

    pub(crate) const fn family(self) -> Family {
        match self {
            Self::Email => Family::Email,
            Self::Url => Family::Url,
            Self::Ssn => Family::Ssn,
            Self::Phone => Family::Phone,
            Self::Card => Family::Card,
            Self::Mbi => Family::HealthPlan,
            Self::Ipv4 | Self::Ipv6 => Family::Ip,
            Self::Street | Self::PoBox => Family::Address,
            Self::StateZip => Family::Zip,
            Self::Vin => Family::Vehicle,
            Self::InlineImage => Family::Photo,
        }
    }

    /// The pattern; group 1, when present, is the part to redact.
    pub(crate) fn pattern(self) -> String {
        match self {
            Self::Email => r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}".to_owned(),
            Self::Url => r#"(?i:https?|ftps?|sftp)://[^ \t\n\r"'<>\[\]{}|\\^`]+"#.to_owned(),
            Self::Ssn => r"\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}".to_owned(),
            Self::Phone => r"(?:\+1[ .\-]?|1[ .\-])?(?:\(\d{3}\)[ \t]?\d{3}[ .\-]\d{4}|\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4}|\d{3} \d{3} \d{4})(?:[ \t]*(?i:x|ext\.?)[ \t]*\d{1,5})?".to_owned(),
            Self::Card => r"\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}|\d{4}[ \-]\d{6}[ \-]\d{4,5}".to_owned(),
            Self::Mbi => format!(
                r"[1-9]{MBI_LETTER}{MBI_ALNUM}\d-?{MBI_LETTER}{MBI_ALNUM}\d-?{MBI_LETTER}{MBI_LETTER}\d\d"
            ),
            Self::Ipv4 => r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}".to_owned(),
            Self::Ipv6 => r"(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}".to_owned(),
            Self::Street => r"\d{1,6}[ \t]+(?:[NSEW]\.?[ \t]+)?[A-Za-z0-9.'][A-Za-z0-9.' ]{0,38}?[ \t](?i:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place|Ter|Terrace|Pkwy|Parkway|Hwy|Highway|Cir|Circle)\.?(?-u:\b)(?:[ \t,]*(?i:Apt|Suite|Ste|Unit|#)\.?[ \t]*[A-Za-z0-9\-]+)?".to_owned(),
            Self::PoBox => r"(?i:P\.?[ \t]?O\.?[ \t]*Box)[ \t]*\d+".to_owned(),
            Self::StateZip => format!(r"(?-u:\b)(?:{STATES}),?[ \t]+(\d{{5}}(?:-\d{{4}})?)"),
            Self::Vin => r"[A-HJ-NPR-Z0-9]{17}".to_owned(),
            Self::InlineImage => r"data:image/[A-Za-z0-9.+\-]+;base64,[A-Za-z0-9+/=]+".to_owned(),
        }
    }
}
