//! Users, login throttling and auditor grants.

use chrono::{DateTime, Utc};
use osiris_core::{ClientId, PartnerId, SiteId, UserId};
use osiris_store::{
    BoxFuture, Error, LockoutPolicy, LoginThrottle, Membership, NewUser, PasswordHash, Role,
    TenantScope, User, UserStore, Username,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_clients, require_site, user_visible};
use crate::db::{backend, count, parse};

macro_rules! user_columns {
    () => {
        "id, username, role, partner_id, client_id, password_hash, failed_logins, locked_until,
         created_at, last_login_at"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    username: String,
    role: String,
    partner_id: Option<Uuid>,
    client_id: Option<Uuid>,
    password_hash: String,
    failed_logins: i64,
    locked_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;
    fn try_from(row: UserRow) -> Result<Self, Error> {
        let role = parse(Role::parse(&row.role), "users", "role", &row.role)?;
        let membership = match (role, row.partner_id, row.client_id) {
            (Role::Admin, None, None) => Membership::Admin,
            (Role::Operator, None, None) => Membership::Operator,
            (Role::Auditor, None, None) => Membership::Auditor,
            (Role::Partner, Some(partner), None) => {
                Membership::Partner(PartnerId::from_uuid(partner))
            }
            (Role::Client, None, Some(client)) => Membership::Client(ClientId::from_uuid(client)),
            _ => {
                return Err(Error::corrupt(
                    "users",
                    "role",
                    "tenant columns do not match the role",
                ));
            }
        };
        Ok(Self {
            id: UserId::from_uuid(row.id),
            username: Username::parse(&row.username)
                .ok_or_else(|| Error::corrupt("users", "username", "not a valid username"))?,
            membership,
            password_hash: PasswordHash::new(row.password_hash),
            failed_logins: count(row.failed_logins, "users", "failed_logins")?,
            locked_until: row.locked_until,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        })
    }
}

/// The user with this id, whatever the scope: for the authentication path.
pub(crate) async fn user_by_id(store: &Store, id: Uuid) -> osiris_store::Result<User> {
    sqlx::query_as::<_, UserRow>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&store.pool)
    .await
    .map_err(backend("reading a user"))?
    .ok_or_else(|| Error::not_found("user", id))?
    .try_into()
}

fn tenant_columns(membership: Membership) -> (Option<Uuid>, Option<Uuid>) {
    match membership {
        Membership::Partner(partner) => (Some(*partner.as_uuid()), None),
        Membership::Client(client) => (None, Some(*client.as_uuid())),
        Membership::Admin | Membership::Operator | Membership::Auditor => (None, None),
    }
}

impl UserStore for Store {
    fn create_user<'a>(
        &'a self,
        scope: &'a TenantScope,
        user: &'a NewUser,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, User> {
        Box::pin(async move {
            // The tenant named by the membership must be inside the scope;
            // platform roles need the platform scope.
            let query = sqlx::query_as::<_, UserRow>(concat!(
                "INSERT INTO users (id, username, role, partner_id, client_id, password_hash, created_at)
                 SELECT $4, $5, $6, $7, $8, $9, $10
                 WHERE ($6 IN ('admin', 'operator', 'auditor') AND $1)
                    OR ($6 = 'partner' AND EXISTS (SELECT 1 FROM partners p WHERE p.id = $7 AND ($1 OR p.id = $2)))
                    OR ($6 = 'client' AND EXISTS (SELECT 1 FROM clients c WHERE c.id = $8 AND ($1 OR c.partner_id = $2 OR c.id = $3)))
                 RETURNING ",
                user_columns!()
            ));
            let (partner, client) = tenant_columns(user.membership);
            let created = bind_clients(query, scope)
                .bind(user.id.as_uuid())
                .bind(user.username.as_str())
                .bind(user.membership.role().as_str())
                .bind(partner)
                .bind(client)
                .bind(user.password_hash.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating a user"))?;
            match (created, user.membership) {
                (Some(row), _) => row.try_into(),
                (None, Membership::Partner(partner)) => Err(Error::not_found("partner", partner)),
                (None, Membership::Client(client)) => Err(Error::not_found("client", client)),
                (None, Membership::Admin | Membership::Operator | Membership::Auditor) => {
                    Err(Error::OutOfScope {
                        action: "creating a platform user",
                    })
                }
            }
        })
    }

    fn get_user<'a>(&'a self, scope: &'a TenantScope, id: UserId) -> BoxFuture<'a, User> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE u.id = $4 AND ",
                user_visible!("u")
            ));
            bind_clients(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading a user"))?
                .ok_or_else(|| Error::not_found("user", id))?
                .try_into()
        })
    }

    fn list_users<'a>(&'a self, scope: &'a TenantScope) -> BoxFuture<'a, Vec<User>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE ",
                user_visible!("u"),
                " ORDER BY u.username"
            ));
            bind_clients(query, scope)
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing users"))?
                .into_iter()
                .map(User::try_from)
                .collect()
        })
    }

    fn user_by_username<'a>(&'a self, username: &'a Username) -> BoxFuture<'a, User> {
        Box::pin(async move {
            sqlx::query_as::<_, UserRow>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE username = $1"
            ))
            .bind(username.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a user"))?
            .ok_or_else(|| Error::not_found("user", username))?
            .try_into()
        })
    }

    fn set_password<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: UserId,
        password_hash: &'a PasswordHash,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let query = sqlx::query(concat!(
                "UPDATE users SET password_hash = $5, failed_logins = 0, locked_until = NULL
                 WHERE users.id = $4 AND ",
                user_visible!("users")
            ));
            let updated = bind_clients(query, scope)
                .bind(id.as_uuid())
                .bind(password_hash.as_str())
                .execute(&self.pool)
                .await
                .map_err(backend("setting a password"))?;
            if updated.rows_affected() == 0 {
                return Err(Error::not_found("user", id));
            }
            Ok(())
        })
    }

    fn record_failed_login(
        &self,
        id: UserId,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> BoxFuture<'_, LoginThrottle> {
        Box::pin(async move {
            // Both CASEs read the old count, so the failure that reaches the
            // limit locks and restarts the count in the same write.
            let (failed, locked_until) = sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
                "UPDATE users SET
                    failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                    locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
                 WHERE id = $1 RETURNING failed_logins, locked_until",
            )
            .bind(id.as_uuid())
            .bind(i64::from(policy.max_failures))
            .bind(now + policy.lock_for)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("counting a failed login"))?
            .ok_or_else(|| Error::not_found("user", id))?;
            Ok(LoginThrottle {
                failed_logins: count(failed, "users", "failed_logins")?,
                locked_until,
            })
        })
    }

    fn record_successful_login(&self, id: UserId, now: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let updated =
                sqlx::query("UPDATE users SET failed_logins = 0, last_login_at = $2 WHERE id = $1")
                    .bind(id.as_uuid())
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(backend("recording a login"))?;
            if updated.rows_affected() == 0 {
                return Err(Error::not_found("user", id));
            }
            Ok(())
        })
    }

    fn grant_auditor_site<'a>(
        &'a self,
        scope: &'a TenantScope,
        auditor: UserId,
        site: SiteId,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            require_site(&self.pool, scope, site).await?;
            let query = sqlx::query_scalar::<_, Uuid>(concat!(
                "SELECT u.id FROM users u WHERE u.id = $4 AND u.role = 'auditor' AND ",
                user_visible!("u")
            ));
            bind_clients(query, scope)
                .bind(auditor.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("checking an auditor"))?
                .ok_or_else(|| Error::not_found("user", auditor))?;
            sqlx::query(
                "INSERT INTO auditor_sites (user_id, site_id) VALUES ($1, $2)
                 ON CONFLICT (user_id, site_id) DO NOTHING",
            )
            .bind(auditor.as_uuid())
            .bind(site.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(backend("granting an auditor a site"))?;
            Ok(())
        })
    }
}
