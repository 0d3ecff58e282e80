//! Target credentials (the passwords and keys an appliance logs in to a
//! site's hosts with). The store keeps them only sealed: it is handed a
//! [`SealedCredential`] made by the vault and never sees plaintext.

use chrono::{DateTime, Utc};
use osiris_core::{CredentialId, HostId, SealedCredential, SiteId};

use crate::{BoxFuture, TenantScope};

text_enum!(
    /// What the secret is and which transport uses it.
    CredentialKind {
        /// A Windows account's password, for WinRM.
        WinrmPassword = "winrm_password",
        /// A Linux account's password, for SSH.
        SshPassword = "ssh_password",
        /// An OpenSSH private key, for SSH.
        SshKey = "ssh_key",
    }
);

/// A credential's metadata: what listings and handlers return. Never the
/// secret, not even sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Its id (bound into the sealed form's AAD).
    pub id: CredentialId,
    /// The site it is for (bound into the sealed form's AAD).
    pub site_id: SiteId,
    /// The host it is for, or `None` for every host at the site.
    pub host_id: Option<HostId>,
    /// What the secret is.
    pub kind: CredentialKind,
    /// The login name (`DOMAIN\user` or `user`); not secret.
    pub username: String,
    /// The vault key version it is sealed under.
    pub key_version: u32,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it was last re-sealed, if ever.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// A credential with its sealed secret, for the server's own use (opening
/// it to hand to an appliance, re-sealing it during key rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// Its metadata.
    pub credential: Credential,
    /// The secret as the vault sealed it.
    pub sealed: SealedCredential,
}

/// A credential to store.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Its id, chosen by the caller (it was sealed with it).
    pub id: CredentialId,
    /// The site; must be visible to the caller.
    pub site_id: SiteId,
    /// The host, which must be at that site, or `None` for every host.
    pub host_id: Option<HostId>,
    /// What the secret is.
    pub kind: CredentialKind,
    /// The login name.
    pub username: String,
    /// The secret, sealed for this site and id.
    pub sealed: SealedCredential,
}

/// Credentials. Visibility follows the credential's site.
pub trait CredentialStore {
    /// Stores a credential at a visible site (`NotFound` site otherwise,
    /// `NotFound` host when the host is not at that site).
    fn create_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        credential: &'a NewCredential,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Credential>;

    /// The credentials of one visible site, metadata only, by username then
    /// id (`NotFound` site if not visible).
    fn list_credentials<'a>(
        &'a self,
        scope: &'a TenantScope,
        site: SiteId,
    ) -> BoxFuture<'a, Vec<Credential>>;

    /// One credential with its sealed secret.
    fn sealed_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
    ) -> BoxFuture<'a, StoredCredential>;

    /// Up to `limit` visible credentials sealed under any version other than
    /// `current_version`, by id, after `after`: the pages key rotation walks.
    fn stale_credentials<'a>(
        &'a self,
        scope: &'a TenantScope,
        current_version: u32,
        after: Option<CredentialId>,
        limit: u32,
    ) -> BoxFuture<'a, Vec<StoredCredential>>;

    /// Replaces the sealed secret, provided it is still the one sealed with
    /// `previous_nonce` (else `IllegalTransition`: someone changed it since
    /// it was read), and sets `rotated_at`.
    fn reseal_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
        previous_nonce: &'a [u8; osiris_core::SEALED_NONCE_LEN],
        sealed: &'a SealedCredential,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Credential>;

    /// Deletes a credential.
    fn delete_credential<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: CredentialId,
    ) -> BoxFuture<'a, ()>;
}
