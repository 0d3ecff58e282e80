//! Argon2id password hashing (OWASP parameters: 19 MiB, 2 passes, 1 lane),
//! on the blocking pool because one hash takes tens of milliseconds.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use osiris_core::Secret;
use osiris_store::PasswordHash;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hashing library failed (never for valid parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled.
    #[error("password hashing task failed")]
    Join(#[from] tokio::task::JoinError),
}

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|error| PasswordError::Hash(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string with a fresh salt.
///
/// # Errors
/// [`PasswordError`] if the hasher fails.
pub async fn hash(password: &Secret<String>) -> Result<PasswordHash, PasswordError> {
    let password = password.clone();
    tokio::task::spawn_blocking(move || {
        let phc = argon2()?
            .hash_password(password.expose().as_bytes())
            .map_err(|error| PasswordError::Hash(error.to_string()))?;
        Ok(PasswordHash::new(phc.to_string()))
    })
    .await?
}

/// Whether `password` matches `stored`. A malformed stored hash never
/// matches.
///
/// # Errors
/// [`PasswordError::Join`] if the blocking task dies.
pub async fn verify(
    password: &Secret<String>,
    stored: &PasswordHash,
) -> Result<bool, PasswordError> {
    let password = password.clone();
    let stored = stored.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = argon2::password_hash::phc::PasswordHash::new(stored.as_str()) else {
            return Ok(false);
        };
        Ok(argon2()?
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// A verification that takes as long as a real one, for unknown users, so
/// response time does not reveal which usernames exist.
///
/// # Errors
/// [`PasswordError`] if the hasher fails.
pub async fn verify_against_nothing(password: &Secret<String>) -> Result<(), PasswordError> {
    hash(password).await.map(drop)
}

/// Whether a new password is acceptable; the reason if not.
#[must_use]
pub fn weakness(password: &str) -> Option<String> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Some(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let password = Secret::new("correct horse battery".to_owned());
        let stored = hash(&password).await.unwrap();
        assert!(
            stored
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert!(verify(&password, &stored).await.unwrap());
        assert!(
            !verify(&Secret::new("wrong".to_owned()), &stored)
                .await
                .unwrap()
        );
        assert!(
            !verify(&password, &PasswordHash::new("garbage".to_owned()))
                .await
                .unwrap()
        );
    }

    #[test]
    fn short_passwords_are_weak() {
        assert!(weakness("short").is_some());
        assert!(weakness("twelve chars").is_none());
    }
}
