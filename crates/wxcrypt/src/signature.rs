//! SHA-1 signatures over the sorted, concatenated parts.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

fn sha1_sorted_hex(parts: &mut [&str]) -> String {
    // Plain lexicographic (byte-wise) sort; for UTF-8 this equals code-point order, i.e. the
    // order Python's `sorted()` gives in the official samples.
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for p in parts.iter() {
        hasher.update(p.as_bytes());
    }
    hex_lower(&hasher.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    fn nibble(n: u8) -> char {
        let n = n & 0x0f;
        char::from(if n < 10 { b'0' + n } else { b'a' + (n - 10) })
    }
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(nibble(b >> 4));
        out.push(nibble(b));
    }
    out
}

fn ct_eq_str(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// 4-part signature `sha1(concat(sort([token, timestamp, nonce, encrypt])))`, lowercase hex.
///
/// This is `msg_signature` (inbound encrypted messages, WeCom echostr check) and the
/// `MsgSignature` of an encrypted reply.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sha1_sorted_hex(&mut [token, timestamp, nonce, encrypt])
}

/// 3-part signature `sha1(concat(sort([token, timestamp, nonce])))`, lowercase hex.
///
/// This is the Official Account `signature` query parameter (GET URL check, plain-mode POST).
pub fn plain_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sha1_sorted_hex(&mut [token, timestamp, nonce])
}

/// Check a 4-part `msg_signature` in constant time.
///
/// Errors: [`Error::ValidateSignature`] (−40001).
pub fn verify_signature(
    msg_signature: &str,
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
) -> Result<()> {
    if ct_eq_str(&signature(token, timestamp, nonce, encrypt), msg_signature) {
        Ok(())
    } else {
        Err(Error::ValidateSignature)
    }
}

/// Check a 3-part `signature` in constant time.
///
/// Errors: [`Error::ValidateSignature`] (−40001).
pub fn verify_plain_signature(
    signature: &str,
    token: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<()> {
    if ct_eq_str(&plain_signature(token, timestamp, nonce), signature) {
        Ok(())
    } else {
        Err(Error::ValidateSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_40_chars() {
        let s = signature("a", "b", "c", "d");
        assert_eq!(s.len(), 40);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn order_of_arguments_does_not_matter() {
        assert_eq!(signature("a", "b", "c", "d"), signature("d", "c", "b", "a"));
        assert_eq!(
            plain_signature("x", "y", "z"),
            plain_signature("z", "x", "y")
        );
    }

    #[test]
    fn uppercase_or_truncated_signatures_are_rejected() {
        let s = signature("t", "1", "2", "e");
        assert!(verify_signature(&s, "t", "1", "2", "e").is_ok());
        assert_eq!(
            verify_signature(&s.to_uppercase(), "t", "1", "2", "e"),
            Err(Error::ValidateSignature)
        );
        assert_eq!(
            verify_signature(&s[..39], "t", "1", "2", "e"),
            Err(Error::ValidateSignature)
        );
        assert_eq!(
            verify_signature("", "t", "1", "2", "e"),
            Err(Error::ValidateSignature)
        );
    }
}
