//! The scrubber: compiled patterns and the pass that turns matches into
//! tokens.
//!
//! A pass finds candidates three ways: labels (one Aho-Corasick scan, then
//! an anchored value regex after each label hit), HL7 v2 segments (fields by
//! position), and shapes (a `RegexSet` says which shape patterns occur at
//! all, then only those run). Candidates inside existing tokens or
//! allowlisted terms are dropped, overlapping ones merged, and each is
//! replaced by its token.
//!
//! **Invariant:** scrubbing is idempotent. A pass never touches a token, and
//! every line that received a token is passed again until a pass changes
//! nothing, so the output is a fixpoint: scrubbing it again is a no-op.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::{memchr2, memmem};
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::checks::{self, Edge};
use crate::config::{IpPolicy, ScrubConfig, ZipPolicy};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{ScrubKey, Tokenizer, token_len};
use crate::rules::{HL7_SEGMENTS, LABEL_RULES, Shape, ValueKind};
use crate::scrubbed::{Report, Scrubbed};
use crate::url;

/// Compiled patterns are capped so a site pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// In-memory input is scrubbed in blocks of about this many bytes, each
/// ending at a line end: small blocks let the `RegexSet` prefilter rule out
/// more shapes per block (2 KiB measured 1.6× faster than 16 KiB).
pub(crate) const BLOCK: usize = 2 << 10;
/// More passes than this over one line would mean a pattern keeps finding
/// matches next to fresh tokens; no input in the test corpus needs more
/// than two.
const MAX_PASSES: usize = 32;

/// What a label hit leads to.
#[derive(Debug, Clone, Copy)]
enum LabelTarget {
    Value { family: Family, kind: ValueKind },
    Hl7(&'static [(u16, Family)]),
    DocumentRoot,
}

#[derive(Debug)]
enum ShapeKind {
    Builtin(Shape),
    Site(Family),
}

#[derive(Debug)]
struct ShapeRule {
    kind: ShapeKind,
    regex: Regex,
}

/// A span to redact. `labelled` candidates win ties, so `Fax: …` is a fax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) family: Family,
    pub(crate) labelled: bool,
}

/// The PHI scrubber for one site: its key, its choices, its compiled
/// patterns. Building one compiles everything; scrubbing is then pure (no
/// I/O, no clock) and cannot fail.
#[derive(Debug)]
pub struct Scrubber {
    tokenizer: Tokenizer,
    ip: IpPolicy,
    zip: ZipPolicy,
    keep_email_domains: Vec<Vec<u8>>,
    keep_url_hosts: Vec<Vec<u8>>,
    labels: AhoCorasick,
    label_targets: Vec<LabelTarget>,
    values: Vec<Regex>,
    set: RegexSet,
    shapes: Vec<ShapeRule>,
    allow: Option<AhoCorasick>,
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

fn lower_all(items: &[String]) -> Vec<Vec<u8>> {
    items
        .iter()
        .map(|s| {
            s.trim()
                .trim_start_matches('.')
                .to_ascii_lowercase()
                .into_bytes()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

impl Scrubber {
    /// Compiles the patterns for `config`, tokens made under `key`.
    ///
    /// # Errors
    /// [`Error::Pattern`] naming the config field and index of a site
    /// pattern that does not compile.
    pub fn new(key: &ScrubKey, config: &ScrubConfig) -> Result<Self> {
        let built_in = |family: Family| {
            move |source: Box<dyn std::error::Error + Send + Sync>| Error::BuiltIn {
                family,
                source,
            }
        };
        let mut label_patterns: Vec<String> = Vec::new();
        let mut label_targets = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for rule in LABEL_RULES {
            for label in rule.labels {
                // `patient name` also appears as `patient_name` and
                // `PatientName` in JSON, CSV headers and XML.
                for variant in [
                    (*label).to_owned(),
                    label.replace(' ', "_"),
                    label.replace(' ', ""),
                ] {
                    if seen.insert(variant.clone()) {
                        label_patterns.push(variant);
                        label_targets.push(LabelTarget::Value {
                            family: rule.family,
                            kind: rule.kind,
                        });
                    }
                }
            }
        }
        for (segment, fields) in HL7_SEGMENTS {
            label_patterns.push((*segment).to_owned());
            label_targets.push(LabelTarget::Hl7(fields));
        }
        for root in &config.patient_document_roots {
            label_patterns.push(root.clone());
            label_targets.push(LabelTarget::DocumentRoot);
        }
        let labels = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&label_patterns)
            .map_err(|e| built_in(Family::Name)(Box::new(e)))?;

        let values = ValueKind::ALL
            .iter()
            .map(|kind| compile(&kind.pattern()).map_err(|e| built_in(Family::Other)(Box::new(e))))
            .collect::<Result<Vec<_>>>()?;

        let mut shapes = Vec::new();
        for shape in Shape::ALL {
            let regex =
                compile(&shape.pattern()).map_err(|e| built_in(shape.family())(Box::new(e)))?;
            shapes.push(ShapeRule {
                kind: ShapeKind::Builtin(shape),
                regex,
            });
        }
        for (field, family, patterns) in [
            ("mrn_patterns", Family::Mrn, &config.mrn_patterns),
            ("other_patterns", Family::Other, &config.other_patterns),
        ] {
            for (index, pattern) in patterns.iter().enumerate() {
                let regex = compile(pattern).map_err(|source| Error::Pattern {
                    field,
                    index,
                    source,
                })?;
                shapes.push(ShapeRule {
                    kind: ShapeKind::Site(family),
                    regex,
                });
            }
        }
        let set = RegexSetBuilder::new(shapes.iter().map(|rule| rule.regex.as_str()))
            .size_limit(REGEX_SIZE_LIMIT * 4)
            .build()
            .map_err(|e| built_in(Family::Other)(Box::new(e)))?;

        let allow_terms: Vec<&String> = config.allowlist.iter().filter(|t| !t.is_empty()).collect();
        let allow = if allow_terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&allow_terms)
                    .map_err(|e| built_in(Family::Other)(Box::new(e)))?,
            )
        };

        Ok(Self {
            tokenizer: Tokenizer::new(key),
            ip: config.ip.clone(),
            zip: config.zip,
            keep_email_domains: lower_all(&config.keep_email_domains),
            keep_url_hosts: lower_all(&config.keep_url_hosts),
            labels,
            label_targets,
            values,
            set,
            shapes,
            allow,
        })
    }

    /// Scrubs UTF-8 text.
    #[must_use]
    pub fn scrub_text(&self, text: &str) -> Scrubbed<String> {
        let (bytes, report) = self.scrub_to_vec(text.as_bytes());
        // Matches start and end on ASCII bytes and tokens are ASCII, so the
        // output of valid UTF-8 is valid UTF-8; the lossy path is a guard.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Scrubbed::new(text, report)
    }

    /// Scrubs bytes that need not be UTF-8; invalid sequences pass through.
    #[must_use]
    pub fn scrub_bytes(&self, input: &[u8]) -> Scrubbed<Vec<u8>> {
        let (bytes, report) = self.scrub_to_vec(input);
        Scrubbed::new(bytes, report)
    }

    fn scrub_to_vec(&self, input: &[u8]) -> (Vec<u8>, Report) {
        let mut out = Vec::with_capacity(input.len() + input.len() / 8);
        let mut report = Report::default();
        let mut rest = input;
        while !rest.is_empty() {
            let cut = block_end(rest, BLOCK);
            let (block, tail) = rest.split_at(cut);
            self.scrub_block(block, &mut out, &mut report);
            rest = tail;
        }
        (out, report)
    }

    /// Scrubs one block of whole lines, appending to `out`.
    pub(crate) fn scrub_block(&self, block: &[u8], out: &mut Vec<u8>, report: &mut Report) {
        let start = out.len();
        if !self.pass(block, out, report) {
            return;
        }
        let produced = out.split_off(start);
        let finder = memmem::Finder::new(b"[PHI:");
        for line in produced.split_inclusive(|c| *c == b'\n') {
            if finder.find(line).is_none() {
                out.extend_from_slice(line);
                continue;
            }
            let mut current = line.to_vec();
            for _ in 0..MAX_PASSES {
                let mut next = Vec::with_capacity(current.len());
                if !self.pass(&current, &mut next, report) {
                    break;
                }
                current = next;
            }
            out.extend_from_slice(&current);
        }
    }

    /// One pass over `text`: appends the text with every candidate replaced
    /// and returns whether anything was.
    fn pass(&self, text: &[u8], out: &mut Vec<u8>, report: &mut Report) -> bool {
        let mut candidates = Vec::new();
        self.label_candidates(text, &mut candidates);
        self.shape_candidates(text, &mut candidates);
        if candidates.is_empty() {
            out.extend_from_slice(text);
            return false;
        }
        let protected = token_spans(text);
        let allowed = self.allowed_spans(text);
        candidates.retain(|c| {
            c.start < c.end
                && !protected.iter().any(|&(s, e)| c.start < e && s < c.end)
                && !allowed.iter().any(|&(s, e)| s <= c.start && c.end <= e)
        });
        if candidates.is_empty() {
            out.extend_from_slice(text);
            return false;
        }
        candidates.sort_by_key(|c| (c.start, !c.labelled, std::cmp::Reverse(c.end)));
        let mut merged: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            match merged.last_mut() {
                Some(last) if candidate.start < last.end => last.end = last.end.max(candidate.end),
                _ => merged.push(candidate),
            }
        }
        let mut position = 0;
        for candidate in merged {
            out.extend_from_slice(text.get(position..candidate.start).unwrap_or_default());
            let value = text.get(candidate.start..candidate.end).unwrap_or_default();
            self.write_replacement(candidate.family, value, out);
            report.add(candidate.family);
            position = candidate.end;
        }
        out.extend_from_slice(text.get(position..).unwrap_or_default());
        true
    }

    /// Appends what replaces `value`: its token, after the kept ZIP digits
    /// when the policy keeps three.
    pub(crate) fn write_replacement(&self, family: Family, value: &[u8], out: &mut Vec<u8>) {
        if family == Family::Zip && self.zip == ZipPolicy::KeepThreeDigits {
            out.extend_from_slice(&zip_prefix(value));
        }
        self.tokenizer.write_token(family, value, out);
    }

    /// Whether the whole of `text` is one allowlisted term.
    pub(crate) fn is_allowlisted(&self, text: &str) -> bool {
        self.allowed_spans(text.as_bytes())
            .iter()
            .any(|&(s, e)| s == 0 && e == text.len())
    }

    fn allowed_spans(&self, text: &[u8]) -> Vec<(usize, usize)> {
        self.allow.as_ref().map_or_else(Vec::new, |allow| {
            allow
                .find_iter(text)
                .map(|m| (m.start(), m.end()))
                .collect()
        })
    }

    fn label_candidates(&self, text: &[u8], out: &mut Vec<Candidate>) {
        let hits: Vec<(usize, usize, LabelTarget)> = self
            .labels
            .find_iter(text)
            .filter(|hit| label_stands_alone(text, hit.start(), hit.end()))
            .filter_map(|hit| {
                let target = *self.label_targets.get(hit.pattern().as_usize())?;
                Some((hit.start(), hit.end(), target))
            })
            .collect();
        for (index, &(start, end, target)) in hits.iter().enumerate() {
            let line_end = memchr2(b'\n', b'\r', text.get(end..).unwrap_or_default())
                .map_or(text.len(), |i| end + i);
            // A free-text value (an address, a run of capitalised words)
            // ends where the next label starts.
            let next_label = hits
                .get(index + 1)
                .map_or(line_end, |next| next.0.min(line_end));
            match target {
                LabelTarget::Value { family, kind } => {
                    let rest_end = if matches!(kind, ValueKind::Address | ValueKind::Name) {
                        next_label
                    } else {
                        line_end
                    };
                    let rest = text.get(end..rest_end).unwrap_or_default();
                    if kind == ValueKind::Age && !age_is_of_a_person(text, start, rest) {
                        continue;
                    }
                    if let Some((s, e)) = self.labelled_value(kind, family, rest) {
                        out.push(Candidate {
                            start: end + s,
                            end: end + e,
                            family,
                            labelled: true,
                        });
                    }
                }
                LabelTarget::Hl7(fields) => {
                    let rest = text.get(end..line_end).unwrap_or_default();
                    hl7_candidates(rest, end, fields, out);
                }
                LabelTarget::DocumentRoot => {
                    let rest = text.get(end..line_end).unwrap_or_default();
                    if let Some((s, e)) =
                        self.labelled_value(ValueKind::PathSegment, Family::Name, rest)
                    {
                        out.push(Candidate {
                            start: end + s,
                            end: end + e,
                            family: Family::Name,
                            labelled: true,
                        });
                    }
                }
            }
        }
    }

    /// The span of the value after a label, relative to `rest`.
    fn labelled_value(
        &self,
        kind: ValueKind,
        family: Family,
        rest: &[u8],
    ) -> Option<(usize, usize)> {
        let index = ValueKind::ALL.iter().position(|k| *k == kind)?;
        let captures = self.values.get(index)?.captures(rest)?;
        let value = captures.get(1)?;
        let (start, mut end) = (value.start(), value.end());
        let trailing: &[u8] = match kind {
            ValueKind::Code => b".-/",
            ValueKind::Address => b" \t,.-",
            ValueKind::Name => b" \t,^",
            _ => b"",
        };
        while end > start && rest.get(end - 1).is_some_and(|c| trailing.contains(c)) {
            end -= 1;
        }
        if kind == ValueKind::Name {
            end = drop_trailing_label(rest, start, end);
        }
        let value = rest.get(start..end)?;
        let digits = value.iter().filter(|c| c.is_ascii_digit()).count();
        let valid = match (kind, family) {
            (ValueKind::Code, _) => digits > 0 && value.len() >= 4,
            (ValueKind::Digits, Family::Card) => (13..=19).contains(&digits),
            (ValueKind::Phone, _) => digits >= 10,
            _ => !value.is_empty(),
        };
        valid.then_some((start, end))
    }

    fn shape_candidates(&self, text: &[u8], out: &mut Vec<Candidate>) {
        for index in &self.set.matches(text) {
            let Some(rule) = self.shapes.get(index) else {
                continue;
            };
            match rule.kind {
                ShapeKind::Builtin(shape) => self.builtin_shape(shape, &rule.regex, text, out),
                ShapeKind::Site(family) => {
                    for m in rule.regex.find_iter(text) {
                        if m.start() < m.end()
                            && checks::stands_alone(text, m.start(), m.end(), Edge::Word)
                        {
                            out.push(shape_candidate(m.start(), m.end(), family));
                        }
                    }
                }
            }
        }
    }

    fn builtin_shape(&self, shape: Shape, regex: &Regex, text: &[u8], out: &mut Vec<Candidate>) {
        let family = shape.family();
        if shape == Shape::StateZip {
            for captures in regex.captures_iter(text) {
                if let (Some(whole), Some(zip)) = (captures.get(0), captures.get(1))
                    && checks::stands_alone(text, whole.start(), zip.end(), Edge::Number)
                {
                    out.push(shape_candidate(zip.start(), zip.end(), family));
                }
            }
            return;
        }
        for m in regex.find_iter(text) {
            let (start, end) = (m.start(), m.end());
            let value = m.as_bytes();
            let keep = match shape {
                Shape::Email => {
                    checks::stands_alone(text, start, end, Edge::Word) && !self.keeps_email(value)
                }
                Shape::Url => {
                    url::candidates(text, start, end, &self.keep_url_hosts, out);
                    false
                }
                Shape::Ssn => {
                    checks::stands_alone(text, start, end, Edge::Number) && checks::is_ssn(value)
                }
                Shape::Phone => {
                    checks::stands_alone(text, start, end, Edge::Number)
                        && checks::is_nanp_phone(value)
                }
                Shape::Card => {
                    checks::stands_alone(text, start, end, Edge::Number) && checks::is_card(value)
                }
                Shape::Mbi | Shape::Street | Shape::PoBox | Shape::InlineImage => {
                    checks::stands_alone(text, start, end, Edge::Word)
                }
                Shape::Vin => {
                    checks::stands_alone(text, start, end, Edge::Word) && checks::is_vin(value)
                }
                Shape::Ipv4 => {
                    checks::stands_alone(text, start, end, Edge::Dotted)
                        && !checks::looks_like_version(text, start)
                        && parse_ip(value).is_some_and(|ip| !checks::keep_ip(ip, &self.ip))
                }
                Shape::Ipv6 => {
                    value.contains(&b':')
                        && checks::stands_alone(text, start, end, Edge::Hex)
                        && parse_ip(value)
                            .is_some_and(|ip| ip.is_ipv6() && !checks::keep_ip(ip, &self.ip))
                }
                Shape::StateZip => false,
            };
            if keep {
                out.push(shape_candidate(start, end, family));
            }
        }
    }

    fn keeps_email(&self, email: &[u8]) -> bool {
        let Some(at) = memchr::memrchr(b'@', email) else {
            return false;
        };
        let domain = email.get(at + 1..).unwrap_or_default().to_ascii_lowercase();
        self.keep_email_domains
            .iter()
            .any(|kept| host_within(&domain, kept))
    }
}

/// Whether `host` is `domain` or one of its subdomains.
pub(crate) fn host_within(host: &[u8], domain: &[u8]) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|head| head.last() == Some(&b'.'))
}

const fn shape_candidate(start: usize, end: usize, family: Family) -> Candidate {
    Candidate {
        start,
        end,
        family,
        labelled: false,
    }
}

fn parse_ip(value: &[u8]) -> Option<std::net::IpAddr> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Where the block starting `text` should end: after the first newline at
/// or beyond `size`, or at the end of `text`.
pub(crate) fn block_end(text: &[u8], size: usize) -> usize {
    if text.len() <= size {
        return text.len();
    }
    memchr::memchr(b'\n', text.get(size..).unwrap_or_default()).map_or(text.len(), |i| size + i + 1)
}

/// Spans of the tokens already in `text`.
fn token_spans(text: &[u8]) -> Vec<(usize, usize)> {
    memmem::find_iter(text, b"[PHI:")
        .filter_map(|start| {
            let len = token_len(text.get(start..)?)?;
            Some((start, start + len))
        })
        .collect()
}

/// A label must be a word of its own where it begins or ends with one; `_`
/// separates words here (`mrn_00123456`, `pt_name`).
fn label_stands_alone(text: &[u8], start: usize, end: usize) -> bool {
    let alnum = |i: Option<usize>| {
        i.and_then(|i| text.get(i))
            .is_some_and(u8::is_ascii_alphanumeric)
    };
    let first = alnum(Some(start));
    let last = alnum(end.checked_sub(1));
    let before = alnum(start.checked_sub(1));
    let after = alnum(Some(end));
    !((first && before) || (last && after))
}

/// A name runs on over capitalised words, so `Guarantor: Marcus Lee Acct: …`
/// would take `Acct`: a last word followed by `:` or `=` is a label, not a
/// name.
fn drop_trailing_label(rest: &[u8], start: usize, mut end: usize) -> usize {
    let follows = |end: usize| {
        rest.get(end..)
            .unwrap_or_default()
            .trim_ascii_start()
            .first()
            .is_some_and(|c| matches!(c, b':' | b'='))
    };
    while follows(end) {
        let Some(cut) = rest.get(start..end).and_then(|value| {
            value
                .iter()
                .rposition(|c| matches!(c, b' ' | b'\t' | b',' | b'^'))
        }) else {
            return start;
        };
        end = start + cut;
        while end > start
            && rest
                .get(end - 1)
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b',' | b'^'))
        {
            end -= 1;
        }
    }
    end
}

/// `Age: 92` is a person; `Max password age: 90 days` is a policy.
fn age_is_of_a_person(text: &[u8], label_start: usize, rest: &[u8]) -> bool {
    let before = text
        .get(label_start.saturating_sub(20)..label_start)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let policy_words: [&[u8]; 6] = [b"password", b"max", b"min", b"cache", b"log", b"retention"];
    if policy_words
        .iter()
        .any(|w| memmem::find(&before, w).is_some())
    {
        return false;
    }
    let after_digits: Vec<u8> = rest
        .iter()
        .skip_while(|c| !c.is_ascii_digit())
        .skip_while(|c| c.is_ascii_digit())
        .skip_while(|c| c.is_ascii_whitespace())
        .take(5)
        .map(u8::to_ascii_lowercase)
        .collect();
    let units: [&[u8]; 7] = [b"d", b"day", b"hour", b"min", b"sec", b"week", b"month"];
    !units.iter().any(|unit| {
        after_digits.starts_with(unit)
            && after_digits
                .get(unit.len())
                .is_none_or(|c| !c.is_ascii_lowercase() || *c == b's')
    })
}

/// Candidates for the identifying fields of one HL7 v2 segment; `rest`
/// starts at field 1 and `offset` is its position in the pass text.
fn hl7_candidates(rest: &[u8], offset: usize, fields: &[(u16, Family)], out: &mut Vec<Candidate>) {
    let mut position = 0;
    for (index, field) in rest.split(|c| *c == b'|').enumerate() {
        let number = u16::try_from(index + 1).unwrap_or(u16::MAX);
        let start = position;
        position += field.len() + 1;
        let Some(&(_, family)) = fields.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        let is_token = token_len(field) == Some(field.len());
        if !field.is_empty() && !is_token && field.iter().any(|c| !c.is_ascii_whitespace()) {
            out.push(Candidate {
                start: offset + start,
                end: offset + start + field.len(),
                family,
                labelled: true,
            });
        }
    }
}

/// The three digits kept before a ZIP token, `000` for restricted areas.
fn zip_prefix(value: &[u8]) -> [u8; 3] {
    let mut prefix = [b'0'; 3];
    for (slot, digit) in prefix
        .iter_mut()
        .zip(value.iter().filter(|c| c.is_ascii_digit()))
    {
        *slot = *digit;
    }
    if checks::RESTRICTED_ZIP3.contains(&&prefix) {
        [b'0'; 3]
    } else {
        prefix
    }
}
