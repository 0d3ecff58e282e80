//! URLs: the host stays (evidence needs to know what was contacted), the
//! personal parts go: user info, query and fragment, and paths that carry a
//! long number or a user's home.

use crate::engine::Candidate;
use crate::family::Family;
use crate::scan::host_within;

/// Punctuation that ends a sentence rather than a URL.
const TRAILING: &[u8] = b".,;:!?)'\"";

/// Pushes the personal parts of the URL `text[start..end]` as candidates.
pub(crate) fn candidates(
    text: &[u8],
    start: usize,
    mut end: usize,
    keep_hosts: &[Vec<u8>],
    out: &mut Vec<Candidate>,
) {
    while end > start && text.get(end - 1).is_some_and(|c| TRAILING.contains(c)) {
        end -= 1;
    }
    let Some(url) = text.get(start..end) else {
        return;
    };
    let Some(scheme_end) = memchr::memmem::find(url, b"://").map(|i| i + 3) else {
        return;
    };
    let after_scheme = url.get(scheme_end..).unwrap_or_default();
    let authority_len = after_scheme
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(after_scheme.len());
    let authority = after_scheme.get(..authority_len).unwrap_or_default();
    let host = match memchr::memrchr(b'@', authority) {
        Some(at) => {
            push(out, start + scheme_end, start + scheme_end + at);
            authority.get(at + 1..).unwrap_or_default()
        }
        None => authority,
    };
    let host_name = host
        .split(|c| *c == b':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if keep_hosts.iter().any(|kept| host_within(&host_name, kept)) {
        return;
    }
    let rest_start = start + scheme_end + authority_len;
    let rest = text.get(rest_start..end).unwrap_or_default();
    if rest.len() <= 1 {
        return;
    }
    let query = rest.iter().position(|c| matches!(c, b'?' | b'#'));
    let path = rest.get(..query.unwrap_or(rest.len())).unwrap_or_default();
    if is_personal_path(path) {
        push(out, rest_start, end);
    } else if let Some(q) = query
        && rest.len() > q + 1
    {
        push(out, rest_start + q, end);
    }
}

fn push(out: &mut Vec<Candidate>, start: usize, end: usize) {
    if start < end {
        out.push(Candidate {
            start,
            end,
            family: Family::Url,
            labelled: false,
        });
    }
}

/// A path segment of five or more digits (a record or account number), or
/// one naming a user (`~jdoe`, `jdoe@…`).
fn is_personal_path(path: &[u8]) -> bool {
    path.split(|c| *c == b'/').any(|segment| {
        (segment.len() >= 5 && segment.iter().all(u8::is_ascii_digit))
            || segment.first() == Some(&b'~')
            || segment.contains(&b'@')
    })
}
