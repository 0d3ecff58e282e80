//! The appliance request signature: which headers carry it and the exact
//! bytes signed (`docs/design/checkin.md`, "Request signatures"). The
//! appliance signs with its own Ed25519 key; the server verifies strictly.

use chrono::Duration;
use sha2::{Digest, Sha256};

/// The header naming the appliance.
pub const APPLIANCE_HEADER: &str = "x-osiris-appliance";
/// The header carrying the request time, RFC 3339.
pub const DATE_HEADER: &str = "x-osiris-date";
/// The header carrying the base64 Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-osiris-signature";
/// The first line of every signed message: names the scheme and its
/// version, so a signature can never be replayed as another kind of
/// signed object (bundle, order).
pub const DOMAIN: &str = "osiris-request-v1";
/// How far the request date may be from the server clock.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The bytes an appliance signs for one request: `method` upper-case
/// (`POST`), `path` without scheme, host or query, `date` exactly as sent
/// in [`DATE_HEADER`], and the exact body bytes.
#[must_use]
pub fn signed_message(method: &str, path: &str, date: &str, body: &[u8]) -> Vec<u8> {
    format!(
        "{DOMAIN}\n{method}\n{path}\n{date}\n{}",
        hex(&Sha256::digest(body))
    )
    .into_bytes()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_documented_bytes() {
        let message = signed_message(
            "POST",
            "/api/appliances/checkin",
            "2026-11-24T12:00:00Z",
            b"{}",
        );
        assert_eq!(
            String::from_utf8(message).unwrap(),
            "osiris-request-v1\nPOST\n/api/appliances/checkin\n2026-11-24T12:00:00Z\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn an_empty_body_hashes_the_empty_string() {
        let message = String::from_utf8(signed_message("POST", "/p", "d", b"")).unwrap();
        assert!(
            message.ends_with("\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
