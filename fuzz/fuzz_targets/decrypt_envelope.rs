//! Arbitrary bytes → envelope parsing (XML / JSON) → signature check → decryption.
//!
//! The signature is computed over whatever `Encrypt` the parser found, so the fuzzer gets past
//! −40001 and exercises base64, AES-CBC, unpadding and the plaintext layout as well. The same
//! bytes are also fed directly as a ciphertext (base64-encoded) to reach the unpadding and
//! length checks with block-aligned input.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use wxcrypt::{EncodingAesKey, MsgCrypt, ReceiveId, parse_envelope};

const TIMESTAMP: &str = "1409659813";
const NONCE: &str = "1372623149";

fuzz_target!(|data: &[u8]| {
    let key = EncodingAesKey::from_bytes([0x42; 32]);
    let app = MsgCrypt::new("token", key.clone(), ReceiveId::new("wx5823bf96d3bd56c7"));
    let robot = MsgCrypt::new("token", key, ReceiveId::Empty);

    // 1. The body path, as the HTTP handler runs it.
    let _ = app.decrypt_envelope(
        "0000000000000000000000000000000000000000",
        TIMESTAMP,
        NONCE,
        data,
    );
    if let Ok(env) = parse_envelope(data) {
        let sig = app.signature(TIMESTAMP, NONCE, &env.encrypt);
        let _ = app.decrypt_envelope(&sig, TIMESTAMP, NONCE, data);
        let _ = robot.decrypt_message(&sig, TIMESTAMP, NONCE, &env.encrypt);
    }

    // 2. The bytes as a ciphertext (after the signature check, via the raw API).
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = app.decrypt_bytes(&b64);
    let _ = robot.decrypt_bytes(&b64);

    // 3. The bytes as an echostr / ciphertext string.
    if let Ok(s) = std::str::from_utf8(data) {
        let sig = app.signature(TIMESTAMP, NONCE, s);
        let _ = app.verify_url(&sig, TIMESTAMP, NONCE, s);
        let _ = EncodingAesKey::decode(s);
    }
});
