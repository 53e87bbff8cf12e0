//! The flat XML of WeChat and WeCom messages: `<xml><Field>value</Field>…</xml>`, parsed into
//! a map of the root's child elements, and the passive-reply XML built the same way.
//!
//! Parsing is strict: a DOCTYPE (and with it any entity declaration) is refused, only the
//! predefined entities and character references are expanded, and the document must be
//! well-formed. Nested elements (news articles, `ScanCodeInfo`, …) are skipped.

use quick_xml::Reader;
use quick_xml::events::Event;
use std::collections::HashMap;

/// Why a message body was refused; the text goes to the log, the code to metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError(pub &'static str);

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Longest flat message accepted (after decryption).
const MAX_FIELDS: usize = 64;

/// Child elements of the root, by name. Text and CDATA are concatenated.
pub fn parse_flat(text: &str) -> Result<HashMap<String, String>, XmlError> {
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.allow_unmatched_ends = false;
    cfg.trim_text(false);
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut current: Option<String> = None;
    let mut value = String::new();
    let mut out = HashMap::new();
    loop {
        match reader.read_event().map_err(|_| XmlError("malformed XML"))? {
            Event::DocType(_) => return Err(XmlError("DOCTYPE is not allowed")),
            Event::Start(e) => {
                if depth == 0 {
                    if seen_root {
                        return Err(XmlError("more than one root element"));
                    }
                    seen_root = true;
                } else if depth == 1 {
                    current = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    value.clear();
                }
                depth += 1;
                if depth > 16 {
                    return Err(XmlError("nesting too deep"));
                }
            }
            Event::Empty(e) => {
                if depth == 0 {
                    return Err(XmlError("empty root element"));
                }
                if depth == 1 {
                    out.insert(
                        String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                        String::new(),
                    );
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1
                    && let Some(name) = current.take()
                {
                    if out.len() >= MAX_FIELDS {
                        return Err(XmlError("too many fields"));
                    }
                    out.insert(name, std::mem::take(&mut value));
                }
            }
            Event::Text(t) => {
                if depth == 2 && current.is_some() {
                    let s = t.decode().map_err(|_| XmlError("bad text encoding"))?;
                    let s = quick_xml::escape::unescape(&s)
                        .map_err(|_| XmlError("undefined entity"))?;
                    value.push_str(&s);
                } else if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(XmlError("text outside the root element"));
                }
            }
            Event::GeneralRef(r) => {
                // `&amp;`, `&#20013;`: predefined entities and character references only.
                if depth == 2 && current.is_some() {
                    let name = r.decode().map_err(|_| XmlError("bad entity"))?;
                    let resolved = if let Some(c) = r
                        .resolve_char_ref()
                        .map_err(|_| XmlError("bad character reference"))?
                    {
                        c.to_string()
                    } else {
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or(XmlError("undefined entity"))?
                            .to_string()
                    };
                    value.push_str(&resolved);
                } else if depth < 2 {
                    return Err(XmlError("entity outside a field"));
                }
            }
            Event::CData(c) if depth == 2 && current.is_some() => {
                value
                    .push_str(std::str::from_utf8(&c).map_err(|_| XmlError("CDATA is not UTF-8"))?);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root || depth != 0 {
        return Err(XmlError("incomplete document"));
    }
    Ok(out)
}

/// `value` inside CDATA, with `]]>` split so it cannot end the section early.
pub fn cdata(value: &str) -> String {
    format!("<![CDATA[{}]]>", value.replace("]]>", "]]]]><![CDATA[>"))
}

/// A passive text reply (`ToUserName` = the user, `FromUserName` = the account/corp).
pub fn text_reply(to: &str, from: &str, create_time: i64, content: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(to),
        cdata(from),
        cdata(content)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_cdata_entities_and_skips_nested() {
        let m = parse_flat(
            "<xml><ToUserName><![CDATA[ww1]]></ToUserName><MsgId>123</MsgId>\
             <Content><![CDATA[a]]>&amp;&#20013;</Content><Nested><A>1</A></Nested></xml>",
        )
        .unwrap();
        assert_eq!(m["ToUserName"], "ww1");
        assert_eq!(m["MsgId"], "123");
        assert_eq!(m["Content"], "a&中");
        assert!(m.contains_key("Nested"));
    }

    #[test]
    fn refuses_dtd_entities_and_garbage() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>"#;
        assert_eq!(parse_flat(xxe).unwrap_err().0, "DOCTYPE is not allowed");
        assert!(parse_flat("<xml><Content>&e;</Content></xml>").is_err());
        assert!(parse_flat("<xml><a></b></xml>").is_err());
        assert!(parse_flat("<xml>").is_err());
        assert!(parse_flat("").is_err());
        assert!(parse_flat("not xml").is_err());
        assert!(parse_flat("<xml/><xml/>").is_err());
    }

    #[test]
    fn cdata_cannot_be_broken_out_of() {
        let xml = text_reply("u", "c", 1, "x]]><evil/>");
        let m = parse_flat(&xml).unwrap();
        assert_eq!(m["Content"], "x]]><evil/>");
        assert_eq!(m["ToUserName"], "u");
    }
}
