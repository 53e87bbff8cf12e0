//! Shared helpers for the vector tests.
#![allow(dead_code)]

use base64::Engine as _;
use wxcrypt::*;

pub struct DecryptVector {
    pub token: &'static str,
    pub key: &'static str,
    pub receive_id: &'static str,
    pub timestamp: &'static str,
    pub nonce: &'static str,
    pub msg_signature: &'static str,
    pub encrypt: &'static str,
    /// WeCom URL verification (encrypted echostr) rather than a message body.
    pub echostr: bool,
    /// The vector comes from a JSON callback sample.
    pub json: bool,
}

pub struct EncryptVector {
    pub token: &'static str,
    pub key: &'static str,
    pub receive_id: &'static str,
    pub random: &'static str,
    pub plaintext: &'static str,
    pub encrypt: &'static str,
}

pub fn random16(s: &str) -> [u8; 16] {
    s.as_bytes().try_into().expect("random must be 16 bytes")
}

/// Value of the first `<tag>` in a plaintext message, CDATA stripped.
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let v = &xml[start..end];
    let v = v
        .strip_prefix("<![CDATA[")
        .and_then(|v| v.strip_suffix("]]>"))
        .unwrap_or(v);
    Some(v.to_owned())
}

pub fn check_plain_sig(token: &str, timestamp: &str, nonce: &str, expected: &str) {
    assert_eq!(plain_signature(token, timestamp, nonce), expected);
    verify_plain_signature(expected, token, timestamp, nonce).unwrap();
    let crypt = MsgCrypt::new(token, EncodingAesKey::from_bytes([0; 32]), ReceiveId::Empty);
    crypt
        .verify_plain_signature(expected, timestamp, nonce)
        .unwrap();
    // Tampered signature, wrong token.
    let zeros = "0".repeat(40);
    assert_eq!(
        verify_plain_signature(&zeros, token, timestamp, nonce),
        Err(Error::ValidateSignature)
    );
    let wrong_token = format!("{token}x");
    assert_eq!(
        verify_plain_signature(expected, &wrong_token, timestamp, nonce)
            .unwrap_err()
            .code(),
        -40001
    );
}

/// Full decrypt check; returns the plaintext message.
pub fn check_decrypt(v: &DecryptVector) -> String {
    // Key decoding (non-zero trailing bits included) and the 4-part signature.
    let key = EncodingAesKey::decode(v.key).expect("vector key must decode");
    assert_eq!(key.as_bytes().len(), 32);
    assert_eq!(
        signature(v.token, v.timestamp, v.nonce, v.encrypt),
        v.msg_signature
    );
    verify_signature(v.msg_signature, v.token, v.timestamp, v.nonce, v.encrypt).unwrap();

    let crypt = MsgCrypt::from_config(v.token, v.key, v.receive_id).unwrap();
    let plain = if v.echostr {
        crypt
            .verify_url(v.msg_signature, v.timestamp, v.nonce, v.encrypt)
            .unwrap()
    } else {
        crypt
            .decrypt_message(v.msg_signature, v.timestamp, v.nonce, v.encrypt)
            .unwrap()
    };

    // The same through an inbound envelope (XML, and JSON for the JSON samples).
    let xml_body = format!(
        "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt><AgentID>1</AgentID></xml>",
        v.receive_id, v.encrypt
    );
    assert_eq!(
        crypt
            .decrypt_envelope(v.msg_signature, v.timestamp, v.nonce, xml_body.as_bytes())
            .unwrap(),
        plain
    );
    if v.json {
        let json_body = format!(
            r#"{{"ToUserName":"{}","Encrypt":"{}","AgentID":218}}"#,
            v.receive_id, v.encrypt
        );
        assert_eq!(
            crypt
                .decrypt_envelope(v.msg_signature, v.timestamp, v.nonce, json_body.as_bytes())
                .unwrap(),
            plain
        );
    }

    // G: tampered msg_signature → −40001 (before any decryption).
    let zeros = "0".repeat(40);
    let err = crypt
        .decrypt_message(&zeros, v.timestamp, v.nonce, v.encrypt)
        .unwrap_err();
    assert_eq!(err.code(), -40001);
    assert_eq!(
        crypt
            .verify_url(&zeros, v.timestamp, v.nonce, v.encrypt)
            .unwrap_err()
            .code(),
        -40001
    );
    // G: correct signature but wrong configured receive id → −40005.
    let wrong = MsgCrypt::from_config(v.token, v.key, &format!("{}x", v.receive_id)).unwrap();
    assert_eq!(
        wrong
            .decrypt_message(v.msg_signature, v.timestamp, v.nonce, v.encrypt)
            .unwrap_err()
            .code(),
        -40005
    );
    let robot = MsgCrypt::from_config(v.token, v.key, "").unwrap();
    assert_eq!(
        robot
            .decrypt_message(v.msg_signature, v.timestamp, v.nonce, v.encrypt)
            .unwrap_err()
            .code(),
        -40005
    );
    plain
}

/// Check the lengths and random prefix stated by the source.
pub fn check_parts(
    v: &DecryptVector,
    random: &str,
    msg_len: usize,
    full_len: usize,
    raw_len: usize,
) {
    let key = EncodingAesKey::decode(v.key).unwrap();
    let d = decrypt_raw(&key, v.encrypt).unwrap();
    assert_eq!(d.random, random16(random));
    assert_eq!(d.msg.len(), msg_len);
    assert_eq!(d.receive_id, v.receive_id.as_bytes());
    assert_eq!(16 + 4 + d.msg.len() + d.receive_id.len(), full_len);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.encrypt)
        .unwrap();
    assert_eq!(raw.len(), raw_len);
}

pub fn check_encrypt(v: &EncryptVector) {
    let key = EncodingAesKey::decode(v.key).unwrap();
    let random = random16(v.random);
    assert_eq!(
        encrypt_with_random(&key, v.plaintext.as_bytes(), v.receive_id, &random).unwrap(),
        v.encrypt
    );
    let crypt = MsgCrypt::from_config(v.token, v.key, v.receive_id).unwrap();
    assert_eq!(
        crypt
            .encrypt_with_random(v.plaintext.as_bytes(), &random)
            .unwrap(),
        v.encrypt
    );
    // And back.
    assert_eq!(crypt.decrypt(v.encrypt).unwrap(), v.plaintext);
    let d = decrypt_raw(&key, v.encrypt).unwrap();
    assert_eq!(d.random, random);
    // Random-prefix encryption differs from the fixed one but decrypts to the same text.
    let fresh = crypt.encrypt(v.plaintext.as_bytes()).unwrap();
    assert_ne!(fresh, v.encrypt);
    assert_eq!(crypt.decrypt(&fresh).unwrap(), v.plaintext);
}

pub fn check_encrypt_signature(
    v: &EncryptVector,
    timestamp: &str,
    nonce: &str,
    msg_signature: &str,
) {
    assert_eq!(
        signature(v.token, timestamp, nonce, v.encrypt),
        msg_signature
    );
    let crypt = MsgCrypt::from_config(v.token, v.key, v.receive_id).unwrap();
    assert_eq!(crypt.signature(timestamp, nonce, v.encrypt), msg_signature);
    assert_eq!(
        crypt
            .decrypt_message(msg_signature, timestamp, nonce, v.encrypt)
            .unwrap(),
        v.plaintext
    );
    // A reply produced by encrypt_reply verifies the way the platform checks it.
    let (enc, sig) = crypt.encrypt_reply(v.plaintext, timestamp, nonce).unwrap();
    assert_eq!(
        crypt.decrypt_message(&sig, timestamp, nonce, &enc).unwrap(),
        v.plaintext
    );
}

pub fn check_encrypt_lengths(v: &EncryptVector, msg_len: usize, full_len: usize, raw_len: usize) {
    assert_eq!(v.plaintext.len(), msg_len);
    assert_eq!(16 + 4 + msg_len + v.receive_id.len(), full_len);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.encrypt)
        .unwrap();
    assert_eq!(raw.len(), raw_len);
    assert_eq!(raw.len() % 32, 0);
}

pub fn check_envelope(v: &EncryptVector, timestamp: &str, nonce: &str, expected: &str) {
    let sig = signature(v.token, timestamp, nonce, v.encrypt);
    assert_eq!(
        build_xml_envelope(v.encrypt, &sig, timestamp, nonce).unwrap(),
        expected
    );
    let reply = EncryptedReply {
        encrypt: v.encrypt.to_owned(),
        msg_signature: sig.clone(),
        timestamp: timestamp.to_owned(),
        nonce: nonce.to_owned(),
    };
    assert_eq!(reply.to_xml().unwrap(), expected);
    let parsed = parse_xml_envelope(expected.as_bytes()).unwrap();
    assert_eq!(parsed.encrypt, v.encrypt);
    // The JSON form carries the same values.
    let json: serde_json::Value = serde_json::from_str(&reply.to_json().unwrap()).unwrap();
    assert_eq!(json["encrypt"], v.encrypt);
    assert_eq!(json["msgsignature"], sig.as_str());
    assert_eq!(json["timestamp"], timestamp);
    assert_eq!(json["nonce"], nonce);
}
