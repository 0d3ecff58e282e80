//! HIPAA Security Rule citations (45 CFR Part 164 Subpart C), validated so a
//! typo in a check file is an error, not a silently unmapped control.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A citation such as `164.312(a)(2)(iv)` or `164.308(a)(5)(ii)(B)`.
///
/// The form is `164.3NN` followed by up to four nested paragraph levels in
/// the Federal Register's order: a lowercase letter, a number, a lowercase
/// roman numeral, an uppercase letter.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HipaaCitation {
    text: String,
    section: u16,
}

/// Why a citation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HIPAA citation {text:?}: {reason} (expected a form like 164.312(a)(2)(iv))")]
pub struct CitationError {
    text: String,
    reason: &'static str,
}

/// The Security Rule safeguard family a citation belongs to, as the client
/// portal groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safeguard {
    /// 164.302–164.308: general rules and administrative safeguards.
    Administrative,
    /// 164.310.
    Physical,
    /// 164.312.
    Technical,
    /// 164.314: business associate contracts and group health plans.
    Organizational,
    /// 164.316: policies, procedures and documentation (retention).
    Documentation,
}

impl HipaaCitation {
    /// The citation as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The safeguard family, from the section number.
    #[must_use]
    pub const fn safeguard(&self) -> Safeguard {
        match self.section {
            310 => Safeguard::Physical,
            312 => Safeguard::Technical,
            314 => Safeguard::Organizational,
            316 | 318 => Safeguard::Documentation,
            _ => Safeguard::Administrative,
        }
    }

    /// Whether `self` is `other` or one of its sub-paragraphs:
    /// `164.312(a)(2)(iv)` falls under `164.312(a)`.
    #[must_use]
    pub fn falls_under(&self, other: &Self) -> bool {
        self.text == other.text
            || (self.text.starts_with(&other.text)
                && self.text.as_bytes().get(other.text.len()) == Some(&b'('))
    }
}

const ROMAN: [&str; 12] = [
    "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii",
];

fn paragraph_ok(level: usize, label: &str) -> bool {
    match level {
        0 => label.len() == 1 && label.bytes().all(|b| b.is_ascii_lowercase()),
        1 => {
            (1..=2).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_digit())
                && !label.starts_with('0')
        }
        2 => ROMAN.contains(&label),
        3 => label.len() == 1 && label.bytes().all(|b| b.is_ascii_uppercase()),
        _ => false,
    }
}

impl FromStr for HipaaCitation {
    type Err = CitationError;

    fn from_str(text: &str) -> Result<Self, CitationError> {
        let fail = |reason| CitationError {
            text: text.chars().take(64).collect(),
            reason,
        };
        let rest = text
            .strip_prefix("164.")
            .ok_or_else(|| fail("must start with 164."))?;
        let digits_end = rest.find('(').unwrap_or(rest.len());
        let (section, mut paragraphs) = rest.split_at(digits_end);
        if section.len() != 3 || !section.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail("section must be three digits"));
        }
        let section: u16 = section
            .parse()
            .map_err(|_| fail("section must be three digits"))?;
        if !(302..=318).contains(&section) {
            return Err(fail(
                "section is outside the Security Rule (164.302 to 164.318)",
            ));
        }
        let mut level = 0;
        while !paragraphs.is_empty() {
            let inner = paragraphs
                .strip_prefix('(')
                .and_then(|p| p.split_once(')'))
                .ok_or_else(|| fail("paragraphs must be written in parentheses"))?;
            if !paragraph_ok(level, inner.0) {
                return Err(fail(
                    "paragraph levels must be letter, number, roman numeral, capital letter",
                ));
            }
            paragraphs = inner.1;
            level += 1;
        }
        Ok(Self {
            text: text.to_owned(),
            section,
        })
    }
}

impl TryFrom<String> for HipaaCitation {
    type Error = CitationError;
    fn try_from(value: String) -> Result<Self, CitationError> {
        value.parse()
    }
}

impl From<HipaaCitation> for String {
    fn from(citation: HipaaCitation) -> String {
        citation.text
    }
}

impl fmt::Display for HipaaCitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for HipaaCitation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HipaaCitation({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn check(text: &str, expected: Option<Safeguard>) {
        match (text.parse::<HipaaCitation>(), expected) {
            (Ok(citation), Some(safeguard)) => {
                assert_eq!(citation.safeguard(), safeguard, "{text}");
                assert_eq!(citation.to_string(), text);
            }
            (Err(_), None) => {}
            (result, _) => panic!("{text}: unexpected {result:?}"),
        }
    }

    #[test]
    fn every_citation_in_the_spec_parses_with_its_safeguard() {
        check("164.308(a)(5)(ii)(B)", Some(Safeguard::Administrative));
        check("164.308(a)(7)(ii)(A)", Some(Safeguard::Administrative));
        check("164.308(a)(4)", Some(Safeguard::Administrative));
        check("164.312(b)", Some(Safeguard::Technical));
        check("164.312(a)(1)", Some(Safeguard::Technical));
        check("164.312(a)(2)(iv)", Some(Safeguard::Technical));
        check("164.310(d)(2)(iv)", Some(Safeguard::Physical));
        check("164.316(b)(2)(i)", Some(Safeguard::Documentation));
        check("164.312", Some(Safeguard::Technical));
    }

    #[test]
    fn malformed_citations_are_refused_with_the_expected_form() {
        for bad in [
            "",
            "164",
            "164.",
            "164.31",
            "164.3120",
            "164.512(b)",
            "165.312(b)",
            "164.312(B)",
            "164.312(a)(iv)",
            "164.312(a)(2)(2)",
            "164.312(a)(2)(iv)(b)",
            "164.312(a)(2)(iv)(B)(1)",
            "164.312(a",
            "164.312a",
            "164.312()",
            "164.312(a)(02)",
            " 164.312(b)",
        ] {
            let err = bad.parse::<HipaaCitation>().unwrap_err();
            assert!(err.to_string().contains("164.312(a)(2)(iv)"), "{err}");
        }
    }

    #[test]
    fn sub_paragraphs_fall_under_their_parent() {
        let parse = |s: &str| s.parse::<HipaaCitation>().unwrap();
        assert!(parse("164.312(a)(2)(iv)").falls_under(&parse("164.312(a)")));
        assert!(parse("164.312(a)").falls_under(&parse("164.312(a)")));
        assert!(!parse("164.312(b)").falls_under(&parse("164.312(a)")));
        assert!(!parse("164.312(a)(1)").falls_under(&parse("164.312(a)(2)")));
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_panics(text in ".*") {
            let _ = text.parse::<HipaaCitation>();
        }

        #[test]
        fn valid_citations_round_trip_through_json(
            section in prop::sample::select(vec![308u16, 310, 312, 316]),
            letter in "[a-e]", number in 1u8..20, roman in prop::sample::select(ROMAN.to_vec()),
        ) {
            let text = format!("164.{section}({letter})({number})({roman})");
            let citation: HipaaCitation = text.parse().unwrap();
            let json = serde_json::to_string(&citation).unwrap();
            prop_assert_eq!(serde_json::from_str::<HipaaCitation>(&json).unwrap(), citation);
        }
    }
}
