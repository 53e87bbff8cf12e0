//! The intelligent robot's message body, parsed once for both of its modes: the HTTP callback
//! (`aibot_callback.rs`) and the long connection (`aibot_ws.rs`) receive the same JSON (spec
//! §4), so they must turn it into the same `Incoming` and refuse the same things.

use super::aibot_ws::CHANNEL;
use crate::message::Incoming;
use serde_json::Value;

/// A user message the pipeline can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AibotMessage {
    pub user: String,
    /// The group chat id; `None` in a one-to-one conversation.
    pub chat: Option<String>,
    /// The text, with a group message's leading @-mentions removed.
    pub text: String,
    pub msg_id: Option<String>,
}

/// What a `msgtype` body holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AibotBody {
    Message(AibotMessage),
    /// A message type wedock cannot read (image, file, …): answered with a notice, never
    /// passed on as empty text.
    Unsupported {
        user: String,
        msgtype: String,
    },
}

/// Parses a message callback's body; `Err` names why it is refused (no sender).
pub fn parse(body: &Value) -> Result<AibotBody, &'static str> {
    let user = body["from"]["userid"].as_str().unwrap_or("").to_string();
    if user.is_empty() {
        return Err("message without from.userid");
    }
    let msgtype = body["msgtype"].as_str().unwrap_or("");
    let text = match msgtype {
        "text" => body["text"]["content"].as_str().unwrap_or("").to_string(),
        "voice" => body["voice"]["content"].as_str().unwrap_or("").to_string(),
        "mixed" => body["mixed"]["msg_item"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["text"]["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => {
            return Ok(AibotBody::Unsupported {
                user,
                msgtype: if other.is_empty() { "?" } else { other }.to_string(),
            });
        }
    };
    let group = body["chattype"].as_str() == Some("group");
    let chat = group
        .then(|| body["chatid"].as_str().map(str::to_string))
        .flatten();
    let msg_id = body["msgid"]
        .as_str()
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    Ok(AibotBody::Message(AibotMessage {
        user,
        chat,
        text: if group { strip_mentions(&text) } else { text },
        msg_id,
    }))
}

impl AibotMessage {
    pub fn incoming(&self) -> Incoming {
        Incoming {
            channel: CHANNEL.into(),
            user: self.user.clone(),
            chat: self.chat.clone(),
            text: self.text.clone(),
            msg_id: self.msg_id.clone(),
            granted_role: None,
            role_cap: None,
        }
    }
}

/// Removes leading @-mentions (`@bot`, full-width `＠bot`) from a group message.
pub fn strip_mentions(text: &str) -> String {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix('@').or_else(|| rest.strip_prefix('＠')) {
        rest = match after.find(char::is_whitespace) {
            Some(i) => after[i..].trim_start(),
            None => "",
        };
    }
    rest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_leading_mentions_only() {
        assert_eq!(strip_mentions("@RobotA hello robot"), "hello robot");
        assert_eq!(strip_mentions("＠机器人 /ping"), "/ping");
        assert_eq!(strip_mentions("@张三 @wedock /ps"), "/ps");
        assert_eq!(strip_mentions("mail me@x.com"), "mail me@x.com");
        assert_eq!(strip_mentions("@bot"), "");
    }

    #[test]
    fn text_voice_and_mixed_become_one_message_shape() {
        let group = json!({"msgid": "m1", "chattype": "group", "chatid": "c1",
            "from": {"userid": "u1"}, "msgtype": "mixed",
            "mixed": {"msg_item": [{"msgtype": "text", "text": {"content": "@wedock /ps"}},
                                   {"msgtype": "image", "image": {"url": "x"}},
                                   {"msgtype": "text", "text": {"content": "-a"}}]}});
        let Ok(AibotBody::Message(m)) = parse(&group) else {
            panic!("mixed is a message")
        };
        assert_eq!(m.text, "/ps\n-a");
        assert_eq!(m.chat.as_deref(), Some("c1"));
        let single = json!({"msgid": "", "chattype": "single", "chatid": "c1",
            "from": {"userid": "u1"}, "msgtype": "voice", "voice": {"content": "@x hi"}});
        let Ok(AibotBody::Message(m)) = parse(&single) else {
            panic!("voice is a message")
        };
        assert_eq!((m.text.as_str(), m.chat, m.msg_id), ("@x hi", None, None));
    }

    #[test]
    fn unknown_types_are_unsupported_and_a_missing_sender_is_refused() {
        let img = json!({"from": {"userid": "u1"}, "msgtype": "image", "image": {}});
        assert_eq!(
            parse(&img),
            Ok(AibotBody::Unsupported {
                user: "u1".into(),
                msgtype: "image".into()
            })
        );
        let none = json!({"from": {"userid": "u1"}});
        assert!(
            matches!(parse(&none), Ok(AibotBody::Unsupported { msgtype, .. }) if msgtype == "?")
        );
        assert!(parse(&json!({"msgtype": "text", "text": {"content": "hi"}})).is_err());
    }
}
