//! The hot path: one byte-level walk over a block that finds every place an
//! identifier can start, and runs a precise check only there.
//!
//! The walk splits the text into words (runs of ASCII letters and digits)
//! and the bytes between them. A word is looked at once: its first byte and
//! length say which shapes can start there (a 3-digit run before `-` may be
//! an SSN or phone, 1–3 digits before `.` an IPv4 address, …); one sieve
//! lookup on its first two letters and length, then a hash of the word,
//! say whether a label can start there (so the anchored label automaton
//! runs on a few words only) or a street suffix ends an address there
//! (the house number is then looked for behind it). Between words, `[`
//! may open a token (skipped whole), `@` an email and `:` a URL, an IPv6
//! address or an inline image. Words are found eight bytes at a time; see
//! `benches/scrub.rs` for what the walk costs.

use aho_corasick::{
    AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, Input, MatchKind, StartKind,
};
use regex::bytes::Regex;

use crate::checks::{self, Edge};
use crate::config::{IpPolicy, ScrubConfig};
use crate::engine::{Candidate, compile};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::key::token_len;
use crate::rules::{HL7_SEGMENTS, LABEL_RULES, ValueKind};
use crate::shapes::{self, at, before, digits};
use crate::url;

/// What a label hit leads to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LabelTarget {
    Value { family: Family, kind: ValueKind },
    Hl7(&'static [(u16, Family)]),
    DocumentRoot,
}

/// A label found in the text: where it is and what follows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelHit {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) target: LabelTarget,
}

/// What one walk over a block found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Shapes found without a label.
    pub(crate) candidates: Vec<Candidate>,
    /// Labels, in text order, not overlapping.
    pub(crate) labels: Vec<LabelHit>,
    /// Tokens already in the text.
    pub(crate) tokens: Vec<(usize, usize)>,
}

impl Found {
    /// Empties the lists, keeping their memory for the next walk.
    pub(crate) fn clear(&mut self) {
        self.candidates.clear();
        self.labels.clear();
        self.tokens.clear();
    }
}

/// Shapes whose grammar is too loose to write by hand, anchored at the
/// place the walk proposes. Group-free; `\A` because the haystack is the
/// text from that place on.
const EMAIL: &str = r"\A[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}";
const CARD: &str = r"\A(?:\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7}|\d{4}[ \-]\d{6}[ \-]\d{4,5})";
const STREET_PATTERN: &str = r"\A\d{1,6}[ \t]+(?:[NSEW]\.?[ \t]+)?[A-Za-z0-9.'][A-Za-z0-9.' ]{0,38}?[ \t](?i:St|Street|Ave|Avenue|Rd|Road|Blvd|Boulevard|Dr|Drive|Ln|Lane|Ct|Court|Way|Pl|Place|Ter|Terrace|Pkwy|Parkway|Hwy|Highway|Cir|Circle)\.?(?-u:\b)(?:[ \t,]*(?i:Apt|Suite|Ste|Unit|#)\.?[ \t]*[A-Za-z0-9\-]+)?";

/// How far before its suffix word a street address can start: six digits,
/// blanks, a direction and the pattern's 40 characters of street name.
const STREET_REACH: usize = 64;

/// Which words may start a label or end a street address. A first sieve,
/// one lookup per word, is indexed by the first two letters and the length
/// (no hashing) and holds two bits per slot: [`LABEL`] and [`STREET`]. A
/// word that may start a label must then be in a 16384-bit set of hashes
/// of whole first words, letters folded to lower case, and the one or two
/// bytes after it must be what some label with that first word continues
/// with (a second 16384-bit set): IT text is full of `Group Policy`,
/// `Certificate thumbprint` and `S-1-5-…`, whose first words start labels
/// (`group number`, `certificate no`, `s/n`) but whose next bytes do not.
#[derive(Debug)]
struct LabelGate {
    sieve: Box<[u64; 1024]>,
    hashes: Box<[u64; 256]>,
    follows: Box<[u64; 256]>,
    max_len: usize,
}

/// Sieve bit: some label starts with a word of this shape.
const LABEL: u64 = 1;
/// Sieve bit: some street suffix has this shape.
const STREET: u64 = 2;

fn set_bit(bits: &mut [u64], slot: usize) {
    if let Some(word) = bits.get_mut(slot / 64) {
        *word |= 1 << (slot % 64);
    }
}

fn has_bit(bits: &[u64], slot: usize) -> bool {
    bits.get(slot / 64)
        .is_some_and(|word| word & (1 << (slot % 64)) != 0)
}

/// 15 bits: the low five bits of the first two bytes (case folded, as
/// letters differ from their capitals in bit 5 only) and the length.
fn shape_slot(word: &[u8]) -> usize {
    let low5 = |i: usize| usize::from(word.get(i).copied().unwrap_or(0) & 0x1f);
    (low5(0) << 10) | (low5(1) << 5) | word.len().min(31)
}

impl LabelGate {
    /// The gate for `labels`.
    fn new<'a>(labels: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut gate = Self {
            sieve: Box::new([0; 1024]),
            hashes: Box::new([0; 256]),
            follows: Box::new([0; 256]),
            max_len: 0,
        };
        for label in labels {
            let word = first_word(label);
            let mix = word_mix(word);
            set_bit(gate.sieve.as_mut_slice(), shape_slot(word) * 2);
            set_bit(gate.hashes.as_mut_slice(), top_bits(mix));
            let rest = label.get(word.len()..).unwrap_or_default();
            let follow = rest.get(..2).unwrap_or(rest);
            set_bit(gate.follows.as_mut_slice(), follow_slot(mix, follow));
            gate.max_len = gate.max_len.max(word.len());
        }
        for suffix in shapes::STREET_SUFFIXES {
            set_bit(gate.sieve.as_mut_slice(), shape_slot(suffix) * 2 + 1);
        }
        gate
    }

    /// [`LABEL`] and [`STREET`] bits for `word`, from one lookup.
    fn sieve(&self, word: &[u8]) -> u64 {
        let slot = shape_slot(word) * 2;
        self.sieve
            .get(slot / 64)
            .map_or(0, |bits| (bits >> (slot % 64)) & 3)
    }

    /// Whether a label may start with the word `text[start..end]`.
    fn may_start(&self, text: &[u8], start: usize, end: usize) -> bool {
        let Some(word) = text.get(start..end) else {
            return false;
        };
        if word.len() > self.max_len || self.sieve(word) & LABEL == 0 {
            return false;
        }
        let mix = word_mix(word);
        if !has_bit(self.hashes.as_slice(), top_bits(mix)) {
            return false;
        }
        let follows = |n: usize| {
            text.get(end..end + n)
                .is_some_and(|follow| has_bit(self.follows.as_slice(), follow_slot(mix, follow)))
        };
        follows(0) || follows(1) || follows(2)
    }
}

/// The top 14 bits of `mixed`: a slot in a 16384-bit set.
fn top_bits(mixed: u64) -> usize {
    usize::try_from(mixed >> 50).unwrap_or(0)
}

/// The slot of `word` (as mixed by [`word_mix`]) followed by `follow`, its
/// bytes folded like the word's.
fn follow_slot(mix: u64, follow: &[u8]) -> usize {
    let mut x = mix ^ (u64::try_from(follow.len()).unwrap_or(0) << 16);
    for (k, c) in follow.iter().enumerate() {
        x ^= u64::from(c | 0x20) << (8 * k);
    }
    // Multiplying carries every low input bit into the top bits.
    x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    top_bits(x ^ (x << 21))
}

/// 64 well-mixed bits from the length and the first and last eight bytes
/// of `word`, ASCII letters folded (`| 0x20` leaves digits as they are).
fn word_mix(word: &[u8]) -> u64 {
    let mut head = 0_u64;
    for c in word.iter().take(8) {
        head = (head << 8) | u64::from(c | 0x20);
    }
    let mut tail = 0_u64;
    for c in word.iter().rev().take(8) {
        tail = (tail << 8) | u64::from(c | 0x20);
    }
    let len = u64::try_from(word.len()).unwrap_or(u64::MAX);
    // The MurmurHash3 finaliser: every input bit reaches the top bits.
    let mut mixed = head ^ tail.rotate_left(29) ^ (len << 56);
    mixed ^= mixed >> 33;
    mixed = mixed.wrapping_mul(0xff51_afd7_ed55_8ccd);
    mixed ^= mixed >> 33;
    mixed = mixed.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    mixed ^ (mixed >> 33)
}

/// The first run of letters and digits of a label, which is the whole word
/// the label starts with in any text where it stands alone.
fn first_word(label: &[u8]) -> &[u8] {
    let len = label
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    label.get(..len).unwrap_or_default()
}

/// The compiled walk for one site.
#[derive(Debug)]
pub(crate) struct Scanner {
    labels: AhoCorasick,
    label_targets: Vec<LabelTarget>,
    gate: LabelGate,
    roots: Option<AhoCorasick>,
    email: Regex,
    card: Regex,
    street: Regex,
    ip: IpPolicy,
    keep_email_domains: Vec<Vec<u8>>,
    keep_url_hosts: Vec<Vec<u8>>,
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

fn built_in(family: Family) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> Error {
    move |source| Error::BuiltIn { family, source }
}

impl Scanner {
    pub(crate) fn new(config: &ScrubConfig) -> Result<Self> {
        let mut patterns: Vec<String> = Vec::new();
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
                        patterns.push(variant);
                        label_targets.push(LabelTarget::Value {
                            family: rule.family,
                            kind: rule.kind,
                        });
                    }
                }
            }
        }
        for (segment, fields) in HL7_SEGMENTS {
            patterns.push((*segment).to_owned());
            label_targets.push(LabelTarget::Hl7(fields));
        }
        let gate = LabelGate::new(patterns.iter().map(String::as_bytes));
        let labels = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Anchored)
            // A DFA: one table lookup per byte of each anchored search.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&patterns)
            .map_err(|e| built_in(Family::Name)(Box::new(e)))?;
        let roots: Vec<&String> = config
            .patient_document_roots
            .iter()
            .filter(|r| !r.is_empty())
            .collect();
        let roots = if roots.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&roots)
                    .map_err(|e| built_in(Family::Name)(Box::new(e)))?,
            )
        };
        Ok(Self {
            labels,
            label_targets,
            gate,
            roots,
            email: compile(EMAIL).map_err(|e| built_in(Family::Email)(Box::new(e)))?,
            card: compile(CARD).map_err(|e| built_in(Family::Card)(Box::new(e)))?,
            street: compile(STREET_PATTERN).map_err(|e| built_in(Family::Address)(Box::new(e)))?,
            ip: config.ip.clone(),
            keep_email_domains: lower_all(&config.keep_email_domains),
            keep_url_hosts: lower_all(&config.keep_url_hosts),
        })
    }

    /// Walks `text` once, filling `found`.
    pub(crate) fn scan(&self, text: &[u8], found: &mut Found) {
        let mut i = 0;
        // Words before this offset lie inside the last label found.
        let mut label_end = 0;
        while let Some(&c) = text.get(i) {
            let class = BYTE_CLASS.get(usize::from(c)).copied().unwrap_or(OTHER);
            if class == OTHER {
                // Blanks and punctuation between words come in runs; none
                // of them can start anything.
                i += 1 + other_run(text, i + 1);
                continue;
            }
            if class == TRIGGER {
                match c {
                    b'[' => {
                        if let Some(len) = text.get(i..).and_then(token_len) {
                            found.tokens.push((i, i + len));
                            i += len;
                            continue;
                        }
                    }
                    b'@' => self.email(text, i, &mut found.candidates),
                    _ => self.colon(text, i, &mut found.candidates),
                }
                i += 1;
                continue;
            }
            let end = word_end(text, i);
            if c.is_ascii_digit() {
                self.digit_word(text, i, &mut found.candidates);
            } else {
                let word = text.get(i..end).unwrap_or_default();
                let sieve = self.gate.sieve(word);
                if sieve & LABEL != 0
                    && i >= label_end
                    && let Some(hit) = self.label_at(text, i, end)
                {
                    label_end = hit.end;
                    found.labels.push(hit);
                }
                if sieve & STREET != 0 && shapes::is_street_suffix(word) {
                    self.street(text, i, &mut found.candidates);
                }
                if c.eq_ignore_ascii_case(&b'p')
                    && let Some(box_end) = shapes::po_box(text, i)
                {
                    push_to(
                        text,
                        i,
                        box_end,
                        Edge::Word,
                        Family::Address,
                        &mut found.candidates,
                    );
                }
            }
            self.any_word(text, i, end, &mut found.candidates);
            i = end;
        }
        if let Some(roots) = &self.roots {
            self.add_roots(roots, text, &mut found.labels);
        }
    }

    fn label_at(&self, text: &[u8], start: usize, end: usize) -> Option<LabelHit> {
        if !self.gate.may_start(text, start, end) {
            return None;
        }
        let input = Input::new(text).range(start..).anchored(Anchored::Yes);
        let hit = self.labels.try_find(input).ok()??;
        if !label_stands_alone(text, hit.start(), hit.end()) {
            return None;
        }
        Some(LabelHit {
            start: hit.start(),
            end: hit.end(),
            target: *self.label_targets.get(hit.pattern().as_usize())?,
        })
    }

    /// Document roots are matched anywhere (they start with `\` or `/`),
    /// then merged into the label hits in text order.
    fn add_roots(&self, roots: &AhoCorasick, text: &[u8], labels: &mut Vec<LabelHit>) {
        let before = labels.len();
        labels.extend(
            roots
                .find_iter(text)
                .filter(|m| label_stands_alone(text, m.start(), m.end()))
                .map(|m| LabelHit {
                    start: m.start(),
                    end: m.end(),
                    target: LabelTarget::DocumentRoot,
                }),
        );
        if labels.len() == before {
            return;
        }
        labels.sort_by_key(|hit| (hit.start, std::cmp::Reverse(hit.end)));
        let mut last_end = 0;
        labels.retain(|hit| {
            let keep = hit.start >= last_end;
            if keep {
                last_end = hit.end;
            }
            keep
        });
    }

    /// Shapes that start with a digit: SSN, phone, IPv4, card, MBI, ZIP
    /// after a state, street number.
    fn digit_word(&self, text: &[u8], start: usize, out: &mut Vec<Candidate>) {
        let run = digits(text, start);
        let next = at(text, start + run);
        if run == 3 {
            if matches!(next, b'-' | b' ')
                && let Some(ssn_end) = shapes::ssn(text, start)
                && checks::stands_alone(text, start, ssn_end, Edge::Number)
                && text.get(start..ssn_end).is_some_and(checks::is_ssn)
            {
                out.push(candidate(start, ssn_end, Family::Ssn));
            }
            if matches!(next, b'-' | b'.' | b' ' | b')') {
                self.phone(text, start, out);
            }
        }
        // A dotted quad after a dot or `_` cannot stand alone
        // (`Edge::Dotted`), so the second and later groups of every
        // version and address are not tried.
        if run <= 3 && next == b'.' && !matches!(before(text, start), b'.' | b'_') {
            self.ipv4(text, start, out);
        }
        if run >= 4 && enough_card_digits(text, start) {
            self.card(text, start, out);
        }
        if run == 1
            && next.is_ascii_uppercase()
            && let Some(mbi_end) = shapes::mbi(text, start)
            && checks::stands_alone(text, start, mbi_end, Edge::Word)
        {
            out.push(candidate(start, mbi_end, Family::HealthPlan));
        }
        if run == 5
            && let Some((state, zip_end)) = shapes::state_zip(text, start)
            && checks::stands_alone(text, state, zip_end, Edge::Number)
        {
            out.push(candidate(start, zip_end, Family::Zip));
        }
    }

    /// Shapes that start with a letter or a digit: IPv6 and VIN.
    fn any_word(&self, text: &[u8], start: usize, end: usize, out: &mut Vec<Candidate>) {
        let len = end - start;
        if len <= 4 && at(text, end) == b':' && ipv6_may_start(text, start) {
            let all_hex = text
                .get(start..end)
                .is_some_and(|w| w.iter().all(u8::is_ascii_hexdigit));
            if all_hex {
                self.ipv6(text, start, out);
            }
        }
        if len == 17
            && let Some(word) = text.get(start..end)
            && shapes::vin_chars(word)
            && checks::is_vin(word)
            && checks::stands_alone(text, start, end, Edge::Word)
        {
            out.push(candidate(start, end, Family::Vehicle));
        }
    }

    /// A street address ending in the suffix word at `suffix`: the house
    /// number is one of the numbers before it within the pattern's reach,
    /// leftmost first. Suffix words are rare in IT text; numbers are not.
    fn street(&self, text: &[u8], suffix: usize, out: &mut Vec<Candidate>) {
        if !matches!(before(text, suffix), b' ' | b'\t') {
            return;
        }
        let reach = text
            .get(suffix.saturating_sub(STREET_REACH)..suffix)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'\'' | b' ' | b'\t'))
            .count();
        for number in suffix - reach..suffix {
            let run = digits(text, number);
            if run == 0
                || run > 6
                || checks::is_word(before(text, number))
                || !matches!(at(text, number + run), b' ' | b'\t')
            {
                continue;
            }
            if let Some(end) = anchored_end(&self.street, text, number)
                && checks::stands_alone(text, number, end, Edge::Word)
            {
                out.push(candidate(number, end, Family::Address));
                return;
            }
        }
    }

    fn phone(&self, text: &[u8], group: usize, out: &mut Vec<Candidate>) {
        for start in shapes::phone_starts(text, group) {
            if let Some(end) = shapes::phone(text, start)
                && checks::stands_alone(text, start, end, Edge::Number)
                && text.get(start..end).is_some_and(checks::is_nanp_phone)
            {
                out.push(candidate(start, end, Family::Phone));
                return;
            }
        }
    }

    fn ipv4(&self, text: &[u8], start: usize, out: &mut Vec<Candidate>) {
        // Most addresses in IT logs are kept (private, loopback): that is
        // decided first.
        if let Some(end) = shapes::ipv4(text, start)
            && shapes::ipv4_octets(text, start)
                .is_some_and(|ip| !checks::keep_ip(ip.into(), &self.ip))
            && checks::stands_alone(text, start, end, Edge::Dotted)
            && !checks::looks_like_version(text, start)
        {
            out.push(candidate(start, end, Family::Ip));
        }
    }

    fn ipv6(&self, text: &[u8], start: usize, out: &mut Vec<Candidate>) {
        if let Some(end) = shapes::ipv6(text, start)
            && checks::stands_alone(text, start, end, Edge::Hex)
            && parse_ip(text.get(start..end))
                .is_some_and(|ip| ip.is_ipv6() && !checks::keep_ip(ip, &self.ip))
        {
            out.push(candidate(start, end, Family::Ip));
        }
    }

    fn card(&self, text: &[u8], start: usize, out: &mut Vec<Candidate>) {
        if let Some(end) = anchored_end(&self.card, text, start)
            && checks::stands_alone(text, start, end, Edge::Number)
            && text.get(start..end).is_some_and(checks::is_card)
        {
            out.push(candidate(start, end, Family::Card));
        }
    }

    /// An email around the `@` at `at_sign`: the local part is the run of
    /// local-part bytes before it.
    fn email(&self, text: &[u8], at_sign: usize, out: &mut Vec<Candidate>) {
        let local = text
            .get(..at_sign)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || b"._%+-".contains(c))
            .count();
        if local == 0 {
            return;
        }
        let start = at_sign - local;
        if let Some(end) = anchored_end(&self.email, text, start)
            && checks::stands_alone(text, start, end, Edge::Word)
            && !self.keeps_email(text.get(start..end).unwrap_or_default())
        {
            out.push(candidate(start, end, Family::Email));
        }
    }

    fn keeps_email(&self, email: &[u8]) -> bool {
        let Some(at_sign) = memchr::memrchr(b'@', email) else {
            return false;
        };
        let domain = email
            .get(at_sign + 1..)
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.keep_email_domains
            .iter()
            .any(|kept| host_within(&domain, kept))
    }

    /// `://` of a URL, `::` opening an IPv6 address, or `data:` of an
    /// inline image.
    fn colon(&self, text: &[u8], colon: usize, out: &mut Vec<Candidate>) {
        match at(text, colon + 1) {
            b'/' if at(text, colon + 2) == b'/' => {
                if let Some((start, end)) = shapes::url(text, colon) {
                    url::candidates(text, start, end, &self.keep_url_hosts, out);
                }
            }
            b':' if ipv6_may_start(text, colon) => self.ipv6(text, colon, out),
            b'i' if before(text, colon) == b'a' => {
                if let Some((start, end)) = shapes::inline_image(text, colon) {
                    push_to(text, start, end, Edge::Word, Family::Photo, out);
                }
            }
            _ => {}
        }
    }
}

/// Byte classes of the walk: a byte that neither continues a word nor can
/// start a shape between words is skipped with one table lookup.
const OTHER: u8 = 0;
const WORD: u8 = 1;
/// `[` (a token), `@` (an email) and `:` (a URL, IPv6, inline image).
const TRIGGER: u8 = 2;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds fails the build"
)]
static BYTE_CLASS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            table[c] = WORD;
        }
        c += 1;
    }
    table[b'[' as usize] = TRIGGER;
    table[b'@' as usize] = TRIGGER;
    table[b':' as usize] = TRIGGER;
    table
};

/// How many bytes of class [`OTHER`] follow `start`.
fn other_run(text: &[u8], start: usize) -> usize {
    text.get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&c| BYTE_CLASS.get(usize::from(c)).copied().unwrap_or(OTHER) == OTHER)
        .count()
}

/// Where the word of ASCII letters and digits starting at `start` ends.
/// Eight bytes at a time: a word is usually shorter, so this is one step.
fn word_end(text: &[u8], start: usize) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn splat(byte: u8) -> u64 {
        0x0101_0101_0101_0101 * byte as u64
    }
    let mut p = start;
    while let Some(chunk) = text.get(p..p + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes);
        // Per byte, without carries between bytes: the high bit says
        // "at least" after adding 0x80 minus the bound.
        let low = x & LOW7;
        let digit = (low + splat(0x80 - b'0')) & !(low + splat(0x80 - b'9' - 1));
        let folded = low | splat(0x20);
        let letter = (folded + splat(0x80 - b'a')) & !(folded + splat(0x80 - b'z' - 1));
        let alnum = (digit | letter) & !x & HIGH;
        let stop = !alnum & HIGH;
        if stop != 0 {
            return p + (stop.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    p + text
        .get(p..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count()
}

/// Whether `host` is `domain` or one of its subdomains.
pub(crate) fn host_within(host: &[u8], domain: &[u8]) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|head| head.last() == Some(&b'.'))
}

/// An IPv6 address cannot continue a word, a dotted run or a colon run.
fn ipv6_may_start(text: &[u8], start: usize) -> bool {
    let b = before(text, start);
    !checks::is_word(b) && b != b':' && b != b'.'
}

/// Whether at least 13 digits follow `start`, groups joined by single
/// blanks or hyphens: the fewest a card number has.
fn enough_card_digits(text: &[u8], start: usize) -> bool {
    let mut count = 0;
    let mut p = start;
    loop {
        let run = digits(text, p);
        count += run;
        p += run;
        if count >= 13 {
            return true;
        }
        let joined = matches!(at(text, p), b' ' | b'-') && at(text, p + 1).is_ascii_digit();
        if run == 0 || !joined {
            return false;
        }
        p += 1;
    }
}

fn anchored_end(regex: &Regex, text: &[u8], start: usize) -> Option<usize> {
    regex.find(text.get(start..)?).map(|m| start + m.end())
}

fn parse_ip(value: Option<&[u8]>) -> Option<std::net::IpAddr> {
    std::str::from_utf8(value?).ok()?.parse().ok()
}

const fn candidate(start: usize, end: usize, family: Family) -> Candidate {
    Candidate {
        start,
        end,
        family,
        labelled: false,
    }
}

fn push_to(
    text: &[u8],
    start: usize,
    end: usize,
    edge: Edge,
    family: Family,
    out: &mut Vec<Candidate>,
) {
    if start < end && checks::stands_alone(text, start, end, edge) {
        out.push(candidate(start, end, family));
    }
}

/// A label must be a word of its own where it begins or ends with one; `_`
/// separates words here (`mrn_00123456`, `pt_name`).
pub(crate) fn label_stands_alone(text: &[u8], start: usize, end: usize) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_passes_the_gate_in_any_case() {
        let scanner = Scanner::new(&ScrubConfig::it_evidence()).unwrap();
        let labels = LABEL_RULES
            .iter()
            .flat_map(|rule| rule.labels.iter().copied())
            .chain(HL7_SEGMENTS.iter().map(|(segment, _)| *segment));
        for label in labels {
            for variant in [
                label.to_owned(),
                label.replace(' ', "_"),
                label.replace(' ', ""),
            ] {
                for text in [variant.to_ascii_uppercase(), variant.to_ascii_lowercase()] {
                    let end = first_word(text.as_bytes()).len();
                    assert!(scanner.gate.may_start(text.as_bytes(), 0, end), "{text}");
                }
            }
        }
    }

    #[test]
    fn the_gate_looks_at_what_follows_the_first_word() {
        let scanner = Scanner::new(&ScrubConfig::it_evidence()).unwrap();
        let passes = |text: &str| {
            let end = first_word(text.as_bytes()).len();
            scanner.gate.may_start(text.as_bytes(), 0, end)
        };
        for text in [
            "Group Number: 1",
            "S/N 5",
            "last_name=x",
            "Certificate No. 7",
        ] {
            assert!(passes(text), "{text}");
        }
        // A hash set: a rare phrase may pass, and the automaton turns it
        // away.
        let passed: Vec<&str> = [
            "Group Policy refreshed",
            "S-1-5-21-3623811015",
            "last_hotfix",
            "Certificate thumbprint",
            "Policy \"Password must",
        ]
        .into_iter()
        .filter(|text| passes(text))
        .collect();
        assert!(passed.len() <= 1, "{passed:?}");
    }

    #[test]
    fn the_gate_turns_away_most_it_words() {
        let scanner = Scanner::new(&ScrubConfig::it_evidence()).unwrap();
        let words = "installed cumulative update windows server version service started \
                     listening logon type backup finished subnet mask gateway build bios \
                     password minimum lockout threshold commit buildbot docker image pulled \
                     program files hyperspace size vlan time duration certificate thumbprint \
                     expires route metric open https rows queued epoch download added group \
                     domain admins spooler restarted control manager event running automatic";
        let passed: Vec<&str> = words
            .split_whitespace()
            .filter(|w| scanner.gate.may_start(w.as_bytes(), 0, w.len()))
            .collect();
        assert!(passed.len() <= 3, "{passed:?}");
    }

    #[test]
    fn a_walk_finds_labels_shapes_and_tokens() {
        let scanner = Scanner::new(&ScrubConfig::it_evidence()).unwrap();
        let text = b"Patient Name: Ann Lee [PHI:SSN:abcd:0123456789ab] from 73.162.44.201";
        let mut found = Found::default();
        scanner.scan(text, &mut found);
        assert_eq!(found.labels.len(), 1);
        assert_eq!((found.labels[0].start, found.labels[0].end), (0, 12));
        assert_eq!(found.tokens, vec![(22, 49)]);
        let spans: Vec<_> = found
            .candidates
            .iter()
            .map(|c| (c.start, c.end, c.family))
            .collect();
        assert_eq!(spans, vec![(55, 68, Family::Ip)]);
    }
}
