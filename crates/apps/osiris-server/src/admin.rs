//! `osiris admin`: offline administration against the server's own
//! database and key files, for the operator at the machine (first user,
//! forgotten password, key rotation). Every action is in the audit log.

use chrono::{DateTime, Utc};
use osiris_core::{ClientId, PartnerId, Secret, UserId};
use osiris_store::{Membership, NewUser, Role, Store, TenantScope, User, Username};

use crate::Error;
use crate::auth::password;
use crate::config::ServerConfig;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value given on the command line is unacceptable.
    #[error("{option}: {reason}")]
    Usage {
        /// The option at fault.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The server's storage or keys failed.
    #[error(transparent)]
    Server(#[from] Error),
}

impl From<osiris_store::Error> for AdminError {
    fn from(error: osiris_store::Error) -> Self {
        Self::Server(Error::Store(error))
    }
}

fn usage(option: &'static str, reason: impl Into<String>) -> AdminError {
    AdminError::Usage {
        option,
        reason: reason.into(),
    }
}

/// A user to create from the command line.
#[derive(Debug)]
pub struct CreateUser {
    /// Login name.
    pub username: String,
    /// Role name.
    pub role: String,
    /// Partner, for the partner role.
    pub partner_id: Option<PartnerId>,
    /// Practice, for the client role.
    pub client_id: Option<ClientId>,
    /// Initial password.
    pub password: Secret<String>,
}

async fn audit(
    store: &dyn Store,
    action: &str,
    user: &User,
    now: DateTime<Utc>,
) -> Result<(), AdminError> {
    let detail = serde_json::json!({"username": user.username.as_str(), "via": "osiris admin"});
    crate::audit::record(
        store,
        crate::audit::Action {
            actor: None,
            partner_id: None,
            action,
            target: user.id.to_string(),
            detail,
        },
        now,
    )
    .await?;
    Ok(())
}

fn strong(password: &Secret<String>) -> Result<(), AdminError> {
    match password::weakness(password.expose()) {
        Some(reason) => Err(usage("--password-env", format!("the password {reason}"))),
        None => Ok(()),
    }
}

/// Creates a user.
///
/// # Errors
/// [`AdminError::Usage`] naming the option, or a storage failure.
pub async fn create_user(
    config: &ServerConfig,
    request: CreateUser,
    now: DateTime<Utc>,
) -> Result<User, AdminError> {
    let username = Username::parse(&request.username)
        .ok_or_else(|| usage("--username", "1 to 64 of a-z 0-9 . _ @ -"))?;
    let role = Role::parse(&request.role).ok_or_else(|| {
        usage(
            "--role",
            "expected admin, operator, partner, client or auditor",
        )
    })?;
    let membership = match (role, request.partner_id, request.client_id) {
        (Role::Admin, None, None) => Membership::Admin,
        (Role::Operator, None, None) => Membership::Operator,
        (Role::Auditor, None, None) => Membership::Auditor,
        (Role::Partner, Some(partner), None) => Membership::Partner(partner),
        (Role::Client, None, Some(client)) => Membership::Client(client),
        (Role::Partner, _, _) => {
            return Err(usage(
                "--partner-id",
                "the partner role needs --partner-id and no --client-id",
            ));
        }
        (Role::Client, _, _) => {
            return Err(usage(
                "--client-id",
                "the client role needs --client-id and no --partner-id",
            ));
        }
        _ => {
            return Err(usage(
                "--role",
                "only partner and client users belong to a tenant",
            ));
        }
    };
    strong(&request.password)?;
    let store = crate::open_store(config).await?;
    let hash = password::hash(&request.password)
        .await
        .map_err(|e| Error::Bootstrap(e.to_string()))?;
    let user = store
        .create_user(
            &TenantScope::platform(),
            &NewUser {
                id: UserId::random(),
                username,
                membership,
                password_hash: hash,
            },
            now,
        )
        .await?;
    audit(store.as_ref(), "user.create", &user, now).await?;
    Ok(user)
}

/// Sets a user's password, clears its lockout and ends its sessions.
///
/// # Errors
/// Unknown user, weak password, or a storage failure.
pub async fn reset_password(
    config: &ServerConfig,
    username: &str,
    new_password: &Secret<String>,
    now: DateTime<Utc>,
) -> Result<User, AdminError> {
    let username =
        Username::parse(username).ok_or_else(|| usage("--username", "not a valid username"))?;
    strong(new_password)?;
    let store = crate::open_store(config).await?;
    let user = match store.user_by_username(&username).await {
        Ok(user) => user,
        Err(osiris_store::Error::NotFound { .. }) => {
            return Err(usage("--username", format!("no user {username}")));
        }
        Err(other) => return Err(other.into()),
    };
    let hash = password::hash(new_password)
        .await
        .map_err(|e| Error::Bootstrap(e.to_string()))?;
    let platform = TenantScope::platform();
    store.set_password(&platform, user.id, &hash).await?;
    store.end_user_sessions(&platform, user.id).await?;
    audit(store.as_ref(), "user.password_reset", &user, now).await?;
    Ok(user)
}

/// What a key rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// The vault key version now sealing.
    pub key_version: u32,
    /// Credentials re-sealed under it.
    pub resealed: u64,
}

/// Adds a vault key version to the key file and re-seals every credential
/// under it. Old versions stay in the file (they still open anything not
/// yet re-sealed); remove them by hand once this has succeeded.
///
/// # Errors
/// Keys given through `vault.keys` (rotate them where they are kept), or a
/// vault or storage failure.
pub async fn rotate_keys(
    config: &ServerConfig,
    now: DateTime<Utc>,
) -> Result<Rotation, AdminError> {
    if config.vault.keys.is_some() {
        return Err(usage(
            "vault.keys",
            "keys come from the environment: add a version there, then run rotate-keys with the new value",
        ));
    }
    let path = config.vault_key_file();
    let vault_error = |source| Error::Vault {
        setting: "vault.key_file",
        source,
    };
    if !path.exists() {
        // Never started: the first key is created as the server would.
        osiris_vault::keyring::create_key_file(&path).map_err(vault_error)?;
    }
    let ring = osiris_vault::keyring::add_key_version(&path).map_err(vault_error)?;
    let store = crate::open_store(config).await?;
    let platform = TenantScope::platform();
    let current = ring.current_version();
    let mut resealed = 0_u64;
    let mut after = None;
    loop {
        let page = store
            .stale_credentials(&platform, current, after, 100)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.credential.id);
        for stale in &page {
            let credential = &stale.credential;
            let resealed_form = ring
                .reseal(credential.site_id, credential.id, &stale.sealed)
                .map_err(vault_error)?;
            if let Some(new) = resealed_form {
                store
                    .reseal_credential(&platform, credential.id, &stale.sealed.nonce, &new, now)
                    .await?;
                resealed += 1;
            }
        }
    }
    crate::audit::record(
        store.as_ref(),
        crate::audit::Action {
            actor: None,
            partner_id: None,
            action: "vault.rotate",
            target: format!("v{current}"),
            detail: serde_json::json!({"resealed": resealed, "via": "osiris admin"}),
        },
        now,
    )
    .await?;
    Ok(Rotation {
        key_version: current,
        resealed,
    })
}
