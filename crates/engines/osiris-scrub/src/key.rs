//! The per-site secret key and the keyed-hash tokens made with it.

use hmac::{Hmac, KeyInit, Mac};
use osiris_core::Secret;
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::family::{Family, Normalisation};

/// Length of a scrub key in bytes.
pub const KEY_LEN: usize = 32;

/// Domain separation: the key id and the value tokens are HMACs of disjoint
/// inputs, so a key id never equals a value's hash.
const KEY_ID_INPUT: &[u8] = b"osiris-scrub/key-id";
const VALUE_PREFIX: &[u8] = b"osiris-scrub/v1/";

/// A site's 32-byte secret: tokens are HMAC-SHA256 under it, so equal values
/// correlate within a site while nobody without the key can test a guess.
#[derive(Debug, Clone)]
pub struct ScrubKey(Secret<[u8; KEY_LEN]>);

impl ScrubKey {
    /// Wraps raw key bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Secret::new(bytes))
    }

    /// A fresh key from the operating system's random source.
    ///
    /// # Errors
    /// [`Error::Random`] when the OS cannot provide randomness.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0_u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self::from_bytes(bytes))
    }

    /// Parses the key-file form: 64 hex digits, surrounding whitespace allowed.
    ///
    /// # Errors
    /// [`Error::KeyFormat`] naming what is wrong (never echoing the text).
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 {
            return Err(Error::KeyFormat(format!(
                "expected {} hex digits, found {} characters",
                KEY_LEN * 2,
                text.len()
            )));
        }
        let mut bytes = [0_u8; KEY_LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let (Some(high), Some(low)) = (
                pair.first().and_then(|c| hex_value(*c)),
                pair.get(1).and_then(|c| hex_value(*c)),
            ) else {
                return Err(Error::KeyFormat(String::from(
                    "found a character that is not a hex digit",
                )));
            };
            *byte = high << 4 | low;
        }
        Ok(Self::from_bytes(bytes))
    }

    /// The key-file form, 64 lower-case hex digits.
    #[must_use]
    pub fn to_hex(&self) -> Secret<String> {
        Secret::new(hex(self.0.expose()))
    }

    /// Four hex digits naming this key in every token it makes, so tokens
    /// from before and after a key rotation are told apart.
    #[must_use]
    pub fn key_id(&self) -> String {
        Tokenizer::new(self).key_id
    }
}

const fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `bytes` as lower-case hex to `out`.
fn push_hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            if let Some(&digit) = DIGITS.get(usize::from(nibble)) {
                out.push(digit);
            }
        }
    }
}

/// Makes tokens. Holds the HMAC state already keyed, cloned per token, so a
/// token costs two SHA-256 compressions rather than four.
#[derive(Clone)]
pub(crate) struct Tokenizer {
    mac: Hmac<Sha256>,
    key_id: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Hex digits of the value hash in a token: 48 bits, so a site would need
/// about 16 million distinct values of one family before a collision is
/// likely, while tokens stay short in evidence.
pub(crate) const HASH_HEX: usize = 12;
/// Hex digits of the key id in a token.
pub(crate) const KEY_ID_HEX: usize = 4;

impl Tokenizer {
    pub(crate) fn new(key: &ScrubKey) -> Self {
        // HMAC zero-pads keys shorter than its 64-byte block, so keying it
        // with the padded block is the same MAC and has no error path.
        let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
        for (slot, byte) in block.iter_mut().zip(key.0.expose()) {
            *slot = *byte;
        }
        let mac = <Hmac<Sha256> as KeyInit>::new(&block);
        block.iter_mut().for_each(|slot| *slot = 0);
        let mut id_mac = mac.clone();
        id_mac.update(KEY_ID_INPUT);
        let digest = id_mac.finalize().into_bytes();
        let mut key_id = hex(&digest);
        key_id.truncate(KEY_ID_HEX);
        Self { mac, key_id }
    }

    /// Appends the token for `value` of `family` to `out`.
    pub(crate) fn write_token(&self, family: Family, value: &[u8], out: &mut Vec<u8>) {
        let mut mac = self.mac.clone();
        mac.update(VALUE_PREFIX);
        match family.normalisation() {
            Normalisation::Digits => {
                // The digits are fed run by run (the MAC sees the same
                // bytes as if they were gathered first), with no buffer.
                let count = value.iter().filter(|c| c.is_ascii_digit()).count();
                let first = value.iter().find(|c| c.is_ascii_digit());
                let mut skip = usize::from(count == 11 && first == Some(&b'1') && is_phone(family));
                for run in value.split(|c| !c.is_ascii_digit()) {
                    if run.is_empty() {
                        continue;
                    }
                    mac.update(run.get(skip..).unwrap_or_default());
                    skip = 0;
                }
            }
            Normalisation::Folded => {
                let mut folded = Vec::with_capacity(value.len());
                for word in value
                    .split(|c| c.is_ascii_whitespace() || *c == b',')
                    .filter(|w| !w.is_empty())
                {
                    if !folded.is_empty() {
                        folded.push(b' ');
                    }
                    folded.extend(word.iter().map(u8::to_ascii_lowercase));
                }
                mac.update(&folded);
            }
            Normalisation::Exact => mac.update(value),
        }
        let digest = mac.finalize().into_bytes();
        out.extend_from_slice(b"[PHI:");
        out.extend_from_slice(family.tag().as_bytes());
        out.push(b':');
        out.extend_from_slice(self.key_id.as_bytes());
        out.push(b':');
        // Written straight into `out`: no string per token.
        push_hex(digest.get(..HASH_HEX / 2).unwrap_or_default(), out);
        out.push(b']');
    }
}

const fn is_phone(family: Family) -> bool {
    matches!(family, Family::Phone | Family::Fax)
}

/// The length of the token starting at the beginning of `text`, if one does.
///
/// Any upper-case tag is accepted, so tokens written by a newer version with
/// more families are still left alone.
pub(crate) fn token_len(text: &[u8]) -> Option<usize> {
    let rest = text.strip_prefix(b"[PHI:")?;
    let tag_len = rest
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || **c == b'_')
        .count();
    if tag_len == 0 || tag_len > 16 {
        return None;
    }
    let rest = rest.get(tag_len..)?.strip_prefix(b":")?;
    let is_hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
    let (key_id, rest) = rest.split_at_checked(KEY_ID_HEX)?;
    let rest = rest.strip_prefix(b":")?;
    let (hash, rest) = rest.split_at_checked(HASH_HEX)?;
    rest.strip_prefix(b"]")?;
    (key_id.iter().all(is_hex) && hash.iter().all(is_hex))
        .then_some(5 + tag_len + 1 + KEY_ID_HEX + 1 + HASH_HEX + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ScrubKey {
        ScrubKey::from_bytes([byte; KEY_LEN])
    }

    fn token(key: &ScrubKey, family: Family, value: &str) -> String {
        let mut out = Vec::new();
        Tokenizer::new(key).write_token(family, value.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_token_names_family_key_and_hash_and_parses_back() {
        let t = token(&key(7), Family::Ssn, "123-45-6789");
        assert!(t.starts_with("[PHI:SSN:"), "{t}");
        assert_eq!(token_len(t.as_bytes()), Some(t.len()));
        assert_eq!(&t[9..13], key(7).key_id());
    }

    #[test]
    fn formatting_differences_of_one_number_give_one_token() {
        let k = key(1);
        assert_eq!(
            token(&k, Family::Ssn, "123-45-6789"),
            token(&k, Family::Ssn, "123 45 6789")
        );
        assert_eq!(
            token(&k, Family::Phone, "+1 (212) 555-0142"),
            token(&k, Family::Phone, "212.555.0142")
        );
        assert_eq!(
            token(&k, Family::Name, "DOE,  JOHN"),
            token(&k, Family::Name, "Doe, John")
        );
    }

    #[test]
    fn another_key_gives_another_token_and_key_id() {
        assert_ne!(
            token(&key(1), Family::Email, "a@b.org"),
            token(&key(2), Family::Email, "a@b.org")
        );
        assert_ne!(key(1).key_id(), key(2).key_id());
    }

    #[test]
    fn hex_key_round_trips_and_bad_text_is_refused_without_echo() {
        let k = ScrubKey::generate().unwrap();
        let back = ScrubKey::from_hex(k.to_hex().expose()).unwrap();
        assert_eq!(k.key_id(), back.key_id());
        let err = ScrubKey::from_hex(&"zz".repeat(32))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("zz"), "{err}");
        assert!(ScrubKey::from_hex("abcd").is_err());
    }

    #[test]
    fn near_tokens_are_not_tokens() {
        for text in [
            "[PHI:SSN:abcd:0123456789a]",
            "[PHI:ssn:abcd:0123456789ab]",
            "[PHI::abcd:0123456789ab]",
            "[PHI:SSN:abcd:0123456789AB]",
            "[PHI:SSN:abcd:0123456789ab",
        ] {
            assert_eq!(token_len(text.as_bytes()), None, "{text}");
        }
    }
}
