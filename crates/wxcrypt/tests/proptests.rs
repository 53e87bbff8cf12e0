//! Property tests: round trips, and "never panics" on arbitrary input.

use base64::Engine as _;
use proptest::prelude::*;
use wxcrypt::*;

fn key_strategy() -> impl Strategy<Value = EncodingAesKey> {
    any::<[u8; 32]>().prop_map(EncodingAesKey::from_bytes)
}

fn receive_id_strategy() -> impl Strategy<Value = ReceiveId> {
    prop_oneof![
        Just(ReceiveId::Empty),
        "[a-z0-9]{1,32}".prop_map(ReceiveId::new),
        any::<String>().prop_map(ReceiveId::new),
    ]
}

proptest! {
    #[test]
    fn round_trip_bytes(
        key in key_strategy(),
        rid in receive_id_strategy(),
        msg in proptest::collection::vec(any::<u8>(), 0..2048),
        random in any::<[u8; 16]>(),
    ) {
        let crypt = MsgCrypt::new("token", key.clone(), rid.clone());
        let enc = crypt.encrypt_with_random(&msg, &random).unwrap();
        let raw = base64::engine::general_purpose::STANDARD.decode(&enc).unwrap();
        prop_assert_eq!(raw.len() % 32, 0);
        prop_assert_eq!(crypt.decrypt_bytes(&enc).unwrap(), msg.clone());
        let d = decrypt_raw(&key, &enc).unwrap();
        prop_assert_eq!(d.random, random);
        prop_assert_eq!(d.receive_id, rid.as_str().as_bytes().to_vec());
        let enc2 = crypt.encrypt(&msg).unwrap();
        prop_assert_eq!(crypt.decrypt_bytes(&enc2).unwrap(), msg);
    }

    #[test]
    fn round_trip_strings_with_signature(
        key in key_strategy(),
        rid in receive_id_strategy(),
        token in "[A-Za-z0-9]{1,32}",
        msg in any::<String>(),
        ts in "[0-9]{1,12}",
        nonce in "[A-Za-z0-9]{0,16}",
    ) {
        let crypt = MsgCrypt::new(token, key, rid);
        let (enc, sig) = crypt.encrypt_reply(&msg, &ts, &nonce).unwrap();
        prop_assert_eq!(crypt.decrypt_message(&sig, &ts, &nonce, &enc).unwrap(), msg.clone());
        let xml = crypt.encrypt_reply_xml(&msg, &ts, &nonce).unwrap();
        let env = parse_xml_envelope(xml.as_bytes()).unwrap();
        let sig = crypt.signature(&ts, &nonce, &env.encrypt);
        prop_assert_eq!(crypt.decrypt_envelope(&sig, &ts, &nonce, xml.as_bytes()).unwrap(), msg.clone());
        let json = crypt.encrypt_reply_json(&msg, &ts, &nonce).unwrap();
        let env = parse_json_envelope(json.as_bytes()).unwrap();
        let sig = crypt.signature(&ts, &nonce, &env.encrypt);
        prop_assert_eq!(crypt.decrypt_envelope(&sig, &ts, &nonce, json.as_bytes()).unwrap(), msg);
    }

    #[test]
    fn json_envelope_any_nonce(nonce in any::<String>(), enc in any::<String>()) {
        let j = build_json_envelope(&enc, "sig", "1", &nonce).unwrap();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        prop_assert_eq!(v["nonce"].as_str().unwrap(), nonce.as_str());
        prop_assert_eq!(parse_json_envelope(j.as_bytes()).unwrap().encrypt, enc);
    }

    #[test]
    fn xml_envelope_any_nonce_is_safe(nonce in any::<String>()) {
        // Either refused (−40011) or it parses back to exactly one Encrypt, unchanged.
        match build_xml_envelope("QUJD", "sig", "1", &nonce) {
            Ok(x) => prop_assert_eq!(parse_xml_envelope(x.as_bytes()).unwrap().encrypt, "QUJD"),
            Err(e) => prop_assert_eq!(e.code(), -40011),
        }
    }

    #[test]
    fn decrypt_never_panics_on_strings(key in key_strategy(), s in any::<String>()) {
        let crypt = MsgCrypt::new("t", key, ReceiveId::new("wxid"));
        let _ = crypt.decrypt(&s);
        let _ = crypt.verify_url("0", "1", "2", &s);
        let sig = crypt.signature("1", "2", &s);
        let _ = crypt.decrypt_message(&sig, "1", "2", &s);
    }

    #[test]
    fn decrypt_never_panics_on_ciphertexts(
        key in key_strategy(),
        blocks in proptest::collection::vec(any::<[u8; 16]>(), 0..12),
        rid in receive_id_strategy(),
    ) {
        // Arbitrary block-aligned ciphertexts reach unpadding and layout parsing.
        let raw: Vec<u8> = blocks.concat();
        let enc = base64::engine::general_purpose::STANDARD.encode(&raw);
        let crypt = MsgCrypt::new("t", key.clone(), rid);
        match crypt.decrypt_bytes(&enc) {
            Ok(_) => {}
            Err(e) => prop_assert!(matches!(e.code(), -40005 | -40007 | -40008), "{e:?}"),
        }
        let _ = decrypt_raw(&key, &enc);
    }

    #[test]
    fn envelope_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_xml_envelope(&body);
        let _ = parse_json_envelope(&body);
        let _ = parse_envelope(&body);
        let crypt = MsgCrypt::new("t", EncodingAesKey::from_bytes([7; 32]), ReceiveId::Empty);
        let _ = crypt.decrypt_envelope("sig", "1", "2", &body);
    }

    #[test]
    fn envelope_parsing_never_panics_xmlish(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("<xml>".to_string()), Just("</xml>".to_string()),
                Just("<Encrypt>".to_string()), Just("</Encrypt>".to_string()),
                Just("<![CDATA[".to_string()), Just("]]>".to_string()),
                Just("<!DOCTYPE x [<!ENTITY e \"v\">]>".to_string()),
                Just("&e;".to_string()), Just("&amp;".to_string()), Just("&#0;".to_string()),
                Just("&#x110000;".to_string()), Just("<a/>".to_string()), Just("<?pi?>".to_string()),
                Just("<!-- c -->".to_string()), Just("<ToUserName>".to_string()),
                Just("</ToUserName>".to_string()), Just("{\"encrypt\":".to_string()),
                "[A-Za-z0-9+/= ]{0,8}",
            ],
            0..24,
        )
    ) {
        let body = parts.concat();
        if let Ok(env) = parse_xml_envelope(body.as_bytes()) {
            prop_assert!(!body.contains("<!DOCTYPE"));
            let _ = env;
        }
        let _ = parse_envelope(body.as_bytes());
    }

    #[test]
    fn key_decoding_never_panics(s in any::<String>()) {
        let _ = EncodingAesKey::decode(&s);
    }

    #[test]
    fn key_decoding_accepts_all_43_char_alnum(s in "[A-Za-z0-9]{43}") {
        let key = EncodingAesKey::decode(&s).unwrap();
        let canon = key.to_encoding_aes_key();
        prop_assert_eq!(&canon[..42], &s[..42]);
        prop_assert_eq!(EncodingAesKey::decode(&canon).unwrap(), key);
    }

    #[test]
    fn signature_matches_reference(
        token in any::<String>(), ts in any::<String>(), nonce in any::<String>(), enc in any::<String>()
    ) {
        use sha1::Digest as _;
        let mut parts = [token.as_str(), ts.as_str(), nonce.as_str(), enc.as_str()];
        parts.sort();
        let digest = sha1::Sha1::digest(parts.concat().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        prop_assert_eq!(signature(&token, &ts, &nonce, &enc), hex.clone());
        prop_assert!(verify_signature(&hex, &token, &ts, &nonce, &enc).is_ok());
    }
}
