//! The scrubber: compiled patterns and the pass that turns matches into
//! tokens.
//!
//! A pass walks the text once (`scan`): labels, shapes and existing tokens
//! come out of that walk. Label hits then lead to an anchored value regex or
//! to HL7 v2 fields by position, and the site's own patterns run over the
//! block. Candidates inside existing tokens or allowlisted terms are
//! dropped, overlapping ones merged, and each is replaced by its token.
//!
//! **Invariant:** scrubbing is idempotent. A pass never touches a token, and
//! every line that received a token is passed again until a pass changes
//! nothing, so the output is a fixpoint: scrubbing it again is a no-op.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use memchr::{memchr2, memmem};
use regex::bytes::{Regex, RegexBuilder};

use crate::checks::{self, Edge};
use crate::config::{ScrubConfig, ZipPolicy};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::{ScrubKey, Tokenizer, token_len};
use crate::rules::ValueKind;
use crate::scan::{Found, LabelHit, LabelTarget, Scanner};
use crate::scrubbed::{Report, Scrubbed};

/// Compiled patterns are capped so a site pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// In-memory input is scrubbed in blocks of about this many bytes, each
/// ending at a line end, so that the working set stays in cache.
pub(crate) const BLOCK: usize = 16 << 10;
/// More passes than this over one line would mean a pattern keeps finding
/// matches next to fresh tokens; no input in the test corpus needs more
/// than two.
const MAX_PASSES: usize = 32;

/// A span to redact. `labelled` candidates win ties, so `Fax: …` is a fax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) family: Family,
    pub(crate) labelled: bool,
}

/// Buffers reused by every pass over the lines of one block.
#[derive(Debug, Default)]
struct Scratch {
    found: Found,
    candidates: Vec<Candidate>,
    next: Vec<u8>,
}

/// The PHI scrubber for one site: its key, its choices, its compiled
/// patterns. Building one compiles everything; scrubbing is then pure (no
/// I/O, no clock) and cannot fail.
#[derive(Debug)]
pub struct Scrubber {
    tokenizer: Tokenizer,
    zip: ZipPolicy,
    scanner: Scanner,
    values: Vec<ValueRegexes>,
    site: Vec<(Family, Regex)>,
    allow: Option<AhoCorasick>,
    /// The longest allowlisted term: how far around a candidate to look.
    allow_reach: usize,
}

/// The regexes for one [`ValueKind`]. The value is found with two
/// capture-free searches, separator then value, which the lazy DFA runs;
/// only when those disagree with the whole pattern (the separator had to
/// give bytes back) are its captures asked for, which is slower.
#[derive(Debug)]
struct ValueRegexes {
    whole: Regex,
    separator: Regex,
    value: Regex,
}

impl ValueRegexes {
    fn new(kind: ValueKind) -> Result<Self> {
        let built_in = |e: regex::Error| Error::BuiltIn {
            family: Family::Other,
            source: Box::new(e),
        };
        let (separator, value, after) = kind.parts();
        Ok(Self {
            whole: compile(&kind.pattern()).map_err(built_in)?,
            separator: compile(separator).map_err(built_in)?,
            value: compile(&format!(r"\A(?:{value}){after}")).map_err(built_in)?,
        })
    }

    /// Where the value after a label lies in `rest`, as group 1 of the
    /// whole pattern would say.
    fn value(&self, rest: &[u8]) -> Option<(usize, usize)> {
        // What follows the value is zero-width: the whole match ends
        // where the value does.
        let end = self.whole.find(rest)?.end();
        let start = self.separator.find(rest).map_or(0, |m| m.end());
        if self
            .value
            .find(rest.get(start..)?)
            .is_some_and(|m| start + m.end() == end)
        {
            return Some((start, end));
        }
        let value = self.whole.captures(rest)?.get(1)?;
        Some((value.start(), value.end()))
    }
}

pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

impl Scrubber {
    /// Compiles the patterns for `config`, tokens made under `key`.
    ///
    /// # Errors
    /// [`Error::Pattern`] naming the config field and index of a site
    /// pattern that does not compile.
    pub fn new(key: &ScrubKey, config: &ScrubConfig) -> Result<Self> {
        let values = ValueKind::ALL
            .iter()
            .map(|kind| ValueRegexes::new(*kind))
            .collect::<Result<Vec<_>>>()?;
        let mut site = Vec::new();
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
                site.push((family, regex));
            }
        }
        let allow_terms: Vec<&String> = config.allowlist.iter().filter(|t| !t.is_empty()).collect();
        let allow = if allow_terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&allow_terms)
                    .map_err(|e| Error::BuiltIn {
                        family: Family::Other,
                        source: Box::new(e),
                    })?,
            )
        };
        Ok(Self {
            tokenizer: Tokenizer::new(key),
            zip: config.zip,
            scanner: Scanner::new(config)?,
            values,
            site,
            allow,
            allow_reach: allow_terms.iter().map(|t| t.len()).max().unwrap_or(0),
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

    /// Scrubs one block of whole lines, appending to `out`. Lines without a
    /// candidate are copied as they are; each line with one is rewritten and
    /// then passed again until a pass changes nothing.
    pub(crate) fn scrub_block(&self, block: &[u8], out: &mut Vec<u8>, report: &mut Report) {
        // One set of buffers for the block and every pass over its lines:
        // lines with PHI are passed at least twice, and allocating per pass
        // cost more than the pass over a short line.
        let mut scratch = Scratch::default();
        let mut candidates = Vec::new();
        self.candidates(block, &mut scratch.found, &mut candidates);
        let mut position = 0;
        let mut rest = candidates.as_slice();
        let mut line = Vec::new();
        while let Some(first) = rest.first() {
            let line_start = memchr::memrchr(b'\n', block.get(..first.start).unwrap_or_default())
                .map_or(0, |i| i + 1)
                .max(position);
            // A site pattern may match across a newline: the rewritten span
            // then runs to the end of the line where that match ends.
            let mut line_end = line_end_from(block, first.end);
            let mut count = 1;
            while let Some(next) = rest.get(count)
                && next.start < line_end
            {
                line_end = line_end.max(line_end_from(block, next.end));
                count += 1;
            }
            let (group, tail) = rest.split_at(count.min(rest.len()));
            out.extend_from_slice(block.get(position..line_start).unwrap_or_default());
            line.clear();
            let text = block.get(line_start..line_end).unwrap_or_default();
            self.replace(text, line_start, group, &mut line, report);
            self.settle(&mut line, &mut scratch, report);
            out.extend_from_slice(&line);
            position = line_end;
            rest = tail;
        }
        out.extend_from_slice(block.get(position..).unwrap_or_default());
    }

    /// Passes `line` again until a pass finds nothing more to replace.
    fn settle(&self, line: &mut Vec<u8>, scratch: &mut Scratch, report: &mut Report) {
        for _ in 0..MAX_PASSES {
            self.candidates(line, &mut scratch.found, &mut scratch.candidates);
            if scratch.candidates.is_empty() {
                return;
            }
            scratch.next.clear();
            self.replace(line, 0, &scratch.candidates, &mut scratch.next, report);
            std::mem::swap(line, &mut scratch.next);
        }
    }

    /// What one pass over `text` would replace, into `merged`: sorted,
    /// merged, none inside a token or an allowlisted term. `found` is a
    /// buffer.
    fn candidates(&self, text: &[u8], found: &mut Found, merged: &mut Vec<Candidate>) {
        found.clear();
        merged.clear();
        self.scanner.scan(text, found);
        let candidates = &mut found.candidates;
        self.label_candidates(text, &found.labels, candidates);
        self.site_candidates(text, candidates);
        let tokens = &found.tokens;
        candidates.retain(|c| {
            c.start < c.end
                && !tokens.iter().any(|&(s, e)| c.start < e && s < c.end)
                && !self.allowed(text, c)
        });
        candidates.sort_by_key(|c| (c.start, !c.labelled, std::cmp::Reverse(c.end)));
        for candidate in candidates.iter() {
            match merged.last_mut() {
                Some(last) if candidate.start < last.end => last.end = last.end.max(candidate.end),
                _ => merged.push(*candidate),
            }
        }
    }

    /// Appends `text` (which starts at `offset` of the text the candidates
    /// were found in) with each candidate replaced by its token.
    fn replace(
        &self,
        text: &[u8],
        offset: usize,
        candidates: &[Candidate],
        out: &mut Vec<u8>,
        report: &mut Report,
    ) {
        let mut position = 0;
        for candidate in candidates {
            let start = candidate.start.saturating_sub(offset);
            let end = candidate.end.saturating_sub(offset);
            out.extend_from_slice(text.get(position..start).unwrap_or_default());
            let value = text.get(start..end).unwrap_or_default();
            self.write_replacement(candidate.family, value, out);
            report.add(candidate.family);
            position = end;
        }
        out.extend_from_slice(text.get(position..).unwrap_or_default());
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

    /// Whether `candidate` lies wholly inside an allowlisted term; only the
    /// bytes an enclosing term could cover are searched.
    fn allowed(&self, text: &[u8], candidate: &Candidate) -> bool {
        let Some(allow) = &self.allow else {
            return false;
        };
        let from = candidate.start.saturating_sub(self.allow_reach);
        let to = text.len().min(candidate.end + self.allow_reach);
        allow
            .find_iter(text.get(from..to).unwrap_or_default())
            .any(|m| from + m.start() <= candidate.start && candidate.end <= from + m.end())
    }

    fn site_candidates(&self, text: &[u8], out: &mut Vec<Candidate>) {
        for (family, regex) in &self.site {
            for m in regex.find_iter(text) {
                if m.start() < m.end() && checks::stands_alone(text, m.start(), m.end(), Edge::Word)
                {
                    out.push(Candidate {
                        start: m.start(),
                        end: m.end(),
                        family: *family,
                        labelled: false,
                    });
                }
            }
        }
    }

    fn label_candidates(&self, text: &[u8], hits: &[LabelHit], out: &mut Vec<Candidate>) {
        for (index, hit) in hits.iter().enumerate() {
            let (start, end, target) = (hit.start, hit.end, hit.target);
            let line_end = memchr2(b'\n', b'\r', text.get(end..).unwrap_or_default())
                .map_or(text.len(), |i| end + i);
            // A free-text value (an address, a run of capitalised words)
            // ends where the next label starts.
            let next_label = hits
                .get(index + 1)
                .map_or(line_end, |next| next.start.min(line_end));
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
        let (start, mut end) = self.values.get(index)?.value(rest)?;
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
}

/// Where the line holding `position` ends (its newline excluded).
fn line_end_from(text: &[u8], position: usize) -> usize {
    memchr::memchr(b'\n', text.get(position..).unwrap_or_default())
        .map_or(text.len(), |i| position + i)
}

/// Where the block starting `text` should end: after the first newline at
/// or beyond `size`, or at the end of `text`.
pub(crate) fn block_end(text: &[u8], size: usize) -> usize {
    if text.len() <= size {
        return text.len();
    }
    memchr::memchr(b'\n', text.get(size..).unwrap_or_default()).map_or(text.len(), |i| size + i + 1)
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
