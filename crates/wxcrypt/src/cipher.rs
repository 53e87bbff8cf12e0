//! AES-256-CBC with the fixed IV and PKCS#7 padding to a 32-byte block.

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut as _, BlockEncryptMut as _, KeyIvInit as _};

use crate::error::{Error, Result};
use crate::key::EncodingAesKey;

/// PKCS#7 block size used by WXBizMsgCrypt (not the AES block size of 16).
pub const PAD_BLOCK: usize = 32;
/// Length of the random prefix.
pub const RANDOM_LEN: usize = 16;
/// Random prefix + big-endian u32 length.
const HEADER_LEN: usize = RANDOM_LEN + 4;

/// A decrypted plaintext split into its parts; the receive id is **not** checked yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decrypted {
    /// The 16-byte random prefix.
    pub random: [u8; RANDOM_LEN],
    /// The message (`msg_len` bytes; normally UTF-8 XML or JSON).
    pub msg: Vec<u8>,
    /// Everything after the message: the AppID / CorpID / empty receive id.
    pub receive_id: Vec<u8>,
}

/// 16 random ASCII alphanumeric bytes from the thread-local CSPRNG (`rand::rng()`, ChaCha12
/// seeded and periodically reseeded from the OS).
///
/// The official samples use 16 alphanumeric characters; we keep that shape (≈95 bits) so even
/// a peer that decodes the whole plaintext as text is happy.
pub fn random_prefix() -> [u8; RANDOM_LEN] {
    use rand::Rng as _;
    let mut out = [0u8; RANDOM_LEN];
    let mut rng = rand::rng();
    for (slot, b) in out
        .iter_mut()
        .zip((&mut rng).sample_iter(rand::distr::Alphanumeric))
    {
        *slot = b;
    }
    out
}

/// Pad value for a buffer of `len` bytes: 1..=32 (a full block when already aligned).
pub(crate) fn pad_len(len: usize) -> usize {
    PAD_BLOCK - (len % PAD_BLOCK)
}

/// Append PKCS#7 (K = 32) padding.
pub(crate) fn pad32(buf: &mut Vec<u8>) {
    let pad = pad_len(buf.len());
    // pad is 1..=32, so it always fits in a byte.
    let pad_byte = u8::try_from(pad).unwrap_or(PAD_BLOCK as u8);
    buf.resize(buf.len() + pad, pad_byte);
}

/// Strip PKCS#7 (K = 32) padding: last byte `p` must be 1..=32, not longer than the buffer,
/// and all `p` trailing bytes must equal `p`. Returns the unpadded length.
pub(crate) fn unpad32(buf: &[u8]) -> Result<usize> {
    let &last = buf.last().ok_or(Error::IllegalBuffer("empty plaintext"))?;
    let pad = usize::from(last);
    if pad == 0 || pad > PAD_BLOCK {
        return Err(Error::IllegalBuffer("bad padding value"));
    }
    let keep = buf
        .len()
        .checked_sub(pad)
        .ok_or(Error::IllegalBuffer("padding longer than plaintext"))?;
    let tail = buf
        .get(keep..)
        .ok_or(Error::IllegalBuffer("padding longer than plaintext"))?;
    if tail.iter().any(|&b| b != last) {
        return Err(Error::IllegalBuffer("inconsistent padding bytes"));
    }
    Ok(keep)
}

/// AES-256-CBC encrypt an already padded buffer in place and base64 it.
pub(crate) fn encrypt_padded(key: &EncodingAesKey, mut buf: Vec<u8>) -> Result<String> {
    let len = buf.len();
    let enc = cbc::Encryptor::<Aes256>::new_from_slices(key.as_bytes(), &key.iv())
        .map_err(|_| Error::EncryptAes("invalid key length"))?;
    enc.encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .map_err(|_| Error::EncryptAes("buffer is not block aligned"))?;
    Ok(STANDARD.encode(&buf))
}

/// Encrypt `msg` with an explicit 16-byte random prefix (deterministic; for tests and known
/// answer vectors). Production code should use [`encrypt`].
///
/// Plaintext = `random16 ‖ u32be(len(msg)) ‖ msg ‖ receive_id`, PKCS#7 to 32, AES-256-CBC with
/// IV = key[..16], standard base64 with padding.
///
/// Errors: [`Error::EncryptAes`] (−40006) if `msg` is longer than `u32::MAX` bytes.
pub fn encrypt_with_random(
    key: &EncodingAesKey,
    msg: &[u8],
    receive_id: &str,
    random: &[u8; RANDOM_LEN],
) -> Result<String> {
    let msg_len =
        u32::try_from(msg.len()).map_err(|_| Error::EncryptAes("message longer than 4 GiB"))?;
    let full_len = HEADER_LEN + msg.len() + receive_id.len();
    let mut buf = Vec::with_capacity(full_len + PAD_BLOCK);
    buf.extend_from_slice(random);
    buf.extend_from_slice(&msg_len.to_be_bytes());
    buf.extend_from_slice(msg);
    buf.extend_from_slice(receive_id.as_bytes());
    pad32(&mut buf);
    encrypt_padded(key, buf)
}

/// Encrypt `msg` with a fresh random prefix from the CSPRNG.
pub fn encrypt(key: &EncodingAesKey, msg: &[u8], receive_id: &str) -> Result<String> {
    encrypt_with_random(key, msg, receive_id, &random_prefix())
}

/// Base64-decode, AES-decrypt, unpad and split a ciphertext. Does **not** check the signature
/// nor the receive id.
///
/// Errors: −40010 bad base64, −40007 length 0 or not a multiple of 16, −40008 bad padding /
/// too short / `msg_len` overflowing the buffer.
pub fn decrypt_raw(key: &EncodingAesKey, encrypt_b64: &str) -> Result<Decrypted> {
    let mut buf = STANDARD
        .decode(encrypt_b64)
        .map_err(|_| Error::DecodeBase64)?;
    if buf.is_empty() || buf.len() % 16 != 0 {
        return Err(Error::DecryptAes(
            "ciphertext length is zero or not a multiple of 16",
        ));
    }
    let dec = cbc::Decryptor::<Aes256>::new_from_slices(key.as_bytes(), &key.iv())
        .map_err(|_| Error::DecryptAes("invalid key length"))?;
    dec.decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| Error::DecryptAes("ciphertext is not block aligned"))?;
    let content_len = unpad32(&buf)?;
    let content = buf
        .get(..content_len)
        .ok_or(Error::IllegalBuffer("padding longer than plaintext"))?;
    let (random, rest) = content
        .split_first_chunk::<RANDOM_LEN>()
        .ok_or(Error::IllegalBuffer("plaintext shorter than 20 bytes"))?;
    let (len_bytes, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(Error::IllegalBuffer("plaintext shorter than 20 bytes"))?;
    let msg_len = usize::try_from(u32::from_be_bytes(*len_bytes))
        .map_err(|_| Error::IllegalBuffer("msg_len does not fit"))?;
    let (msg, receive_id) = rest
        .split_at_checked(msg_len)
        .ok_or(Error::IllegalBuffer("msg_len exceeds the plaintext"))?;
    Ok(Decrypted {
        random: *random,
        msg: msg.to_vec(),
        receive_id: receive_id.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_key() -> EncodingAesKey {
        EncodingAesKey::from_bytes([0u8; 32])
    }

    /// Encrypt an arbitrary (already padded, block-aligned) plaintext, bypassing the layout.
    fn encrypt_raw_plaintext(plain: &[u8]) -> String {
        encrypt_padded(&zero_key(), plain.to_vec()).unwrap()
    }

    #[test]
    fn pad_values() {
        assert_eq!(pad_len(0), 32);
        assert_eq!(pad_len(1), 31);
        assert_eq!(pad_len(31), 1);
        assert_eq!(pad_len(32), 32);
        assert_eq!(pad_len(33), 31);
        for len in 0..200 {
            let mut v = vec![7u8; len];
            pad32(&mut v);
            assert_eq!(v.len() % 32, 0);
            assert!(v.len() > len && v.len() <= len + 32);
            assert_eq!(unpad32(&v).unwrap(), len);
        }
    }

    #[test]
    fn unpad_rejects_bad_values() {
        assert!(matches!(unpad32(&[]), Err(Error::IllegalBuffer(_))));
        assert!(matches!(unpad32(&[0u8; 32]), Err(Error::IllegalBuffer(_))));
        assert!(matches!(unpad32(&[33u8; 48]), Err(Error::IllegalBuffer(_))));
        // 32 is the largest legal value.
        assert_eq!(unpad32(&[32u8; 48]).unwrap(), 16);
        // Pad value longer than the buffer.
        assert!(matches!(unpad32(&[20u8; 16]), Err(Error::IllegalBuffer(_))));
        // Inconsistent pad bytes.
        let mut v = vec![0u8; 30];
        v.extend_from_slice(&[1, 2]);
        assert!(matches!(unpad32(&v), Err(Error::IllegalBuffer(_))));
    }

    #[test]
    fn g_msg_len_larger_than_buffer_is_illegal_buffer() {
        // random16 ‖ be32(1000) ‖ "abc" ‖ padding
        let mut plain = b"0123456789abcdef".to_vec();
        plain.extend_from_slice(&1000u32.to_be_bytes());
        plain.extend_from_slice(b"abc");
        pad32(&mut plain);
        let ct = encrypt_raw_plaintext(&plain);
        let err = decrypt_raw(&zero_key(), &ct).unwrap_err();
        assert_eq!(err.code(), -40008, "{err:?}");
    }

    #[test]
    fn g_msg_len_u32_max_is_illegal_buffer() {
        let mut plain = b"0123456789abcdef".to_vec();
        plain.extend_from_slice(&u32::MAX.to_be_bytes());
        pad32(&mut plain);
        let ct = encrypt_raw_plaintext(&plain);
        assert_eq!(decrypt_raw(&zero_key(), &ct).unwrap_err().code(), -40008);
    }

    #[test]
    fn g_plaintext_shorter_than_header_is_illegal_buffer() {
        // 19 content bytes + 13 bytes of padding 0x0d.
        let mut plain = vec![b'x'; 19];
        pad32(&mut plain);
        let ct = encrypt_raw_plaintext(&plain);
        assert_eq!(decrypt_raw(&zero_key(), &ct).unwrap_err().code(), -40008);
    }

    #[test]
    fn g_inconsistent_padding_bytes_are_illegal_buffer() {
        let mut plain = b"0123456789abcdef".to_vec();
        plain.extend_from_slice(&0u32.to_be_bytes());
        pad32(&mut plain); // 12 bytes of 0x0c
        if let Some(b) = plain.get_mut(25) {
            *b = 0x0b;
        }
        let ct = encrypt_raw_plaintext(&plain);
        assert_eq!(decrypt_raw(&zero_key(), &ct).unwrap_err().code(), -40008);
    }

    #[test]
    fn g_full_block_of_32_padding_decrypts() {
        // Content exactly 32 bytes → a full block of 0x20 is appended; cbc's own Pkcs7 would
        // reject that pad, which is why padding is done by hand.
        let mut plain = b"0123456789abcdef".to_vec();
        plain.extend_from_slice(&8u32.to_be_bytes());
        plain.extend_from_slice(b"12345678wxid");
        assert_eq!(plain.len(), 32);
        pad32(&mut plain);
        assert_eq!(plain.len(), 64);
        assert!(plain[32..].iter().all(|&b| b == 32));
        let d = decrypt_raw(&zero_key(), &encrypt_raw_plaintext(&plain)).unwrap();
        assert_eq!(d.msg, b"12345678");
        assert_eq!(d.receive_id, b"wxid");
    }

    #[test]
    fn random_prefix_is_alphanumeric_and_varies() {
        let a = random_prefix();
        let b = random_prefix();
        assert!(a.iter().all(u8::is_ascii_alphanumeric));
        assert_ne!(a, b);
    }
}
