//! The one error type of the storage port.

/// The result of a store call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row does not exist, or it belongs to another tenant: the two are
    /// indistinguishable on purpose, so the API answers 404 for both.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked up (`site`, `order`…).
        entity: &'static str,
        /// The id or key that was looked up.
        id: String,
    },
    /// A unique constraint refused the write; `constraint` is one of the
    /// names in [`constraint`], identical on every backend.
    #[error("already exists: unique constraint {constraint} refused the write")]
    Conflict {
        /// The violated constraint.
        constraint: String,
    },
    /// The row exists but its current state forbids the change (an order
    /// already executed cannot fail, a resolved incident cannot resolve).
    #[error("{entity} {id} cannot move from {from} to {to}")]
    IllegalTransition {
        /// What was changed.
        entity: &'static str,
        /// Its id.
        id: String,
        /// The state it is in.
        from: String,
        /// The state that was asked for.
        to: String,
    },
    /// The action is platform-wide (creating a partner, an admin, an
    /// operator) and the scope is a tenant's.
    #[error("{action} needs the platform scope (admin or operator)")]
    OutOfScope {
        /// The refused action.
        action: &'static str,
    },
    /// A stored value does not parse back into its domain type.
    #[error("stored value {table}.{column} is invalid: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The database failed (connection, I/O, migration, SQL).
    #[error("storage backend failed while {context}")]
    Backend {
        /// What the store was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// A `NotFound` for `entity` identified by `id`.
    #[must_use]
    pub fn not_found(entity: &'static str, id: impl std::fmt::Display) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// A `Corrupt` for a stored value that does not parse.
    #[must_use]
    pub fn corrupt(
        table: &'static str,
        column: &'static str,
        reason: impl std::fmt::Display,
    ) -> Self {
        Self::Corrupt {
            table,
            column,
            reason: reason.to_string(),
        }
    }
}

/// The names of the unique constraints, shared by every backend so callers
/// can match a [`Error::Conflict`] without knowing the database.
pub mod constraint {
    /// Partner names are unique.
    pub const PARTNER_NAME: &str = "partners_name_key";
    /// Client names are unique within a partner.
    pub const CLIENT_NAME: &str = "clients_partner_id_name_key";
    /// Site names are unique within a client.
    pub const SITE_NAME: &str = "sites_client_id_name_key";
    /// One appliance per public key.
    pub const APPLIANCE_PUBLIC_KEY: &str = "appliances_public_key_key";
    /// One appliance per claim code.
    pub const APPLIANCE_CLAIM_CODE: &str = "appliances_claim_code_hash_key";
    /// Among unclaimed appliances, one per MAC address.
    pub const APPLIANCE_UNCLAIMED_MAC: &str = "appliances_unclaimed_mac_key";
    /// Host names are unique within a site.
    pub const HOST_NAME: &str = "hosts_site_id_hostname_key";
    /// One evidence bundle per (appliance, seq).
    pub const EVIDENCE_SEQ: &str = "evidence_pkey";
    /// A bundle id appears once.
    pub const EVIDENCE_BUNDLE: &str = "evidence_bundle_id_key";
    /// One server checkpoint per (appliance, seq).
    pub const CHECKPOINT_SEQ: &str = "checkpoints_pkey";
    /// An order nonce is never reused.
    pub const ORDER_NONCE: &str = "orders_nonce_key";
    /// Usernames are unique (case-insensitively: they are stored lowercased).
    pub const USERNAME: &str = "users_username_key";
    /// A session hash appears once.
    pub const SESSION: &str = "sessions_pkey";
    /// A token hash appears once.
    pub const TOKEN_HASH: &str = "api_tokens_token_hash_key";
    /// An incident takes one decision.
    pub const INCIDENT_DECISION: &str = "incident_decisions_pkey";
    /// One promotion in force per partner and pattern.
    pub const PROMOTION_ACTIVE: &str = "promotions_active_pattern_key";
}
