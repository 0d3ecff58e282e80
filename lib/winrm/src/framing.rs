//! The `multipart/encrypted` body that carries sealed SOAP over HTTP
//! (MS-WSMV 2.2.9.1.1). Pure byte framing: sealing happens in [`crate::auth`].

use crate::error::{Error, Result};

/// `Content-Type` of a sealed request or reply.
pub const CONTENT_TYPE: &str = "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\"";
/// The `protocol` parameter a sealed reply must carry.
pub const PROTOCOL: &str = "application/HTTP-SPNEGO-session-encrypted";

const BOUNDARY: &[u8] = b"--Encrypted Boundary\r\n";
const CLOSING: &[u8] = b"--Encrypted Boundary--\r\n";
const OCTET_STREAM: &[u8] = b"\tContent-Type: application/octet-stream\r\n";
const LENGTH_KEY: &[u8] = b"Length=";
/// NTLM signatures are 16 bytes; anything else is refused.
pub const SIGNATURE_LEN: usize = 16;

/// A sealed message taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedPart {
    /// `Length=` from the metadata: the plaintext length the sender claims.
    pub plaintext_len: usize,
    /// The 16-byte NTLM signature.
    pub signature: Vec<u8>,
    /// The sealed SOAP bytes.
    pub sealed: Vec<u8>,
}

/// Frames a sealed message. `plaintext_len` is the length of the SOAP
/// before sealing (RC4 keeps lengths, so it equals `sealed.len()`).
#[must_use]
pub fn encode(signature: &[u8], sealed: &[u8], plaintext_len: usize) -> Vec<u8> {
    let header = format!(
        "--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={plaintext_len}\r\n--Encrypted Boundary\r\n"
    );
    let mut body = Vec::with_capacity(
        header.len() + OCTET_STREAM.len() + 4 + signature.len() + sealed.len() + CLOSING.len(),
    );
    body.extend_from_slice(header.as_bytes());
    body.extend_from_slice(OCTET_STREAM);
    // Both fit in u32: signature is 16 bytes.
    body.extend_from_slice(
        &u32::try_from(signature.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    body.extend_from_slice(signature);
    body.extend_from_slice(sealed);
    body.extend_from_slice(CLOSING);
    body
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Takes a sealed body apart. Accepts both closing forms seen in the wild
/// (`--Encrypted Boundary--\r\n` and `--Encrypted Boundary\r\n`).
///
/// # Errors
/// [`Error::Framing`] naming the part that is missing or malformed.
pub fn decode(body: &[u8]) -> Result<EncryptedPart> {
    let rest = body
        .strip_prefix(BOUNDARY)
        .ok_or_else(|| Error::Framing("body does not start with --Encrypted Boundary".into()))?;
    let metadata_end =
        find(rest, BOUNDARY).ok_or_else(|| Error::Framing("missing second boundary".into()))?;
    let (metadata, rest) = rest.split_at(metadata_end);
    let rest = rest.get(BOUNDARY.len()..).unwrap_or_default();
    let length_at = find(metadata, LENGTH_KEY)
        .ok_or_else(|| Error::Framing("metadata has no Length=".into()))?;
    let digits: Vec<u8> = metadata
        .get(length_at + LENGTH_KEY.len()..)
        .unwrap_or_default()
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    let plaintext_len: usize = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| Error::Framing("Length= is not a number".into()))?;
    let payload = rest.strip_prefix(OCTET_STREAM).ok_or_else(|| {
        Error::Framing("payload part lacks Content-Type: application/octet-stream".into())
    })?;
    let payload = payload
        .strip_suffix(CLOSING)
        .or_else(|| payload.strip_suffix(BOUNDARY))
        .ok_or_else(|| Error::Framing("missing closing boundary (truncated body?)".into()))?;
    let (length_bytes, payload) = payload
        .split_first_chunk::<4>()
        .ok_or_else(|| Error::Framing("payload shorter than its signature length".into()))?;
    let signature_len = usize::try_from(u32::from_le_bytes(*length_bytes)).unwrap_or(usize::MAX);
    if signature_len != SIGNATURE_LEN {
        return Err(Error::Framing(format!(
            "signature length {signature_len}, expected {SIGNATURE_LEN}"
        )));
    }
    if payload.len() < SIGNATURE_LEN {
        return Err(Error::Framing("payload shorter than its signature".into()));
    }
    let (signature, sealed) = payload.split_at(SIGNATURE_LEN);
    Ok(EncryptedPart {
        plaintext_len,
        signature: signature.to_vec(),
        sealed: sealed.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_parts_decode_back() {
        let body = encode(&[7; 16], b"sealed bytes", 12);
        let part = decode(&body).unwrap();
        assert_eq!(
            part,
            EncryptedPart {
                plaintext_len: 12,
                signature: vec![7; 16],
                sealed: b"sealed bytes".to_vec()
            }
        );
    }

    #[test]
    fn closing_boundary_without_dashes_is_accepted() {
        let mut body = encode(&[1; 16], b"abc", 3);
        body.truncate(body.len() - CLOSING.len());
        body.extend_from_slice(BOUNDARY);
        assert_eq!(decode(&body).unwrap().sealed, b"abc");
    }

    #[test]
    fn truncated_body_is_a_framing_error() {
        let body = encode(&[1; 16], b"abcdef", 6);
        for cut in [0, 10, 60, body.len() - 3] {
            assert!(
                matches!(decode(&body[..cut]), Err(Error::Framing(_))),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn wrong_signature_length_is_refused() {
        let mut body = encode(&[1; 16], b"abc", 3);
        let at = find(&body, OCTET_STREAM).unwrap() + OCTET_STREAM.len();
        body[at] = 15;
        assert!(
            decode(&body)
                .unwrap_err()
                .to_string()
                .contains("signature length 15")
        );
    }
}
