//! [`Scrubbed`]: proof by type that a value went through the scrubber.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::family::Family;

/// A value that has been through [`crate::Scrubber`], with the count of what
/// was redacted.
///
/// **Invariant:** only this crate constructs it. It has no public
/// constructor, no `Deserialize`, no `DerefMut` and no `map`, so code that
/// demands a `Scrubbed<T>` (the outbound queue, check-in, the planner,
/// notifiers) cannot be handed unscrubbed data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrubbed<T> {
    value: T,
    report: Report,
}

impl<T> Scrubbed<T> {
    pub(crate) const fn new(value: T, report: Report) -> Self {
        Self { value, report }
    }

    /// The scrubbed value.
    pub const fn as_inner(&self) -> &T {
        &self.value
    }

    /// The scrubbed value, giving up the proof.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// How many redactions of each family were made: evidence that scrubbing
    /// ran, kept with the record.
    pub const fn report(&self) -> &Report {
        &self.report
    }
}

impl<T: AsRef<str>> Scrubbed<T> {
    /// The scrubbed text.
    pub fn as_str(&self) -> &str {
        self.value.as_ref()
    }
}

/// Serialises as the bare value: the wire never sees the wrapper, and the
/// report travels separately when wanted.
impl<T: Serialize> Serialize for Scrubbed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// Redaction counts per family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    counts: [u64; Family::ALL.len()],
}

impl Report {
    pub(crate) fn add(&mut self, family: Family) {
        if let Some(count) = self.counts.get_mut(family.index()) {
            *count = count.saturating_add(1);
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }

    /// Redactions made for `family`.
    #[must_use]
    pub fn count(&self, family: Family) -> u64 {
        self.counts.get(family.index()).copied().unwrap_or(0)
    }

    /// All redactions.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0, |sum, c| sum.saturating_add(*c))
    }

    /// Families with at least one redaction, with their counts, in tag order.
    pub fn iter(&self) -> impl Iterator<Item = (Family, u64)> + '_ {
        Family::ALL
            .into_iter()
            .map(|family| (family, self.count(family)))
            .filter(|(_, count)| *count > 0)
    }
}

/// One `FAMILY count` line per family with redactions, then `TOTAL n`.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (family, count) in self.iter() {
            writeln!(f, "{family} {count}")?;
        }
        write!(f, "TOTAL {}", self.total())
    }
}

/// Serialises as an object `{ "SSN": 2, … }` of the non-zero counts.
impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(family, count)| (family.tag(), count)))
    }
}
