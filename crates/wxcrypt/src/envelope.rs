//! Inbound envelope parsing (`<Encrypt>` / `"encrypt"`) and outbound reply envelopes.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use crate::error::{Error, Result};

/// The fields of an inbound encrypted envelope that the crypto layer cares about.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InboundEnvelope {
    /// The base64 ciphertext, exactly as it appears in the body (it is what the signature
    /// covers, so it is not trimmed).
    pub encrypt: String,
    /// `ToUserName` (gh_ id / CorpID) if present.
    pub to_user_name: Option<String>,
    /// `AgentID` (WeCom apps) if present; JSON numbers are rendered as decimal strings.
    pub agent_id: Option<String>,
}

/// Which body format an envelope uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeFormat {
    /// `<xml>…<Encrypt>…</Encrypt>…</xml>` (OA, Mini Program XML, WeCom apps).
    Xml,
    /// `{"encrypt": "…"}` (WeCom JSON callbacks, intelligent robot).
    Json,
}

impl EnvelopeFormat {
    /// Guess from the first non-whitespace byte: `{` means JSON, anything else XML.
    pub fn detect(body: &[u8]) -> Self {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => EnvelopeFormat::Json,
            _ => EnvelopeFormat::Xml,
        }
    }
}

/// Parse an inbound body, detecting XML vs JSON with [`EnvelopeFormat::detect`].
pub fn parse_envelope(body: &[u8]) -> Result<InboundEnvelope> {
    match EnvelopeFormat::detect(body) {
        EnvelopeFormat::Xml => parse_xml_envelope(body),
        EnvelopeFormat::Json => parse_json_envelope(body),
    }
}

/// Which direct child of the root we are collecting text for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Encrypt,
    ToUserName,
    AgentId,
    Other,
}

/// Parse an XML envelope and return its `Encrypt` (plus `ToUserName` / `AgentID`).
///
/// Accepts `<Encrypt>` as plain text or CDATA. Only direct children of the root element are
/// considered (the first `Encrypt` wins, like the official samples' `find("Encrypt")`).
/// DOCTYPE declarations and any entity other than the five predefined ones and character
/// references are rejected (no XXE, no entity expansion). The whole document must be
/// well-formed. Never panics.
///
/// Errors: [`Error::ParseEnvelope`] (−40002).
pub fn parse_xml_envelope(body: &[u8]) -> Result<InboundEnvelope> {
    let text = std::str::from_utf8(body).map_err(|_| Error::ParseEnvelope("body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.allow_unmatched_ends = false;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);

    let mut depth: usize = 0;
    let mut seen_root = false;
    let mut field = Field::Other;
    let mut buf = String::new();
    let mut out = InboundEnvelope::default();
    let mut have_encrypt = false;

    loop {
        let event = reader
            .read_event()
            .map_err(|_| Error::ParseEnvelope("malformed XML"))?;
        match event {
            Event::DocType(_) => return Err(Error::ParseEnvelope("DOCTYPE is not allowed")),
            Event::Start(e) => {
                if depth == 0 {
                    if seen_root {
                        return Err(Error::ParseEnvelope("more than one root element"));
                    }
                    seen_root = true;
                } else if depth == 1 {
                    field = match e.name().as_ref() {
                        b"Encrypt" => Field::Encrypt,
                        b"ToUserName" => Field::ToUserName,
                        b"AgentID" => Field::AgentId,
                        _ => Field::Other,
                    };
                    buf.clear();
                } else if depth == 2 && field == Field::Encrypt {
                    return Err(Error::ParseEnvelope("Encrypt must contain text only"));
                }
                depth = depth
                    .checked_add(1)
                    .ok_or(Error::ParseEnvelope("nesting too deep"))?;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    if seen_root {
                        return Err(Error::ParseEnvelope("more than one root element"));
                    }
                    seen_root = true;
                } else if depth == 1 {
                    // <Encrypt/> etc.: an empty value.
                    let f = match e.name().as_ref() {
                        b"Encrypt" => Field::Encrypt,
                        b"ToUserName" => Field::ToUserName,
                        b"AgentID" => Field::AgentId,
                        _ => Field::Other,
                    };
                    store(&mut out, &mut have_encrypt, f, String::new());
                } else if depth == 2 && field == Field::Encrypt {
                    return Err(Error::ParseEnvelope("Encrypt must contain text only"));
                }
            }
            Event::End(_) => {
                depth = depth
                    .checked_sub(1)
                    .ok_or(Error::ParseEnvelope("unmatched end tag"))?;
                if depth == 1 {
                    store(&mut out, &mut have_encrypt, field, std::mem::take(&mut buf));
                    field = Field::Other;
                }
            }
            Event::Text(t) => {
                if depth == 0 {
                    let s = t
                        .decode()
                        .map_err(|_| Error::ParseEnvelope("bad text encoding"))?;
                    if !s.trim_ascii().is_empty() {
                        return Err(Error::ParseEnvelope("text outside the root element"));
                    }
                } else if depth == 2 && field != Field::Other {
                    let s = t
                        .xml10_content()
                        .map_err(|_| Error::ParseEnvelope("bad text encoding"))?;
                    buf.push_str(&s);
                }
            }
            Event::CData(c) => {
                if depth == 0 {
                    return Err(Error::ParseEnvelope("CDATA outside the root element"));
                }
                if depth == 2 && field != Field::Other {
                    let s = c
                        .decode()
                        .map_err(|_| Error::ParseEnvelope("bad CDATA encoding"))?;
                    buf.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(Error::ParseEnvelope("reference outside the root element"));
                }
                let resolved: String = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => ch.to_string(),
                        _ => return Err(Error::ParseEnvelope("bad character reference")),
                    }
                } else {
                    let name = r
                        .decode()
                        .map_err(|_| Error::ParseEnvelope("bad entity reference"))?;
                    match resolve_predefined_entity(&name) {
                        Some(s) => s.to_owned(),
                        None => {
                            return Err(Error::ParseEnvelope("custom entities are not allowed"));
                        }
                    }
                };
                if depth == 2 && field != Field::Other {
                    buf.push_str(&resolved);
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 || !seen_root {
        return Err(Error::ParseEnvelope("truncated XML"));
    }
    if !have_encrypt {
        return Err(Error::ParseEnvelope("no Encrypt element"));
    }
    Ok(out)
}

fn store(out: &mut InboundEnvelope, have_encrypt: &mut bool, field: Field, value: String) {
    match field {
        Field::Encrypt if !*have_encrypt => {
            out.encrypt = value;
            *have_encrypt = true;
        }
        Field::ToUserName if out.to_user_name.is_none() => out.to_user_name = Some(value),
        Field::AgentId if out.agent_id.is_none() => out.agent_id = Some(value),
        _ => {}
    }
}

/// Parse a JSON envelope (`{"encrypt": "…", …}`).
///
/// Keys are matched case-insensitively (Tencent's own samples disagree: `Encrypt` /
/// `encrypt`, `ToUserName` / `tousername`, `AgentID` / `agentid`); an exact lower-case match
/// wins over other spellings. Never panics (serde_json limits nesting depth).
///
/// Errors: [`Error::ParseEnvelope`] (−40002, `ParseJson_Error` in the JSON library).
pub fn parse_json_envelope(body: &[u8]) -> Result<InboundEnvelope> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).map_err(|_| Error::ParseEnvelope("malformed JSON object"))?;
    let lookup = |name: &str| {
        map.get(name).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    let encrypt = match lookup("encrypt") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(_) => return Err(Error::ParseEnvelope("encrypt is not a string")),
        None => return Err(Error::ParseEnvelope("no encrypt field")),
    };
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Ok(InboundEnvelope {
        encrypt,
        to_user_name: lookup("tousername").and_then(as_text),
        agent_id: lookup("agentid").and_then(as_text),
    })
}

/// An encrypted reply: ciphertext, its signature and the values it was signed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedReply {
    /// Base64 ciphertext.
    pub encrypt: String,
    /// 4-part signature over `[token, timestamp, nonce, encrypt]`.
    pub msg_signature: String,
    /// Unix seconds as a decimal string.
    pub timestamp: String,
    /// The nonce (usually echoed from the request).
    pub nonce: String,
}

impl EncryptedReply {
    /// The XML reply envelope, see [`build_xml_envelope`].
    pub fn to_xml(&self) -> Result<String> {
        build_xml_envelope(
            &self.encrypt,
            &self.msg_signature,
            &self.timestamp,
            &self.nonce,
        )
    }

    /// The WeCom JSON reply envelope, see [`build_json_envelope`].
    pub fn to_json(&self) -> Result<String> {
        build_json_envelope(
            &self.encrypt,
            &self.msg_signature,
            &self.timestamp,
            &self.nonce,
        )
    }
}

/// Characters XML 1.0 allows in content.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_cdata(s: &str, what: &'static str) -> Result<()> {
    // ASCII (every Encrypt field, signature and nonce) is checked a byte at a time, which
    // the compiler vectorises; decoding 3 KB of base64 as chars was 4 % of a reply's cost.
    let allowed = if s.is_ascii() {
        s.bytes()
            .all(|b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r'))
    } else {
        s.chars().all(is_xml_char)
    };
    if !allowed || s.contains("]]>") {
        return Err(Error::GenReturnEnvelope(what));
    }
    Ok(())
}

fn check_timestamp(timestamp: &str) -> Result<()> {
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::GenReturnEnvelope("timestamp must be decimal digits"));
    }
    Ok(())
}

/// Build the XML reply envelope, byte-identical to the official samples / wechatpy:
///
/// ```text
/// <xml>
/// <Encrypt><![CDATA[…]]></Encrypt>
/// <MsgSignature><![CDATA[…]]></MsgSignature>
/// <TimeStamp>…</TimeStamp>
/// <Nonce><![CDATA[…]]></Nonce>
/// </xml>
/// ```
///
/// Errors: [`Error::GenReturnEnvelope`] (−40011) if the timestamp is not decimal digits or a
/// CDATA field contains `]]>` or a character XML cannot carry.
pub fn build_xml_envelope(
    encrypt: &str,
    msg_signature: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<String> {
    check_cdata(encrypt, "Encrypt cannot be put in CDATA")?;
    check_cdata(msg_signature, "MsgSignature cannot be put in CDATA")?;
    check_cdata(nonce, "Nonce cannot be put in CDATA")?;
    check_timestamp(timestamp)?;
    let mut out = String::with_capacity(
        encrypt.len() + msg_signature.len() + timestamp.len() + nonce.len() + 160,
    );
    out.push_str("<xml>\n<Encrypt><![CDATA[");
    out.push_str(encrypt);
    out.push_str("]]></Encrypt>\n<MsgSignature><![CDATA[");
    out.push_str(msg_signature);
    out.push_str("]]></MsgSignature>\n<TimeStamp>");
    out.push_str(timestamp);
    out.push_str("</TimeStamp>\n<Nonce><![CDATA[");
    out.push_str(nonce);
    out.push_str("]]></Nonce>\n</xml>");
    Ok(out)
}

/// Build the WeCom JSON reply envelope (JSON callbacks and the intelligent robot):
/// `{"encrypt":"…","msgsignature":"…","timestamp":"…","nonce":"…"}`.
///
/// The timestamp is emitted as a JSON string, as in Tencent's JSON library.
///
/// Errors: [`Error::GenReturnEnvelope`] (−40011) if the timestamp is not decimal digits.
pub fn build_json_envelope(
    encrypt: &str,
    msg_signature: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<String> {
    check_timestamp(timestamp)?;
    let q = |s: &str| {
        serde_json::to_string(s).map_err(|_| Error::GenReturnEnvelope("JSON encoding failed"))
    };
    Ok(format!(
        "{{\"encrypt\":{},\"msgsignature\":{},\"timestamp\":{},\"nonce\":{}}}",
        q(encrypt)?,
        q(msg_signature)?,
        q(timestamp)?,
        q(nonce)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_refuses_what_xml_cannot_carry_ascii_or_not() {
        for bad in ["a]]>b", "a\u{1}b", "\u{0}", "é\u{1}", "é]]>", "\u{FFFE}"] {
            assert!(check_cdata(bad, "x").is_err(), "{bad:?}");
        }
        for good in [
            "",
            "QUJD+/=",
            "tab\there\r\n",
            "\u{7f}",
            "中文 é ]]",
            "\u{10000}",
        ] {
            assert!(check_cdata(good, "x").is_ok(), "{good:?}");
        }
    }

    #[test]
    fn xml_plain_text_and_cdata() {
        let e = parse_xml_envelope(
            b"<xml><ToUserName>ww1</ToUserName><Encrypt>abc+/=</Encrypt><AgentID>1000002</AgentID></xml>",
        )
        .unwrap();
        assert_eq!(e.encrypt, "abc+/=");
        assert_eq!(e.to_user_name.as_deref(), Some("ww1"));
        assert_eq!(e.agent_id.as_deref(), Some("1000002"));

        let e = parse_xml_envelope(
            b"<?xml version=\"1.0\"?>\n<xml>\n  <ToUserName><![CDATA[gh_x]]></ToUserName>\n  <Encrypt><![CDATA[QUJD]]></Encrypt>\n  <AgentID><![CDATA[5]]></AgentID>\n</xml>\n",
        )
        .unwrap();
        assert_eq!(e.encrypt, "QUJD");
        assert_eq!(e.to_user_name.as_deref(), Some("gh_x"));
        assert_eq!(e.agent_id.as_deref(), Some("5"));
    }

    #[test]
    fn xml_compatible_mode_body_has_plain_fields_too() {
        let body = b"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[o]]></FromUserName>\n<Content><![CDATA[<Encrypt>fake</Encrypt>]]></Content>\n<Encrypt><![CDATA[real]]></Encrypt></xml>";
        assert_eq!(parse_xml_envelope(body).unwrap().encrypt, "real");
    }

    #[test]
    fn xml_nested_encrypt_is_ignored_first_wins() {
        let body = b"<xml><Other><Encrypt>nested</Encrypt></Other><Encrypt>one</Encrypt><Encrypt>two</Encrypt></xml>";
        assert_eq!(parse_xml_envelope(body).unwrap().encrypt, "one");
    }

    #[test]
    fn xml_predefined_and_char_refs_are_resolved() {
        let body = b"<xml><Encrypt>a&amp;b&#x2B;&#47;</Encrypt></xml>";
        assert_eq!(parse_xml_envelope(body).unwrap().encrypt, "a&b+/");
    }

    #[test]
    fn xml_rejects_doctype_and_entities() {
        let xxe = b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&x;</Encrypt></xml>";
        assert_eq!(parse_xml_envelope(xxe).unwrap_err().code(), -40002);
        let bomb = b"<!DOCTYPE xml [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]><xml><Encrypt>&b;</Encrypt></xml>";
        assert_eq!(parse_xml_envelope(bomb).unwrap_err().code(), -40002);
        let undeclared = b"<xml><Encrypt>&x;</Encrypt></xml>";
        assert_eq!(parse_xml_envelope(undeclared).unwrap_err().code(), -40002);
    }

    #[test]
    fn xml_rejects_malformed() {
        for body in [
            &b""[..],
            b"   ",
            b"<xml>",
            b"<xml><Encrypt>abc</Encrypt>",
            b"<xml><Encrypt>abc</Encrypt></xmx>",
            b"<xml><ToUserName>x</ToUserName></xml>",
            b"<xml><Encrypt>a<b/>c</Encrypt></xml>",
            b"<xml><Encrypt>abc</Encrypt></xml><xml/>",
            b"junk<xml><Encrypt>abc</Encrypt></xml>",
            b"\xff\xfe<xml/>",
            b"</xml>",
        ] {
            let err = parse_xml_envelope(body).unwrap_err();
            assert_eq!(err.code(), -40002, "{:?}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn xml_empty_encrypt_is_returned_as_empty() {
        assert_eq!(
            parse_xml_envelope(b"<xml><Encrypt/></xml>")
                .unwrap()
                .encrypt,
            ""
        );
        assert_eq!(
            parse_xml_envelope(b"<xml><Encrypt></Encrypt></xml>")
                .unwrap()
                .encrypt,
            ""
        );
    }

    #[test]
    fn json_keys_case_insensitive() {
        let e = parse_json_envelope(br#"{"encrypt":"abc"}"#).unwrap();
        assert_eq!(e.encrypt, "abc");
        let e = parse_json_envelope(br#"{"ToUserName":"ww","Encrypt":"x","AgentID":218}"#).unwrap();
        assert_eq!(e.encrypt, "x");
        assert_eq!(e.to_user_name.as_deref(), Some("ww"));
        assert_eq!(e.agent_id.as_deref(), Some("218"));
        let e = parse_json_envelope(br#"{"Encrypt":"upper","encrypt":"lower"}"#).unwrap();
        assert_eq!(e.encrypt, "lower");
    }

    #[test]
    fn json_rejects_bad_bodies() {
        for body in [
            &b""[..],
            b"[]",
            b"\"encrypt\"",
            b"{}",
            br#"{"encrypt":1}"#,
            br#"{"encrypt":null}"#,
            br#"{"encrypt":"a""#,
        ] {
            assert_eq!(parse_json_envelope(body).unwrap_err().code(), -40002);
        }
    }

    #[test]
    fn detect_format() {
        assert_eq!(
            EnvelopeFormat::detect(b"  \n{\"a\":1}"),
            EnvelopeFormat::Json
        );
        assert_eq!(EnvelopeFormat::detect(b"<xml/>"), EnvelopeFormat::Xml);
        assert_eq!(EnvelopeFormat::detect(b""), EnvelopeFormat::Xml);
        assert_eq!(parse_envelope(br#"{"encrypt":"z"}"#).unwrap().encrypt, "z");
        assert_eq!(
            parse_envelope(b"<xml><Encrypt>z</Encrypt></xml>")
                .unwrap()
                .encrypt,
            "z"
        );
    }

    #[test]
    fn build_xml_rejects_unsafe_fields() {
        assert!(build_xml_envelope("a", "b", "1", "n").is_ok());
        for (e, s, t, n) in [
            ("a]]>", "b", "1", "n"),
            ("a", "b", "1", "x]]><Evil/>"),
            ("a", "b", "1<", "n"),
            ("a", "b", "", "n"),
            ("a", "b", "1", "\u{0}"),
        ] {
            assert_eq!(build_xml_envelope(e, s, t, n).unwrap_err().code(), -40011);
        }
    }

    #[test]
    fn build_json_escapes() {
        let j = build_json_envelope("e", "s", "123", "n\"\\").unwrap();
        assert_eq!(
            j,
            r#"{"encrypt":"e","msgsignature":"s","timestamp":"123","nonce":"n\"\\"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["nonce"], "n\"\\");
        assert_eq!(
            build_json_envelope("e", "s", "x", "n").unwrap_err().code(),
            -40011
        );
    }

    #[test]
    fn built_xml_parses_back() {
        let x = build_xml_envelope("QUJD", "sig", "1411525903", "461056294").unwrap();
        assert_eq!(parse_xml_envelope(x.as_bytes()).unwrap().encrypt, "QUJD");
    }
}
