//! Error type carrying the official WXBizMsgCrypt return codes.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Each variant maps to one of the official WXBizMsgCrypt return codes (see [`Error::code`]).
/// The codes are local library codes: they are useful in logs and metrics but are never sent to
/// the platform. Messages are static and never contain the token, the key or any plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// −40001 `ValidateSignature_Error`: `msg_signature` / `signature` mismatch.
    #[error("signature mismatch")]
    ValidateSignature,
    /// −40002 `ParseXml_Error` / `ParseJson_Error`: the body could not be parsed or has no
    /// `Encrypt` field.
    #[error("cannot parse envelope: {0}")]
    ParseEnvelope(&'static str),
    /// −40003 `ComputeSignature_Error`. SHA-1 cannot fail in this implementation; kept so the
    /// code table is complete.
    #[error("signature computation failed")]
    ComputeSignature,
    /// −40004 `IllegalAesKey`: the EncodingAESKey is not 43 base64 characters decoding to
    /// 32 bytes.
    #[error("illegal EncodingAESKey: {0}")]
    IllegalAesKey(&'static str),
    /// −40005 `ValidateAppid_Error` / `ValidateCorpid_Error`: the receive id at the end of the
    /// plaintext is not the configured AppID / CorpID / empty string.
    #[error("receive id in the plaintext does not match the configured AppID/CorpID")]
    ValidateReceiveId,
    /// −40006 `EncryptAES_Error`.
    #[error("AES encryption failed: {0}")]
    EncryptAes(&'static str),
    /// −40007 `DecryptAES_Error`: e.g. ciphertext empty or not a multiple of 16 bytes.
    #[error("AES decryption failed: {0}")]
    DecryptAes(&'static str),
    /// −40008 `IllegalBuffer`: decrypted buffer malformed (padding, length field, UTF-8).
    #[error("illegal decrypted buffer: {0}")]
    IllegalBuffer(&'static str),
    /// −40009 `EncodeBase64_Error`. Base64 encoding cannot fail in this implementation; kept so
    /// the code table is complete.
    #[error("base64 encoding failed")]
    EncodeBase64,
    /// −40010 `DecodeBase64_Error`.
    #[error("base64 decoding failed")]
    DecodeBase64,
    /// −40011 `GenReturnXml_Error` / `GenReturnJson_Error`: a reply envelope could not be built
    /// (e.g. a field that cannot be represented safely).
    #[error("cannot build reply envelope: {0}")]
    GenReturnEnvelope(&'static str),
}

impl Error {
    /// The official WXBizMsgCrypt return code (−40001 … −40011).
    pub const fn code(&self) -> i32 {
        match self {
            Error::ValidateSignature => -40001,
            Error::ParseEnvelope(_) => -40002,
            Error::ComputeSignature => -40003,
            Error::IllegalAesKey(_) => -40004,
            Error::ValidateReceiveId => -40005,
            Error::EncryptAes(_) => -40006,
            Error::DecryptAes(_) => -40007,
            Error::IllegalBuffer(_) => -40008,
            Error::EncodeBase64 => -40009,
            Error::DecodeBase64 => -40010,
            Error::GenReturnEnvelope(_) => -40011,
        }
    }

    /// The official constant name for the code (e.g. `"ValidateSignature_Error"`).
    pub const fn official_name(&self) -> &'static str {
        match self {
            Error::ValidateSignature => "ValidateSignature_Error",
            Error::ParseEnvelope(_) => "ParseXml_Error",
            Error::ComputeSignature => "ComputeSignature_Error",
            Error::IllegalAesKey(_) => "IllegalAesKey",
            Error::ValidateReceiveId => "ValidateCorpid_Error",
            Error::EncryptAes(_) => "EncryptAES_Error",
            Error::DecryptAes(_) => "DecryptAES_Error",
            Error::IllegalBuffer(_) => "IllegalBuffer",
            Error::EncodeBase64 => "EncodeBase64_Error",
            Error::DecodeBase64 => "DecodeBase64_Error",
            Error::GenReturnEnvelope(_) => "GenReturnXml_Error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_official_table() {
        let all = [
            (Error::ValidateSignature, -40001),
            (Error::ParseEnvelope("x"), -40002),
            (Error::ComputeSignature, -40003),
            (Error::IllegalAesKey("x"), -40004),
            (Error::ValidateReceiveId, -40005),
            (Error::EncryptAes("x"), -40006),
            (Error::DecryptAes("x"), -40007),
            (Error::IllegalBuffer("x"), -40008),
            (Error::EncodeBase64, -40009),
            (Error::DecodeBase64, -40010),
            (Error::GenReturnEnvelope("x"), -40011),
        ];
        for (e, code) in all {
            assert_eq!(e.code(), code, "{e:?}");
            assert!(!e.to_string().is_empty());
            assert!(!e.official_name().is_empty());
        }
    }
}
