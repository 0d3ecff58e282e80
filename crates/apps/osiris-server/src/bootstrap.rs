//! First start: with no user in the database, create the `admin` account
//! with a random password that is returned once for the operator to read.
//! There is no default credential.

use chrono::{DateTime, Utc};
use osiris_core::{Secret, UserId};
use osiris_store::{Membership, NewUser, Store, TenantScope, Username};

use crate::Error;
use crate::auth::{password, tokens};

/// The name of the account created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// Creates the first admin if there is no user at all; returns its
/// one-time password. A concurrent replica that wins the race makes this
/// a no-op.
///
/// # Errors
/// A store or hashing failure.
pub async fn first_admin(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Option<Secret<String>>, Error> {
    let platform = TenantScope::platform();
    if !store.list_users(&platform).await?.is_empty() {
        return Ok(None);
    }
    let secret = tokens::generate_password().map_err(|e| Error::Bootstrap(e.to_string()))?;
    let hash = password::hash(&secret)
        .await
        .map_err(|e| Error::Bootstrap(e.to_string()))?;
    let username =
        Username::parse(FIRST_ADMIN).ok_or_else(|| Error::Bootstrap("admin name".to_owned()))?;
    let created = store
        .create_user(
            &platform,
            &NewUser {
                id: UserId::random(),
                username,
                membership: Membership::Admin,
                password_hash: hash,
            },
            now,
        )
        .await;
    match created {
        Ok(user) => {
            crate::audit::record(
                store,
                crate::audit::Action {
                    actor: None,
                    partner_id: None,
                    action: "user.bootstrap",
                    target: user.id.to_string(),
                    detail: serde_json::json!({ "username": FIRST_ADMIN }),
                },
                now,
            )
            .await?;
            Ok(Some(secret))
        }
        Err(osiris_store::Error::Conflict { .. }) => Ok(None),
        Err(other) => Err(other.into()),
    }
}
