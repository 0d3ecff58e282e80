//! The secrets clients hold: session cookies, API tokens and claim codes.
//! Each is 256 random bits with a prefix that says what it is, so a leaked
//! value is recognisable (secret scanners) and routed to the right lookup.
//! Only their SHA-256 is stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use osiris_core::Secret;
use sha2::{Digest, Sha256};

/// What a bearer value is, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A browser or login session (`oss_`).
    Session,
    /// A long-lived API token (`osk_`).
    ApiToken,
}

const SESSION_PREFIX: &str = "oss_";
const TOKEN_PREFIX: &str = "osk_";

/// Why a secret could not be generated.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomError;

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(bytes)
}

/// A new secret of `kind`.
///
/// # Errors
/// [`RandomError`] if the OS cannot supply randomness.
pub fn generate(kind: Kind) -> Result<Secret<String>, RandomError> {
    let prefix = match kind {
        Kind::Session => SESSION_PREFIX,
        Kind::ApiToken => TOKEN_PREFIX,
    };
    Ok(Secret::new(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    )))
}

/// A one-time claim code an installer types: 20 characters of an
/// unambiguous alphabet in groups of five (100 bits).
///
/// # Errors
/// [`RandomError`] if the OS cannot supply randomness.
pub fn generate_claim_code() -> Result<Secret<String>, RandomError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = random_bytes::<20>()?;
    let mut code = String::with_capacity(23);
    for (index, byte) in bytes.iter().enumerate() {
        if index > 0 && index % 5 == 0 {
            code.push('-');
        }
        let symbol = ALPHABET
            .get(usize::from(byte % 32))
            .copied()
            .unwrap_or(b'A');
        code.push(char::from(symbol));
    }
    Ok(Secret::new(code))
}

/// Normalises a typed claim code (case, spaces, dashes) before hashing,
/// so the stored hash matches however the installer typed it.
#[must_use]
pub fn normalise_claim_code(code: &str) -> Secret<String> {
    Secret::new(
        code.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

/// A random password for the first admin, printed once.
///
/// # Errors
/// [`RandomError`] if the OS cannot supply randomness.
pub fn generate_password() -> Result<Secret<String>, RandomError> {
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(random_bytes::<18>()?)))
}

/// A one-time order nonce: 128 random bits, base64url.
///
/// # Errors
/// [`RandomError`] if the OS cannot supply randomness.
pub fn generate_nonce() -> Result<String, RandomError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

/// What kind of bearer value this is, if any.
#[must_use]
pub fn kind_of(value: &str) -> Option<Kind> {
    if value.starts_with(SESSION_PREFIX) {
        Some(Kind::Session)
    } else if value.starts_with(TOKEN_PREFIX) {
        Some(Kind::ApiToken)
    } else {
        None
    }
}

/// The CSRF token of a session: derived from the session secret, which
/// only the server and the cookie jar know, so a cross-site page cannot
/// compute it, and nothing more needs storing.
#[must_use]
pub fn csrf_token(session: &Secret<String>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"osiris-csrf-v1\0");
    hasher.update(session.expose().as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Compares two tokens in time independent of where they differ.
#[must_use]
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_kind_and_differ() {
        let session = generate(Kind::Session).unwrap();
        let token = generate(Kind::ApiToken).unwrap();
        assert_eq!(kind_of(session.expose()), Some(Kind::Session));
        assert_eq!(kind_of(token.expose()), Some(Kind::ApiToken));
        assert_ne!(session.expose(), generate(Kind::Session).unwrap().expose());
        assert_eq!(kind_of("Bearer nonsense"), None);
    }

    #[test]
    fn claim_codes_are_grouped_and_normalise() {
        let code = generate_claim_code().unwrap();
        assert_eq!(code.expose().len(), 23);
        assert_eq!(code.expose().matches('-').count(), 3);
        let typed = code.expose().to_ascii_lowercase().replace('-', "- ");
        assert_eq!(
            normalise_claim_code(&typed).expose(),
            normalise_claim_code(code.expose()).expose()
        );
        assert_eq!(normalise_claim_code(code.expose()).expose().len(), 20);
    }

    #[test]
    fn csrf_tokens_depend_on_the_session() {
        let a = generate(Kind::Session).unwrap();
        let b = generate(Kind::Session).unwrap();
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
