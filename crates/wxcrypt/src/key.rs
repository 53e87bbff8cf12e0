//! EncodingAESKey decoding and the receive id.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{GeneralPurpose, GeneralPurposeConfig};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Length of an EncodingAESKey in characters.
pub const ENCODING_AES_KEY_LEN: usize = 43;

/// Standard alphabet, padding required, **non-zero trailing bits accepted**.
///
/// 43 characters + `=` carry 258 bits; the last character has 2 bits that do not fit into the
/// 32-byte key. Tencent's sample keys set them, and the official samples ignore them, so we must
/// too (the `base64` crate's default engine rejects them).
const KEY_ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The 32-byte AES-256 key derived from a 43-character EncodingAESKey.
///
/// `Debug` never prints the key. Equality is constant time.
#[derive(Clone)]
pub struct EncodingAesKey {
    key: [u8; 32],
}

impl EncodingAesKey {
    /// Decode a console EncodingAESKey: exactly 43 characters of the standard base64 alphabet,
    /// `=` appended, decoded to 32 bytes. Non-zero trailing bits in the last character are
    /// accepted (and ignored), as in the official samples.
    ///
    /// Errors: [`Error::IllegalAesKey`] (−40004).
    pub fn decode(encoding_aes_key: &str) -> Result<Self> {
        if encoding_aes_key.len() != ENCODING_AES_KEY_LEN {
            return Err(Error::IllegalAesKey("must be exactly 43 characters"));
        }
        if !encoding_aes_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        {
            return Err(Error::IllegalAesKey("contains a non-base64 character"));
        }
        let mut padded = [0u8; ENCODING_AES_KEY_LEN + 1];
        let (head, tail) = padded.split_at_mut(ENCODING_AES_KEY_LEN);
        head.copy_from_slice(encoding_aes_key.as_bytes());
        tail.copy_from_slice(b"=");
        let decoded = KEY_ENGINE
            .decode(padded)
            .map_err(|_| Error::IllegalAesKey("not valid base64"))?;
        let key: [u8; 32] = decoded
            .try_into()
            .map_err(|_| Error::IllegalAesKey("does not decode to 32 bytes"))?;
        Ok(Self { key })
    }

    /// Build a key from 32 raw bytes.
    pub const fn from_bytes(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A fresh random key from the thread-local CSPRNG (handy for tests and for generating a
    /// configuration value; print it with [`EncodingAesKey::to_encoding_aes_key`]).
    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    /// The raw 32-byte AES key.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The fixed IV: the first 16 bytes of the key.
    pub fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        let (first, _) = self.key.split_at(16);
        iv.copy_from_slice(first);
        iv
    }

    /// The 43-character console representation (zero trailing bits, so it may differ in the
    /// last character from a console key with non-zero trailing bits, while decoding to the
    /// same bytes).
    pub fn to_encoding_aes_key(&self) -> String {
        let mut s = base64::engine::general_purpose::STANDARD.encode(self.key);
        // 32 bytes encode to 44 characters, the last one being '='.
        s.truncate(ENCODING_AES_KEY_LEN);
        s
    }
}

impl fmt::Debug for EncodingAesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncodingAesKey(***)")
    }
}

impl PartialEq for EncodingAesKey {
    fn eq(&self, other: &Self) -> bool {
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for EncodingAesKey {}

impl FromStr for EncodingAesKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::decode(s)
    }
}

/// What the tail of the decrypted plaintext must be, and what is appended when encrypting.
///
/// Per the protocol spec the receive id is the AppID (Official Account / Mini Program /
/// Open Platform), the CorpID (WeCom app; SuiteID for third-party suites), or the **empty
/// string** for the WeCom intelligent robot (智能机器人). The empty case is still checked: a
/// plaintext with a non-empty tail is rejected with −40005, exactly as the official JSON
/// sample does with `receiveid = ""`. There is deliberately no "do not check" variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReceiveId {
    /// AppID / CorpID / SuiteID; the plaintext tail must equal it byte for byte.
    Id(String),
    /// WeCom intelligent robot: the plaintext tail must be empty, and nothing is appended.
    Empty,
}

impl ReceiveId {
    /// `""` becomes [`ReceiveId::Empty`], anything else [`ReceiveId::Id`].
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        if id.is_empty() {
            ReceiveId::Empty
        } else {
            ReceiveId::Id(id)
        }
    }

    /// The id as it appears in the plaintext (`""` for [`ReceiveId::Empty`]).
    pub fn as_str(&self) -> &str {
        match self {
            ReceiveId::Id(s) => s,
            ReceiveId::Empty => "",
        }
    }

    /// Does the plaintext tail match?
    pub fn matches(&self, tail: &[u8]) -> bool {
        self.as_str().as_bytes() == tail
    }
}

impl From<&str> for ReceiveId {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl From<String> for ReceiveId {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl fmt::Display for ReceiveId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
