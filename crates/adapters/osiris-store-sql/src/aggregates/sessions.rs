//! Sessions and API tokens, stored by hash only.

use chrono::{DateTime, Utc};
use osiris_core::{TokenId, UserId};
use osiris_store::{
    ApiToken, BoxFuture, Error, NewSession, NewToken, Session, SessionStore, TenantScope,
    TokenHash, User,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_clients, user_visible};
use super::users::user_by_id;
use crate::db::backend;

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: Vec<u8>,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

fn token_hash(bytes: Vec<u8>, table: &'static str) -> Result<TokenHash, Error> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash::from_digest)
        .map_err(|_| Error::corrupt(table, "token_hash", "not 32 bytes"))
}

impl TryFrom<SessionRow> for Session {
    type Error = Error;
    fn try_from(row: SessionRow) -> Result<Self, Error> {
        Ok(Self {
            hash: token_hash(row.token_hash, "sessions")?,
            user_id: UserId::from_uuid(row.user_id),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for ApiToken {
    fn from(row: TokenRow) -> Self {
        Self {
            id: TokenId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

macro_rules! token_columns {
    () => {
        "id, user_id, name, created_at, expires_at, revoked_at"
    };
}

impl Store {
    /// `NotFound` user unless `user` is visible.
    async fn require_user(&self, scope: &TenantScope, user: UserId) -> osiris_store::Result<()> {
        let query = sqlx::query_scalar::<_, Uuid>(concat!(
            "SELECT u.id FROM users u WHERE u.id = $4 AND ",
            user_visible!("u")
        ));
        bind_clients(query, scope)
            .bind(user.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("checking a user"))?
            .map(|_| ())
            .ok_or_else(|| Error::not_found("user", user))
    }
}

impl SessionStore for Store {
    fn create_session<'a>(
        &'a self,
        session: &'a NewSession,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Session> {
        Box::pin(async move {
            sqlx::query_as::<_, SessionRow>(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4) RETURNING token_hash, user_id, created_at, expires_at",
            )
            .bind(session.hash.as_bytes().as_slice())
            .bind(session.user_id.as_uuid())
            .bind(now)
            .bind(session.expires_at)
            .fetch_one(&self.pool)
            .await
            .map_err(backend("starting a session"))?
            .try_into()
        })
    }

    fn session_user<'a>(
        &'a self,
        hash: &'a TokenHash,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, (Session, User)> {
        Box::pin(async move {
            let session: Session = sqlx::query_as::<_, SessionRow>(
                "SELECT token_hash, user_id, created_at, expires_at FROM sessions
                 WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(hash.as_bytes().as_slice())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a session"))?
            .ok_or_else(|| Error::not_found("session", format!("{hash:?}")))?
            .try_into()?;
            let user = user_by_id(self, *session.user_id.as_uuid()).await?;
            Ok((session, user))
        })
    }

    fn extend_session<'a>(
        &'a self,
        hash: &'a TokenHash,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Session> {
        Box::pin(async move {
            sqlx::query_as::<_, SessionRow>(
                "UPDATE sessions SET expires_at = $2 WHERE token_hash = $1 AND expires_at > $3
                 RETURNING token_hash, user_id, created_at, expires_at",
            )
            .bind(hash.as_bytes().as_slice())
            .bind(expires_at)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("extending a session"))?
            .ok_or_else(|| Error::not_found("session", format!("{hash:?}")))?
            .try_into()
        })
    }

    fn end_session<'a>(&'a self, hash: &'a TokenHash) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(hash.as_bytes().as_slice())
                .execute(&self.pool)
                .await
                .map_err(backend("ending a session"))?;
            Ok(())
        })
    }

    fn end_user_sessions<'a>(&'a self, scope: &'a TenantScope, user: UserId) -> BoxFuture<'a, u64> {
        Box::pin(async move {
            self.require_user(scope, user).await?;
            let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.as_uuid())
                .execute(&self.pool)
                .await
                .map_err(backend("ending a user's sessions"))?;
            Ok(ended.rows_affected())
        })
    }

    fn create_token<'a>(
        &'a self,
        scope: &'a TenantScope,
        token: &'a NewToken,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApiToken> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, TokenRow>(concat!(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at)
                 SELECT $4, u.id, $6, $7, $8, $9 FROM users u WHERE u.id = $5 AND ",
                user_visible!("u"),
                " RETURNING ",
                token_columns!()
            ));
            bind_clients(query, scope)
                .bind(token.id.as_uuid())
                .bind(token.user_id.as_uuid())
                .bind(token.name.as_str())
                .bind(token.hash.as_bytes().as_slice())
                .bind(now)
                .bind(token.expires_at)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating a token"))?
                .map(ApiToken::from)
                .ok_or_else(|| Error::not_found("user", token.user_id))
        })
    }

    fn token_user<'a>(
        &'a self,
        hash: &'a TokenHash,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, (ApiToken, User)> {
        Box::pin(async move {
            let token = sqlx::query_as::<_, TokenRow>(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL
                   AND (expires_at IS NULL OR expires_at > $2)"
            ))
            .bind(hash.as_bytes().as_slice())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend("reading a token"))?
            .map(ApiToken::from)
            .ok_or_else(|| Error::not_found("token", format!("{hash:?}")))?;
            let user = user_by_id(self, *token.user_id.as_uuid()).await?;
            Ok((token, user))
        })
    }

    fn revoke_token<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: TokenId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, ApiToken> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, TokenRow>(concat!(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $5)
                 WHERE id = $4 AND user_id IN (SELECT u.id FROM users u WHERE ",
                user_visible!("u"),
                ") RETURNING ",
                token_columns!()
            ));
            bind_clients(query, scope)
                .bind(id.as_uuid())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("revoking a token"))?
                .map(ApiToken::from)
                .ok_or_else(|| Error::not_found("token", id))
        })
    }

    fn list_tokens<'a>(
        &'a self,
        scope: &'a TenantScope,
        user: UserId,
    ) -> BoxFuture<'a, Vec<ApiToken>> {
        Box::pin(async move {
            self.require_user(scope, user).await?;
            let rows = sqlx::query_as::<_, TokenRow>(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
            ))
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing tokens"))?;
            Ok(rows.into_iter().map(ApiToken::from).collect())
        })
    }
}
