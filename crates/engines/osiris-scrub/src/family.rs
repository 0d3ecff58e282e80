//! The identifier families a redaction can belong to (45 CFR 164.514(b)(2)(i)).

use std::fmt;

use serde::Serialize;

/// One Safe Harbor identifier family; its [`Family::tag`] appears in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Family {
    /// (A) names, only where labelled.
    Name,
    /// (B) street addresses and P.O. boxes.
    Address,
    /// (B) ZIP codes after a state code or a label.
    Zip,
    /// (C) dates tied to a person: birth, admission, discharge, death.
    Date,
    /// (C) ages over 89.
    Age,
    /// (D) telephone numbers.
    Phone,
    /// (E) fax numbers.
    Fax,
    /// (F) email addresses.
    Email,
    /// (G) Social Security numbers.
    Ssn,
    /// (H) medical record numbers.
    Mrn,
    /// (I) health-plan beneficiary numbers (Medicare MBI, Medicaid, member ids).
    HealthPlan,
    /// (J) bank account and routing numbers.
    Account,
    /// (J) payment card numbers (Luhn-checked).
    Card,
    /// (K) licence and certificate numbers.
    License,
    /// (L) vehicle identifiers and plates.
    Vehicle,
    /// (M) device identifiers and serial numbers.
    Device,
    /// (N) personal parts of web URLs.
    Url,
    /// (O) IP addresses outside the kept ranges.
    Ip,
    /// (P) biometric templates.
    Biometric,
    /// (Q) photo references and inline images.
    Photo,
    /// (R) any other labelled unique identifying number, or a site pattern.
    Other,
}

impl Family {
    /// Every family, in tag order of the enum.
    pub const ALL: [Self; 21] = [
        Self::Name,
        Self::Address,
        Self::Zip,
        Self::Date,
        Self::Age,
        Self::Phone,
        Self::Fax,
        Self::Email,
        Self::Ssn,
        Self::Mrn,
        Self::HealthPlan,
        Self::Account,
        Self::Card,
        Self::License,
        Self::Vehicle,
        Self::Device,
        Self::Url,
        Self::Ip,
        Self::Biometric,
        Self::Photo,
        Self::Other,
    ];

    /// The upper-case tag written inside tokens, e.g. `SSN` in `[PHI:SSN:…]`.
    #[must_use]
    pub const fn tag(self) -> &'static str {
        match self {
            Self::Name => "NAME",
            Self::Address => "ADDRESS",
            Self::Zip => "ZIP",
            Self::Date => "DATE",
            Self::Age => "AGE",
            Self::Phone => "PHONE",
            Self::Fax => "FAX",
            Self::Email => "EMAIL",
            Self::Ssn => "SSN",
            Self::Mrn => "MRN",
            Self::HealthPlan => "HEALTH_PLAN",
            Self::Account => "ACCOUNT",
            Self::Card => "CARD",
            Self::License => "LICENSE",
            Self::Vehicle => "VEHICLE",
            Self::Device => "DEVICE",
            Self::Url => "URL",
            Self::Ip => "IP",
            Self::Biometric => "BIOMETRIC",
            Self::Photo => "PHOTO",
            Self::Other => "ID",
        }
    }

    /// The family whose [`Family::tag`] is `tag`.
    #[must_use]
    pub fn from_tag(tag: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|family| family.tag() == tag)
    }

    /// Dense index, for per-family counters.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// How a matched value is normalised before hashing, so that the same
    /// identifier written two ways (`123-45-6789`, `123 45 6789`) yields the
    /// same token.
    pub(crate) const fn normalisation(self) -> Normalisation {
        match self {
            Self::Ssn | Self::Phone | Self::Fax | Self::Card | Self::Account | Self::Zip => {
                Normalisation::Digits
            }
            Self::Email | Self::Name | Self::Address | Self::Url => Normalisation::Folded,
            _ => Normalisation::Exact,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// See [`Family::normalisation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Normalisation {
    /// Keep only ASCII digits; a leading NANP country code `1` on an
    /// 11-digit phone number is dropped.
    Digits,
    /// ASCII lower case, runs of whitespace and commas collapsed to a space.
    Folded,
    /// The bytes as matched.
    Exact,
}
