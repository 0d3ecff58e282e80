//! Newtype identifiers. Mixing up a site and an appliance is a compile
//! error, and every id is parsed (never trusted) at the edge.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string is not a UUID in its hyphenated form.
    #[error("{kind} must be a UUID like 0a1b2c3d-0000-4000-8000-000000000000, got {value:?}")]
    NotUuid {
        /// Which id was being parsed.
        kind: &'static str,
        /// The offending input, truncated.
        value: String,
    },
    /// The string is not a runbook id of the form `RB-WIN-PATCH-001`.
    #[error(
        "runbook id must look like RB-WIN-PATCH-001 (RB-, platform, name, 3 digits), got {0:?}"
    )]
    BadRunbookId(String),
}

fn truncated(value: &str) -> String {
    value.chars().take(64).collect()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (v4) id.
            #[must_use]
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The id from its UUID.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                // Only the lowercase hyphenated form: ids name files and
                // appear in signed JSON, so one spelling per id.
                let uuid = Uuid::try_parse(value).map_err(|_| IdError::NotUuid {
                    kind: $kind,
                    value: truncated(value),
                })?;
                if uuid.hyphenated().to_string() != value {
                    return Err(IdError::NotUuid { kind: $kind, value: truncated(value) });
                }
                Ok(Self(uuid))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.hyphenated())
            }
        }
    };
}

uuid_id!(
    /// A managed service provider (the top-level tenant).
    PartnerId, "partner id"
);
uuid_id!(
    /// A practice (the partner's customer); owns sites.
    ClientId, "client id"
);
uuid_id!(
    /// A server or workstation an appliance checks.
    HostId, "host id"
);
uuid_id!(
    /// One stored target credential (its secret is kept only sealed).
    CredentialId, "credential id"
);
uuid_id!(
    /// One API bearer token (the token itself is never stored, only its hash).
    TokenId, "token id"
);
uuid_id!(
    /// A practice location with its own appliance(s).
    SiteId, "site id"
);
uuid_id!(
    /// One on-site appliance; owns one signing key and one evidence chain.
    ApplianceId, "appliance id"
);
uuid_id!(
    /// One evidence bundle.
    BundleId, "bundle id"
);
uuid_id!(
    /// One incident opened by a failed check.
    IncidentId, "incident id"
);
uuid_id!(
    /// One signed order from Central Command.
    OrderId, "order id"
);
uuid_id!(
    /// One user account.
    UserId, "user id"
);

/// A runbook identifier such as `RB-WIN-PATCH-001`: one id space shared by
/// appliance and server.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunbookId(String);

impl RunbookId {
    /// The id as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_runbook_id(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let upper = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_uppercase());
    match parts.as_slice() {
        [rb, platform, name, number] => {
            *rb == "RB"
                && upper(platform)
                && upper(name)
                && number.len() == 3
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

impl FromStr for RunbookId {
    type Err = IdError;
    fn from_str(value: &str) -> Result<Self, IdError> {
        if is_runbook_id(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(IdError::BadRunbookId(truncated(value)))
        }
    }
}

impl TryFrom<String> for RunbookId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        value.parse()
    }
}

impl From<RunbookId> for String {
    fn from(id: RunbookId) -> String {
        id.0
    }
}

impl fmt::Display for RunbookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RunbookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RunbookId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn uuid_ids_round_trip_through_strings_and_json() {
        let site = SiteId::random();
        assert_eq!(site.to_string().parse::<SiteId>().unwrap(), site);
        let json = serde_json::to_string(&site).unwrap();
        assert_eq!(serde_json::from_str::<SiteId>(&json).unwrap(), site);
    }

    #[test]
    fn uuid_ids_accept_only_the_lowercase_hyphenated_form() {
        let upper = "0A1B2C3D-0000-4000-8000-000000000000";
        assert!(upper.parse::<ApplianceId>().is_err());
        assert!(
            "0a1b2c3d000040008000000000000000"
                .parse::<ApplianceId>()
                .is_err()
        );
        assert!("../../etc/passwd".parse::<ApplianceId>().is_err());
        let err = "nope".parse::<SiteId>().unwrap_err();
        assert!(err.to_string().contains("site id"), "{err}");
    }

    #[test]
    fn runbook_ids_follow_the_catalog_pattern() {
        for good in ["RB-WIN-PATCH-001", "RB-LNX-FIREWALL-012", "RB-WIN-AD-001"] {
            assert_eq!(good.parse::<RunbookId>().unwrap().as_str(), good);
        }
        for bad in [
            "",
            "RB-WIN-PATCH-01",
            "rb-win-patch-001",
            "RB-WIN-PATCH-0001",
            "RB--X-001",
            "RB-WIN-PATCH-001-X",
            "XX-WIN-PATCH-001",
        ] {
            assert!(bad.parse::<RunbookId>().is_err(), "{bad} accepted");
        }
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_strings_never_panics(value in ".*") {
            let _ = value.parse::<SiteId>();
            let _ = value.parse::<RunbookId>();
        }
    }
}
