//! Hand-written matchers for the unlabelled shapes that a byte-level scan
//! can check in a few comparisons: SSN, phone, IPv4, IPv6, MBI, VIN, a ZIP
//! after a state code, P.O. boxes, URLs and inline images.
//!
//! Each matcher is called at a place the scan found plausible (a word
//! start, a `:` or `@`) and returns where the match ends, with the
//! semantics of the regular expression documented on it: greedy, leftmost
//! first, no backtracking into a shorter digit run. Whether the match
//! stands alone, and checksums, are the caller's business (`checks`).

/// The byte at `i`, or 0 (a non-word byte) outside `text`.
pub(crate) fn at(text: &[u8], i: usize) -> u8 {
    text.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
pub(crate) fn before(text: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(0, |j| at(text, j))
}

/// How many ASCII digits start at `i`.
pub(crate) fn digits(text: &[u8], i: usize) -> usize {
    text.get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count()
}

/// `\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}` at `start`.
pub(crate) fn ssn(text: &[u8], start: usize) -> Option<usize> {
    let sep = at(text, start + 3);
    (digits(text, start) == 3
        && matches!(sep, b'-' | b' ')
        && digits(text, start + 4) == 2
        && at(text, start + 6) == sep
        && digits(text, start + 7) >= 4)
        .then_some(start + 11)
}

/// The national part of a NANP number at `p`:
/// `\(\d{3}\)[ \t]?\d{3}[ .\-]\d{4}|\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4}|\d{3} \d{3} \d{4}`.
fn phone_core(text: &[u8], p: usize) -> Option<usize> {
    if at(text, p) == b'(' {
        if digits(text, p + 1) != 3 || at(text, p + 4) != b')' {
            return None;
        }
        let mut q = p + 5;
        if matches!(at(text, q), b' ' | b'\t') && at(text, q + 1).is_ascii_digit() {
            q += 1;
        }
        return (digits(text, q) == 3
            && matches!(at(text, q + 3), b' ' | b'.' | b'-')
            && digits(text, q + 4) >= 4)
            .then_some(q + 8);
    }
    let sep = at(text, p + 3);
    (digits(text, p) == 3
        && matches!(sep, b'-' | b'.' | b' ')
        && digits(text, p + 4) == 3
        && at(text, p + 7) == sep
        && digits(text, p + 8) >= 4)
        .then_some(p + 12)
}

/// `(?:\+1[ .\-]?|1[ .\-])?` core `(?:[ \t]*(?i:x|ext\.?)[ \t]*\d{1,5})?` at `p`.
pub(crate) fn phone(text: &[u8], p: usize) -> Option<usize> {
    let core_start = match (at(text, p), at(text, p + 1), at(text, p + 2)) {
        (b'+', b'1', b' ' | b'.' | b'-') => p + 3,
        (b'+', b'1', _) => p + 2,
        (b'1', b' ' | b'.' | b'-', _) => p + 2,
        _ => p,
    };
    let end = phone_core(text, core_start)?;
    Some(extension(text, end).unwrap_or(end))
}

/// `[ \t]*(?i:x|ext\.?)[ \t]*\d{1,5}` at `p`.
fn extension(text: &[u8], p: usize) -> Option<usize> {
    let blanks = |i: usize| {
        text.get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t'))
            .count()
    };
    let mut q = p + blanks(p);
    if at(text, q).eq_ignore_ascii_case(&b'x') {
        q += 1;
    } else if text
        .get(q..q + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"ext"))
    {
        q += 3;
        if at(text, q) == b'.' {
            q += 1;
        }
    } else {
        return None;
    }
    q += blanks(q);
    let n = digits(text, q).min(5);
    (n > 0).then_some(q + n)
}

/// Where a phone number whose first 3-digit group starts at `group` may
/// start: with a country code, with a parenthesis, or at the group itself.
/// Leftmost first.
pub(crate) fn phone_starts(text: &[u8], group: usize) -> impl Iterator<Item = usize> {
    let core = if before(text, group) == b'(' {
        group - 1
    } else {
        group
    };
    let back = |n: usize| core.checked_sub(n).map_or(0, |i| at(text, i));
    let with_plus = match (back(3), back(2), back(1)) {
        (b'+', b'1', b' ' | b'.' | b'-') => Some(core - 3),
        (_, b'+', b'1') => Some(core - 2),
        _ => None,
    };
    let with_one = (back(2) == b'1' && matches!(back(1), b' ' | b'.' | b'-')).then(|| core - 2);
    let paren = (core < group).then_some(core);
    [with_plus, with_one, paren, Some(group)]
        .into_iter()
        .flatten()
}

/// `\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}` at `start`.
pub(crate) fn ipv4(text: &[u8], start: usize) -> Option<usize> {
    let mut p = start;
    for group in 0..4 {
        let n = digits(text, p);
        if !(1..=3).contains(&n) {
            return None;
        }
        p += n;
        if group < 3 {
            if at(text, p) != b'.' {
                return None;
            }
            p += 1;
        }
    }
    Some(p)
}

/// The address of the dotted quad at `start` (see [`ipv4`]), if every
/// group is at most 255.
pub(crate) fn ipv4_octets(text: &[u8], start: usize) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0_u8; 4];
    let mut p = start;
    for octet in &mut octets {
        let n = digits(text, p);
        let value = text
            .get(p..p + n)?
            .iter()
            .fold(0_u32, |acc, c| acc * 10 + u32::from(c - b'0'));
        *octet = u8::try_from(value).ok()?;
        p += n + 1;
    }
    Some(octets.into())
}

/// `(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}` at `start`, when it
/// covers the whole run of hex digits and colons there (a longer run could
/// not stand alone) and could be an address: `::` or eight groups.
pub(crate) fn ipv6(text: &[u8], start: usize) -> Option<usize> {
    // One walk: colons, whether two are adjacent, the longest group.
    let (mut colons, mut double, mut group, mut longest) = (0, false, 0, 0);
    let mut p = start;
    loop {
        match at(text, p) {
            b':' => {
                double |= p > start && at(text, p - 1) == b':';
                colons += 1;
                group = 0;
            }
            c if c.is_ascii_hexdigit() => {
                group += 1;
                longest = longest.max(group);
            }
            _ => break,
        }
        p += 1;
    }
    ((2..=7).contains(&colons) && longest <= 4 && (double || colons == 7)).then_some(p)
}

/// The Medicare Beneficiary Identifier at `start`:
/// `[1-9]L A \d -? L A \d -? L L \d \d` where L is a letter other than
/// S, L, O, I, B, Z and A is such a letter or a digit.
pub(crate) fn mbi(text: &[u8], start: usize) -> Option<usize> {
    #[derive(Clone, Copy)]
    enum C {
        First,
        Letter,
        Alnum,
        Digit,
        Dash,
    }
    const SPEC: [C; 13] = [
        C::First,
        C::Letter,
        C::Alnum,
        C::Digit,
        C::Dash,
        C::Letter,
        C::Alnum,
        C::Digit,
        C::Dash,
        C::Letter,
        C::Letter,
        C::Digit,
        C::Digit,
    ];
    let letter =
        |c: u8| c.is_ascii_uppercase() && !matches!(c, b'S' | b'L' | b'O' | b'I' | b'B' | b'Z');
    let mut p = start;
    for class in SPEC {
        let c = at(text, p);
        let ok = match class {
            C::Dash => {
                p += usize::from(c == b'-');
                continue;
            }
            C::First => matches!(c, b'1'..=b'9'),
            C::Letter => letter(c),
            C::Alnum => letter(c) || c.is_ascii_digit(),
            C::Digit => c.is_ascii_digit(),
        };
        if !ok {
            return None;
        }
        p += 1;
    }
    Some(p)
}

/// Whether `word` has the characters of a VIN, `[A-HJ-NPR-Z0-9]{17}` (the
/// check digit is `checks::is_vin`).
pub(crate) fn vin_chars(word: &[u8]) -> bool {
    word.len() == 17
        && word.iter().all(|c| {
            c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'O' | b'Q'))
        })
}

const STATES: [&[u8; 2]; 54] = [
    b"AL", b"AK", b"AZ", b"AR", b"CA", b"CO", b"CT", b"DE", b"DC", b"FL", b"GA", b"HI", b"ID",
    b"IL", b"IN", b"IA", b"KS", b"KY", b"LA", b"ME", b"MD", b"MA", b"MI", b"MN", b"MS", b"MO",
    b"MT", b"NE", b"NV", b"NH", b"NJ", b"NM", b"NY", b"NC", b"ND", b"OH", b"OK", b"OR", b"PA",
    b"RI", b"SC", b"SD", b"TN", b"TX", b"UT", b"VT", b"VA", b"WA", b"WV", b"WI", b"WY", b"PR",
    b"GU", b"VI",
];

/// A ZIP code at `zip` after a state code:
/// `\b(?:STATE),?[ \t]+(\d{5}(?:-\d{4})?)`. Returns where the state code
/// starts and where the ZIP code ends.
pub(crate) fn state_zip(text: &[u8], zip: usize) -> Option<(usize, usize)> {
    if digits(text, zip) != 5 {
        return None;
    }
    let mut p = zip;
    while matches!(before(text, p), b' ' | b'\t') {
        p -= 1;
    }
    if p == zip {
        return None;
    }
    if before(text, p) == b',' {
        p -= 1;
    }
    let state_start = p.checked_sub(2)?;
    let state = text.get(state_start..p)?;
    let boundary = !crate::checks::is_word(before(text, state_start));
    if !boundary || !STATES.iter().any(|s| s.as_slice() == state) {
        return None;
    }
    let end = if at(text, zip + 5) == b'-' && digits(text, zip + 6) >= 4 {
        zip + 10
    } else {
        zip + 5
    };
    Some((state_start, end))
}

/// Street suffixes, lower case.
pub(crate) const STREET_SUFFIXES: [&[u8]; 25] = [
    b"st",
    b"street",
    b"ave",
    b"avenue",
    b"rd",
    b"road",
    b"blvd",
    b"boulevard",
    b"dr",
    b"drive",
    b"ln",
    b"lane",
    b"ct",
    b"court",
    b"way",
    b"pl",
    b"place",
    b"ter",
    b"terrace",
    b"pkwy",
    b"parkway",
    b"hwy",
    b"highway",
    b"cir",
    b"circle",
];

/// Whether `word` is a street suffix (`St`, `Ave`, `Road`, …), any case.
pub(crate) fn is_street_suffix(word: &[u8]) -> bool {
    STREET_SUFFIXES
        .iter()
        .any(|suffix| word.eq_ignore_ascii_case(suffix))
}

/// `(?i:P\.?[ \t]?O\.?[ \t]*Box)[ \t]*\d+` at `start`.
pub(crate) fn po_box(text: &[u8], start: usize) -> Option<usize> {
    let mut p = start;
    if !at(text, p).eq_ignore_ascii_case(&b'p') {
        return None;
    }
    p += 1;
    if at(text, p) == b'.' {
        p += 1;
    }
    if matches!(at(text, p), b' ' | b'\t') {
        p += 1;
    }
    if !at(text, p).eq_ignore_ascii_case(&b'o') {
        return None;
    }
    p += 1;
    if at(text, p) == b'.' {
        p += 1;
    }
    while matches!(at(text, p), b' ' | b'\t') {
        p += 1;
    }
    if !text
        .get(p..p + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"box"))
    {
        return None;
    }
    p += 3;
    while matches!(at(text, p), b' ' | b'\t') {
        p += 1;
    }
    let n = digits(text, p);
    (n > 0).then_some(p + n)
}

/// A web URL whose `://` is at `colon`: `(?i:https?|ftps?|sftp)://` then
/// `[^ \t\n\r"'<>\[\]{}|\\^`]+`. Returns its start and end.
pub(crate) fn url(text: &[u8], colon: usize) -> Option<(usize, usize)> {
    let scheme = |len: usize, names: &[&[u8]]| {
        let start = colon.checked_sub(len)?;
        let word = text.get(start..colon)?;
        names
            .iter()
            .any(|name| word.eq_ignore_ascii_case(name))
            .then_some(start)
    };
    let start = scheme(5, &[b"https"])
        .or_else(|| scheme(4, &[b"http", b"ftps", b"sftp"]))
        .or_else(|| scheme(3, &[b"ftp"]))?;
    let body = colon + 3;
    let len = text
        .get(body..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| !b" \t\n\r\"'<>[]{}|\\^`".contains(c))
        .count();
    (len > 0).then_some((start, body + len))
}

/// An inline image whose `:` (after `data`) is at `colon`:
/// `data:image/[A-Za-z0-9.+\-]+;base64,[A-Za-z0-9+/=]+`. Returns its start
/// and end.
pub(crate) fn inline_image(text: &[u8], colon: usize) -> Option<(usize, usize)> {
    let start = colon.checked_sub(4)?;
    if text.get(start..colon)? != b"data" {
        return None;
    }
    let rest = text.get(colon..)?.strip_prefix(b":image/")?;
    let subtype = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
        .count();
    let rest = rest.get(subtype..)?.strip_prefix(b";base64,")?;
    let data = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        .count();
    let end = colon + b":image/".len() + subtype + b";base64,".len() + data;
    (subtype > 0 && data > 0).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(f: impl Fn(&[u8], usize) -> Option<usize>, text: &str) -> Option<String> {
        f(text.as_bytes(), 0).map(|end| text[..end].to_owned())
    }

    #[test]
    fn ssn_needs_three_two_four_digits_with_one_separator() {
        assert_eq!(whole(ssn, "123-45-6789 x").as_deref(), Some("123-45-6789"));
        assert_eq!(whole(ssn, "123 45 6789").as_deref(), Some("123 45 6789"));
        assert_eq!(whole(ssn, "123-45 6789"), None);
        assert_eq!(whole(ssn, "1234-56-7890"), None);
        assert_eq!(whole(ssn, "123-456-7890"), None);
    }

    #[test]
    fn phones_take_country_code_parentheses_and_extension() {
        for (text, expected) in [
            ("(312) 555-0199 again", "(312) 555-0199"),
            ("(217)555-0142|", "(217)555-0142"),
            ("+1 (630) 555-0187,", "+1 (630) 555-0187"),
            ("+1 212.555.0142 x12", "+1 212.555.0142 x12"),
            ("1-800-555-0100 ext. 42", "1-800-555-0100 ext. 42"),
            ("312 555 0110", "312 555 0110"),
        ] {
            assert_eq!(whole(phone, text).as_deref(), Some(expected), "{text}");
        }
        for text in [
            "312-555.0110",
            "31-555-0110",
            "(312 555-0110",
            "192.168.10.25",
        ] {
            assert_eq!(whole(phone, text), None, "{text}");
        }
    }

    #[test]
    fn phone_starts_look_back_for_country_code_and_parenthesis() {
        let text = b"call +1 (630) 555-0187";
        let group = 9;
        assert_eq!(
            phone_starts(text, group).collect::<Vec<_>>(),
            vec![5, 6, 8, 9]
        );
        assert_eq!(
            phone_starts(b"(773-555-0120)", 1).collect::<Vec<_>>(),
            vec![0, 1]
        );
        let text = b"x 1-800-555-0100";
        assert_eq!(phone_starts(text, 4).collect::<Vec<_>>(), vec![2, 4]);
    }

    #[test]
    fn ipv4_is_four_groups_of_up_to_three_digits() {
        assert_eq!(
            whole(ipv4, "73.162.44.201:80").as_deref(),
            Some("73.162.44.201")
        );
        assert_eq!(whole(ipv4, "1.2.3"), None);
        assert_eq!(whole(ipv4, "1.2.3.4567"), None);
    }

    #[test]
    fn ipv6_needs_a_double_colon_or_eight_groups() {
        assert_eq!(
            whole(ipv6, "2600:1700::1a,").as_deref(),
            Some("2600:1700::1a")
        );
        assert_eq!(
            whole(ipv6, "1:2:3:4:5:6:7:8").as_deref(),
            Some("1:2:3:4:5:6:7:8")
        );
        assert_eq!(whole(ipv6, "::]").as_deref(), Some("::"));
        assert_eq!(whole(ipv6, "08:15:22"), None);
        assert_eq!(whole(ipv6, "00:1A:2B:3C:4D:5E"), None);
        assert_eq!(whole(ipv6, "12345::1"), None);
    }

    #[test]
    fn mbi_follows_the_cms_character_rules() {
        assert_eq!(
            whole(mbi, "1EG4-TE5-MK73").as_deref(),
            Some("1EG4-TE5-MK73")
        );
        assert_eq!(whole(mbi, "2AC3DE4FG56").as_deref(), Some("2AC3DE4FG56"));
        assert_eq!(whole(mbi, "1SG4TE5MK73"), None, "S is excluded");
        assert_eq!(whole(mbi, "0EG4TE5MK73"), None);
    }

    #[test]
    fn state_zip_needs_a_state_code_and_blank_before_five_digits() {
        let text = b"Chicago, IL 60612-1234.";
        assert_eq!(state_zip(text, 12), Some((9, 22)));
        assert_eq!(state_zip(b"IL, 60612", 4), Some((0, 9)));
        assert_eq!(state_zip(b"XX 60612", 3), None);
        assert_eq!(state_zip(b"BIL 60612", 4), None);
        assert_eq!(state_zip(b"IL60612", 2), None);
    }

    #[test]
    fn po_box_url_and_inline_image_shapes() {
        assert_eq!(
            whole(po_box, "P.O. Box 4471,").as_deref(),
            Some("P.O. Box 4471")
        );
        assert_eq!(whole(po_box, "po box12").as_deref(), Some("po box12"));
        assert_eq!(whole(po_box, "port 80"), None);
        let text = b"see https://x.org/a?b=1 now";
        assert_eq!(url(text, 9), Some((4, 23)));
        assert_eq!(url(b"xyz://a", 3), None);
        let text = b"<img src=\"data:image/png;base64,iVBORw0KGgo=\">";
        assert_eq!(inline_image(text, 14), Some((10, 44)));
    }
}
