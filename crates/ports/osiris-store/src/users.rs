//! User accounts, their tenant membership and login throttling.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use osiris_core::{ClientId, PartnerId, SiteId, UserId};

use crate::{BoxFuture, PasswordHash, TenantScope};

text_enum!(
    /// What a user may do (permissions are the API's business; the store
    /// only keeps the role and derives the tenant scope from it).
    Role {
        /// Everything, platform-wide.
        Admin = "admin",
        /// Operates every tenant.
        Operator = "operator",
        /// An MSP: its clients' sites.
        Partner = "partner",
        /// A practice: read-only, its own sites.
        Client = "client",
        /// Read-only evidence of granted sites.
        Auditor = "auditor",
    }
);

/// A role together with the tenant it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Platform administrator.
    Admin,
    /// Platform operator.
    Operator,
    /// Works for this partner.
    Partner(PartnerId),
    /// Works for this client.
    Client(ClientId),
    /// Audits the sites granted with [`UserStore::grant_auditor_site`].
    Auditor,
}

impl Membership {
    /// The role.
    #[must_use]
    pub const fn role(self) -> Role {
        match self {
            Self::Admin => Role::Admin,
            Self::Operator => Role::Operator,
            Self::Partner(_) => Role::Partner,
            Self::Client(_) => Role::Client,
            Self::Auditor => Role::Auditor,
        }
    }
}

/// A login name: 1 to 64 of `a-z 0-9 . _ @ -`, compared case-insensitively
/// (it is kept lowercased).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// The normalised name, if `name` is acceptable.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        let lowered = name.to_ascii_lowercase();
        let valid = (1..=64).contains(&lowered.len())
            && lowered
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b));
        valid.then_some(Self(lowered))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Login name.
    pub username: Username,
    /// Role and tenant.
    pub membership: Membership,
    /// PHC hash of the password.
    pub password_hash: PasswordHash,
    /// Failed logins since the last success or lock.
    pub failed_logins: u32,
    /// Logins are refused until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether logins are refused at `now`.
    #[must_use]
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Its id, chosen by the caller.
    pub id: UserId,
    /// Login name; unique.
    pub username: Username,
    /// Role and tenant; the tenant must be visible to the caller, and
    /// admins, operators and auditors need the platform scope.
    pub membership: Membership,
    /// PHC hash of the initial password.
    pub password_hash: PasswordHash,
}

/// The lockout rule: after `max_failures` consecutive failures the account
/// is locked for `lock_for`, and the count starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures that lock the account (5 by default in the server config).
    pub max_failures: u32,
    /// How long it stays locked (15 minutes by default).
    pub lock_for: Duration,
}

/// The throttling state after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Consecutive failures counted towards the next lock.
    pub failed_logins: u32,
    /// Set when this failure (or an earlier one) locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Users. A partner scope sees its own users and its clients' users; a
/// client scope sees its own users; the platform sees all.
pub trait UserStore {
    /// Creates a user.
    fn create_user<'a>(
        &'a self,
        scope: &'a TenantScope,
        user: &'a NewUser,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, User>;

    /// One user.
    fn get_user<'a>(&'a self, scope: &'a TenantScope, id: UserId) -> BoxFuture<'a, User>;

    /// Every visible user, by username.
    fn list_users<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<User>>;

    /// The account for a login attempt. Unscoped: this is how a caller
    /// becomes authenticated.
    fn user_by_username<'a>(&'a self, username: &'a Username) -> BoxFuture<'a, User>;

    /// Replaces a visible user's password hash and clears its lockout.
    fn set_password<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: UserId,
        password_hash: &'a PasswordHash,
    ) -> BoxFuture<'a, ()>;

    /// Counts a failed login, locking the account when the policy says so,
    /// in one atomic statement (concurrent failures on two replicas both
    /// count). Unscoped: part of authentication.
    fn record_failed_login(
        &self,
        id: UserId,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, LoginThrottle>;

    /// Clears the failure count and stamps the login. Unscoped: part of
    /// authentication.
    fn record_successful_login(&self, id: UserId, now: DateTime<Utc>) -> BoxFuture<'_, ()>;

    /// Lets a visible auditor read a visible site's evidence.
    fn grant_auditor_site<'a>(
        &'a self,
        scope: &'a TenantScope,
        auditor: UserId,
        site: SiteId,
    ) -> BoxFuture<'a, ()>;
}
