//! What a limit is counted against: a [`Bucket`] (which limit) and a
//! subject (whose requests).

use std::fmt;

use osiris_core::SiteId;

use crate::{Error, Result};

/// The name of one limit, such as `appliance-sensitive` or `login`.
///
/// Names are `a-z 0-9 - _ .`, 1 to 64 bytes: never a `:`, so a backend's
/// storage key `<prefix><bucket>:<subject>` cannot be forged by a subject.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(&'static str);

impl Bucket {
    /// Sensitive appliance endpoints, counted per site.
    pub const APPLIANCE_SENSITIVE: Self = Self("appliance-sensitive");
    /// Login attempts, counted per username.
    pub const LOGIN: Self = Self("login");

    /// The longest bucket name.
    pub const MAX_LEN: usize = 64;

    /// A bucket with a validated name.
    ///
    /// # Errors
    /// [`Error::InvalidBucket`] when the name is empty, longer than
    /// [`Bucket::MAX_LEN`] or has a character outside `a-z 0-9 - _ .`.
    pub fn new(name: &'static str) -> Result<Self> {
        let reason = if name.is_empty() {
            Some("empty")
        } else if name.len() > Self::MAX_LEN {
            Some("longer than 64 bytes")
        } else if !name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        }) {
            Some("only a-z 0-9 - _ . are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidBucket {
                name: name.to_owned(),
                reason,
            }),
            None => Ok(Self(name)),
        }
    }

    /// The name.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bucket({})", self.0)
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// One counted thing: a bucket and a subject within it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LimitKey {
    bucket: Bucket,
    subject: String,
}

impl LimitKey {
    /// The longest subject, in bytes: a username or an id fits easily, and
    /// a caller cannot grow the limiter's memory with huge keys.
    pub const MAX_SUBJECT_LEN: usize = 256;

    /// A key for `subject` in `bucket`.
    ///
    /// # Errors
    /// [`Error::InvalidSubject`] when the subject is empty or longer than
    /// [`LimitKey::MAX_SUBJECT_LEN`] bytes.
    pub fn new(bucket: Bucket, subject: impl Into<String>) -> Result<Self> {
        let subject = subject.into();
        if subject.is_empty() {
            return Err(Error::InvalidSubject { reason: "empty" });
        }
        if subject.len() > Self::MAX_SUBJECT_LEN {
            return Err(Error::InvalidSubject {
                reason: "longer than 256 bytes",
            });
        }
        Ok(Self { bucket, subject })
    }

    /// The key of one site in `bucket`.
    #[must_use]
    pub fn site(bucket: Bucket, site: SiteId) -> Self {
        Self {
            bucket,
            subject: site.to_string(),
        }
    }

    /// The bucket.
    #[must_use]
    pub const fn bucket(&self) -> Bucket {
        self.bucket
    }

    /// The subject.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_buckets_are_valid_names() {
        for bucket in [Bucket::APPLIANCE_SENSITIVE, Bucket::LOGIN] {
            assert_eq!(Bucket::new(bucket.as_str()).unwrap(), bucket);
        }
    }

    #[test]
    fn a_bucket_name_with_a_colon_or_capital_is_refused() {
        for bad in ["", "a:b", "Login", "with space", "é"] {
            assert!(
                matches!(Bucket::new(bad), Err(Error::InvalidBucket { .. })),
                "{bad:?}"
            );
        }
        let long: &'static str = Box::leak("a".repeat(65).into_boxed_str());
        assert!(Bucket::new(long).is_err());
        assert!(Bucket::new(&long[1..]).is_ok());
    }

    #[test]
    fn an_empty_or_oversized_subject_is_refused() {
        assert!(LimitKey::new(Bucket::LOGIN, "").is_err());
        assert!(LimitKey::new(Bucket::LOGIN, "x".repeat(257)).is_err());
        let key = LimitKey::new(Bucket::LOGIN, "x".repeat(256)).unwrap();
        assert_eq!(key.subject().len(), 256);
    }

    #[test]
    fn a_site_key_uses_the_site_id_as_subject() {
        let site = SiteId::random();
        let key = LimitKey::site(Bucket::APPLIANCE_SENSITIVE, site);
        assert_eq!(key.subject(), site.to_string());
        assert_eq!(key.bucket(), Bucket::APPLIANCE_SENSITIVE);
    }
}
