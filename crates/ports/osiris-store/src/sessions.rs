//! Browser sessions and API bearer tokens. Both are stored only as the
//! [`TokenHash`] of the secret the client holds.

use chrono::{DateTime, Utc};
use osiris_core::{TokenId, UserId};

use crate::{BoxFuture, TenantScope, TokenHash, User};

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The hash of the cookie value.
    pub hash: TokenHash,
    /// Whose session.
    pub user_id: UserId,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it ends unless extended (idle timeout).
    pub expires_at: DateTime<Utc>,
}

/// A session to start.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The hash of the new cookie value.
    pub hash: TokenHash,
    /// Whose session.
    pub user_id: UserId,
    /// When it ends unless extended.
    pub expires_at: DateTime<Utc>,
}

/// An API bearer token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Its id, for listing and revoking.
    pub id: TokenId,
    /// Whose token: requests with it act as this user.
    pub user_id: UserId,
    /// What it is for, as named by its owner.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its id, chosen by the caller.
    pub id: TokenId,
    /// Its owner; must be visible to the caller.
    pub user_id: UserId,
    /// What it is for.
    pub name: String,
    /// The hash of the secret shown once to the owner.
    pub hash: TokenHash,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Sessions and tokens. Lookups by hash are unscoped: they are how a
/// request becomes authenticated. Management calls take the scope, and
/// visibility follows the owning user.
pub trait SessionStore {
    /// Starts a session after a successful login.
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Session>;

    /// The live session with this hash and its user; an unknown or expired
    /// session is `NotFound`.
    fn session_user<'a>(
        &'a self,
        hash: &'a TokenHash,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, (Session, User)>;

    /// Moves a live session's expiry (sliding idle timeout).
    fn extend_session<'a>(
        &'a self,
        hash: &'a TokenHash,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Session>;

    /// Ends one session (logout). Ending an unknown session is not an error.
    fn end_session<'a>(&'a self, hash: &'a TokenHash) -> BoxFuture<'a, ()>;

    /// Ends every session of a visible user (password change, lock);
    /// returns how many.
    fn end_user_sessions<'a>(&'a self, scope: &'a TenantScope, user: UserId) -> BoxFuture<'a, u64>;

    /// Creates an API token for a visible user.
    fn create_token<'a>(
        &'a self,
        scope: &'a TenantScope,
        token: &'a NewToken,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApiToken>;

    /// The unrevoked, unexpired token with this hash and its user; anything
    /// else is `NotFound`.
    fn token_user<'a>(
        &'a self,
        hash: &'a TokenHash,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, (ApiToken, User)>;

    /// Revokes a visible token; revoking again keeps the first time.
    fn revoke_token<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: TokenId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApiToken>;

    /// A visible user's tokens, newest first.
    fn list_tokens<'a>(
        &'a self,
        scope: &'a TenantScope,
        user: UserId,
    ) -> BoxFuture<'a, Vec<ApiToken>>;
}
