//! YAML to typed values with errors that name file, line, column and field path.

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter, Spanned};

/// One problem in one catalog or rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the catalog root (or as given).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// The field path such as `steps.verify.timeout`; empty for the whole file.
    pub path: String,
    /// What is wrong, lowercase.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Files larger than this are refused before parsing: catalog files are a few kilobytes.
pub(crate) const MAX_FILE_BYTES: usize = 1 << 20;

/// Parses one YAML document into `T`, refusing unknown fields (the types say
/// `deny_unknown_fields`) and reporting the first error precisely.
pub(crate) fn parse_yaml<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Problem> {
    if text.len() > MAX_FILE_BYTES {
        return Err(Problem {
            file: file.to_owned(),
            line: 0,
            column: 0,
            path: String::new(),
            message: format!("file is larger than {MAX_FILE_BYTES} bytes"),
        });
    }
    let mut path = String::new();
    let result =
        serde_saphyr::with_deserializer_from_str_with_options(text, options(), |deserializer| {
            serde_path_to_error::deserialize(deserializer).map_err(|err| {
                path = err.path().to_string();
                err.into_inner()
            })
        });
    result.map_err(|err| {
        let location = err.location();
        let message = DefaultMessageFormatter
            .format_message(err.without_snippet())
            .into_owned();
        Problem {
            file: file.to_owned(),
            line: location.map_or(0, |l| l.line()),
            column: location.map_or(0, |l| l.column()),
            path: clean_path(&path),
            message: lowercase_first(&message),
        }
    })
}

/// YAML 1.2 booleans only: `y`, `yes`, `on` stay strings, so a rule that
/// compares a field with `y` compares with the text the author wrote.
fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// A problem found after parsing, located by its field path.
pub(crate) fn problem_at(file: &str, text: &str, path: &str, message: String) -> Problem {
    let (line, column) = locate(text, path).unwrap_or((0, 0));
    Problem {
        file: file.to_owned(),
        line,
        column,
        path: path.to_owned(),
        message,
    }
}

/// `serde_path_to_error` writes `.` for the root and `?` where it lost track (inside a syntax error).
fn clean_path(path: &str) -> String {
    let known: Vec<&str> = path
        .split('.')
        .take_while(|segment| !segment.is_empty() && *segment != "?")
        .collect();
    known.join(".")
}

fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !chars.as_str().starts_with(|c: char| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => message.to_owned(),
    }
}

/// Finds the line and column of a field path (`rules[2].action_params.runbook_id`)
/// by parsing the file again into a tree that keeps every node's location.
/// Falls back to the deepest ancestor that exists.
pub(crate) fn locate(text: &str, path: &str) -> Option<(u64, u64)> {
    let root: Spanned<Node> = serde_saphyr::from_str_with_options(text, options()).ok()?;
    let mut here = &root;
    let mut found = (here.referenced.line(), here.referenced.column());
    for segment in segments(path) {
        let next = match (&here.value, segment) {
            (Node::Map(entries), Segment::Key(key)) => {
                entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            (Node::Seq(items), Segment::Index(index)) => items.get(index),
            _ => None,
        };
        let Some(next) = next else { break };
        here = next;
        found = (here.referenced.line(), here.referenced.column());
    }
    (found.0 > 0).then_some(found)
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.')
        .filter(|part| !part.is_empty())
        .flat_map(|part| {
            let (key, rest) = part.split_once('[').unwrap_or((part, ""));
            let key = (!key.is_empty()).then_some(Segment::Key(key));
            let indexes = rest
                .split('[')
                .filter_map(|index| index.trim_end_matches(']').parse().ok().map(Segment::Index));
            key.into_iter().chain(indexes)
        })
}

/// A YAML tree that only remembers structure and locations.
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any yaml node")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Spanned<Node>>()? {
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn paths_are_located_at_their_value() {
        let text = "id: a\nsteps:\n  verify:\n    timeout: 3q\nrules:\n  - id: x\n  - id: y\n    action_params:\n      runbook_id: Z\n";
        assert_eq!(locate(text, "steps.verify.timeout"), Some((4, 14)));
        assert_eq!(
            locate(text, "rules[1].action_params.runbook_id"),
            Some((9, 19))
        );
        // An absent leaf falls back to its deepest existing ancestor.
        assert_eq!(locate(text, "rules[1].nope"), locate(text, "rules[1]"));
    }

    proptest! {
        #[test]
        fn locating_in_arbitrary_text_never_panics(text in "[a-z:\\- \\[\\]\n{}0-9]{0,80}", path in "[a-z.\\[\\]0-9]{0,16}") {
            let _ = locate(&text, &path);
        }
    }
}
