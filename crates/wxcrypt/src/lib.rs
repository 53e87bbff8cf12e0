//! `wxcrypt` — the WXBizMsgCrypt callback crypto used by WeChat Official Accounts, Mini
//! Programs, the Open Platform, WeCom self-built apps and the WeCom intelligent robot.
//!
//! What it does, and nothing more (no I/O, no async, no clock):
//!
//! * SHA-1 signatures over the sorted, concatenated `[token, timestamp, nonce(, encrypt)]`
//!   ([`signature`], [`plain_signature`]) and constant-time verification
//!   ([`verify_signature`], [`verify_plain_signature`]);
//! * EncodingAESKey decoding (43 chars + `=`, non-zero trailing bits accepted)
//!   ([`EncodingAesKey`]);
//! * AES-256-CBC with IV = key\[..16\] and PKCS#7 padding to a **32-byte** block, over the
//!   plaintext `random16 ‖ u32be(len) ‖ msg ‖ receive_id` ([`encrypt`],
//!   [`encrypt_with_random`], [`decrypt_raw`]);
//! * inbound envelope parsing (`<Encrypt>` in XML with DTDs/entities rejected, `"encrypt"` in
//!   JSON) and outbound reply envelopes (XML and the WeCom JSON form) ([`envelope`]);
//! * [`MsgCrypt`], tying token, key and receive id together for the callback flows:
//!   URL verification, message decryption and reply encryption.
//!
//! Every failure is an [`Error`] whose [`Error::code`] is the official WXBizMsgCrypt return
//! code (−40001 … −40011). Error messages never contain the token, the key or plaintext.
//!
//! ```
//! use wxcrypt::{MsgCrypt, ReceiveId};
//!
//! let crypt = MsgCrypt::from_config(
//!     "QDG6eK",
//!     "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
//!     "wx5823bf96d3bd56c7",
//! )?;
//! // WeCom GET URL verification: reply with the decrypted echostr.
//! let echo = crypt.verify_url(
//!     "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
//!     "1409659589",
//!     "263014780",
//!     "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
//! )?;
//! assert_eq!(echo, "1616140317555161061");
//!
//! // Encrypted passive reply.
//! let xml = crypt.encrypt_reply_xml("<xml>…</xml>", "1409659600", "263014780")?;
//! assert!(xml.starts_with("<xml>\n<Encrypt><![CDATA["));
//! # Ok::<(), wxcrypt::Error>(())
//! ```
//!
//! Timestamps are not checked for freshness here (the protocol documents no window); that is
//! the caller's policy.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

mod cipher;
pub mod envelope;
mod error;
mod key;
mod signature;

use std::fmt;

pub use cipher::{
    Decrypted, PAD_BLOCK, RANDOM_LEN, decrypt_raw, encrypt, encrypt_with_random, random_prefix,
};
pub use envelope::{
    EncryptedReply, EnvelopeFormat, InboundEnvelope, build_json_envelope, build_xml_envelope,
    parse_envelope, parse_json_envelope, parse_xml_envelope,
};
pub use error::{Error, Result};
pub use key::{ENCODING_AES_KEY_LEN, EncodingAesKey, ReceiveId};
pub use signature::{plain_signature, signature, verify_plain_signature, verify_signature};

/// Token + key + receive id of one callback endpoint (one OA / one WeCom app / one robot).
///
/// `Debug` redacts the token and the key.
#[derive(Clone)]
pub struct MsgCrypt {
    token: String,
    key: EncodingAesKey,
    receive_id: ReceiveId,
}

impl fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("token", &"***")
            .field("key", &self.key)
            .field("receive_id", &self.receive_id)
            .finish()
    }
}

impl MsgCrypt {
    /// Build from already decoded parts.
    pub fn new(token: impl Into<String>, key: EncodingAesKey, receive_id: ReceiveId) -> Self {
        Self {
            token: token.into(),
            key,
            receive_id,
        }
    }

    /// Build from console values: token, 43-char EncodingAESKey and the receive id (AppID /
    /// CorpID; `""` for the WeCom intelligent robot → [`ReceiveId::Empty`]).
    ///
    /// Errors: [`Error::IllegalAesKey`] (−40004).
    pub fn from_config(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self> {
        Ok(Self::new(
            token,
            EncodingAesKey::decode(encoding_aes_key)?,
            ReceiveId::new(receive_id),
        ))
    }

    /// The AES key.
    pub fn key(&self) -> &EncodingAesKey {
        &self.key
    }

    /// The configured receive id.
    pub fn receive_id(&self) -> &ReceiveId {
        &self.receive_id
    }

    /// 4-part signature with this endpoint's token.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    /// Check a 3-part `signature` (Official Account GET URL check, where `echostr` is echoed
    /// verbatim, and the plain-mode `signature` query parameter).
    ///
    /// Errors: [`Error::ValidateSignature`] (−40001).
    pub fn verify_plain_signature(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<()> {
        verify_plain_signature(signature, &self.token, timestamp, nonce)
    }

    /// Check a 4-part `msg_signature`.
    ///
    /// Errors: [`Error::ValidateSignature`] (−40001).
    pub fn verify_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<()> {
        verify_signature(msg_signature, &self.token, timestamp, nonce, encrypt)
    }

    /// Encrypt with a fresh CSPRNG random prefix and this endpoint's receive id.
    pub fn encrypt(&self, msg: &[u8]) -> Result<String> {
        encrypt(&self.key, msg, self.receive_id.as_str())
    }

    /// Encrypt with a caller-chosen random prefix (deterministic; tests and vectors only).
    pub fn encrypt_with_random(&self, msg: &[u8], random: &[u8; RANDOM_LEN]) -> Result<String> {
        encrypt_with_random(&self.key, msg, self.receive_id.as_str(), random)
    }

    /// Decrypt a ciphertext **without** checking any signature, but checking the receive id.
    /// Returns the raw message bytes.
    ///
    /// Errors: −40010, −40007, −40008, −40005.
    pub fn decrypt_bytes(&self, encrypt_b64: &str) -> Result<Vec<u8>> {
        let d = decrypt_raw(&self.key, encrypt_b64)?;
        if !self.receive_id.matches(&d.receive_id) {
            return Err(Error::ValidateReceiveId);
        }
        Ok(d.msg)
    }

    /// Like [`MsgCrypt::decrypt_bytes`] but the message must be UTF-8 (−40008 otherwise).
    pub fn decrypt(&self, encrypt_b64: &str) -> Result<String> {
        String::from_utf8(self.decrypt_bytes(encrypt_b64)?)
            .map_err(|_| Error::IllegalBuffer("message is not UTF-8"))
    }

    /// WeCom GET URL verification: verify `msg_signature` over the (URL-decoded) `echostr`,
    /// decrypt it and return the plaintext to send back as the response body.
    ///
    /// (Official Account URL verification is different: a 3-part signature and the echostr
    /// echoed verbatim — see [`MsgCrypt::verify_plain_signature`].)
    ///
    /// Errors: −40001 before any decryption, then as [`MsgCrypt::decrypt`].
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String> {
        self.verify_signature(msg_signature, timestamp, nonce, echostr)?;
        self.decrypt(echostr)
    }

    /// Verify `msg_signature` over `encrypt_b64` (the `Encrypt` field of the body, with the
    /// query-string `timestamp` and `nonce`), then decrypt and check the receive id.
    ///
    /// The result is the message text (XML or JSON); it is not parsed here.
    ///
    /// Errors: −40001 before any decryption, then as [`MsgCrypt::decrypt`].
    pub fn decrypt_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt_b64: &str,
    ) -> Result<String> {
        self.verify_signature(msg_signature, timestamp, nonce, encrypt_b64)?;
        self.decrypt(encrypt_b64)
    }

    /// Parse an inbound body (XML or JSON, auto-detected), then [`MsgCrypt::decrypt_message`].
    ///
    /// Errors: −40002 for an unparsable body, then as [`MsgCrypt::decrypt_message`].
    pub fn decrypt_envelope(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
    ) -> Result<String> {
        let env = parse_envelope(body)?;
        self.decrypt_message(msg_signature, timestamp, nonce, &env.encrypt)
    }

    /// Encrypt a reply and sign it with the given `timestamp` and `nonce`.
    /// Returns `(encrypt_b64, msg_signature)`.
    pub fn encrypt_reply(
        &self,
        reply: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<(String, String)> {
        let encrypt = self.encrypt(reply.as_bytes())?;
        let sig = self.signature(timestamp, nonce, &encrypt);
        Ok((encrypt, sig))
    }

    /// Like [`MsgCrypt::encrypt_reply`] but returns all envelope fields.
    pub fn encrypt_reply_envelope(
        &self,
        reply: &str,
        timestamp: &str,
        nonce: &str,
    ) -> Result<EncryptedReply> {
        let (encrypt, msg_signature) = self.encrypt_reply(reply, timestamp, nonce)?;
        Ok(EncryptedReply {
            encrypt,
            msg_signature,
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
        })
    }

    /// Encrypt a reply and wrap it in the XML reply envelope (OA and WeCom apps).
    ///
    /// Errors: −40011 if `timestamp` is not decimal digits or `nonce` cannot go in CDATA.
    pub fn encrypt_reply_xml(&self, reply: &str, timestamp: &str, nonce: &str) -> Result<String> {
        self.encrypt_reply_envelope(reply, timestamp, nonce)?
            .to_xml()
    }

    /// Encrypt a reply and wrap it in the WeCom JSON reply envelope (JSON callbacks and the
    /// intelligent robot).
    ///
    /// Errors: −40011 if `timestamp` is not decimal digits.
    pub fn encrypt_reply_json(&self, reply: &str, timestamp: &str, nonce: &str) -> Result<String> {
        self.encrypt_reply_envelope(reply, timestamp, nonce)?
            .to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = MsgCrypt::from_config(
            "supersecrettoken",
            "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
            "wx5823bf96d3bd56c7",
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("supersecrettoken"), "{d}");
        assert!(d.contains("***"));
        assert!(d.contains("wx5823bf96d3bd56c7"));
        assert_eq!(format!("{:?}", c.key()), "EncodingAesKey(***)");
    }

    #[test]
    fn robot_empty_receive_id_round_trip_and_strictness() {
        let key = EncodingAesKey::generate();
        let robot = MsgCrypt::new("t", key.clone(), ReceiveId::Empty);
        let ct = robot.encrypt(br#"{"msgtype":"text"}"#).unwrap();
        assert_eq!(robot.decrypt(&ct).unwrap(), r#"{"msgtype":"text"}"#);
        // A plaintext that carries a receive id is rejected by the robot endpoint …
        let app = MsgCrypt::new("t", key, ReceiveId::new("ww123"));
        let ct_app = app.encrypt(b"x").unwrap();
        assert_eq!(robot.decrypt(&ct_app).unwrap_err().code(), -40005);
        // … and vice versa.
        assert_eq!(app.decrypt(&ct).unwrap_err().code(), -40005);
        assert_eq!(ReceiveId::new(""), ReceiveId::Empty);
    }
}
