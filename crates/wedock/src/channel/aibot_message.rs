//! The intelligent robot's callbacks, classified once for both of its modes: the HTTP callback
//! (`aibot_callback.rs`) receives the body itself (decrypted), the long connection
//! (`aibot_ws.rs`) receives it inside a `{cmd, headers: {req_id}, body}` frame. The bodies are
//! the same JSON (spec §8, §9), so both modes turn them into the same `AibotBody` here and
//! only decide how to answer: one `Incoming` for the pipeline, one "unsupported" notice.

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

/// What a callback body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AibotBody {
    Message(AibotMessage),
    /// A message type wedock cannot read (image, file, …): answered with a notice in the
    /// user's language, never passed on as empty text.
    Unsupported {
        user: String,
        msgtype: String,
    },
    /// WeCom polling one of our reply streams (callback mode; the long connection has none).
    StreamRefresh {
        id: String,
        user: String,
    },
    /// The user opened the one-to-one chat: answered with a welcome.
    EnterChat {
        user: String,
    },
    /// A click on a card the bot sent; `aibot_cards` reads the body.
    CardClick,
    /// Another instance subscribed with this bot (long connection): stop, do not reconnect.
    Disconnected,
    /// An event wedock does not act on (feedback, permission changes, …).
    OtherEvent,
}

/// Classifies a callback body; `Err` names why it is refused (a message without a sender).
pub fn parse(body: &Value) -> Result<AibotBody, &'static str> {
    let user = || body["from"]["userid"].as_str().unwrap_or("").to_string();
    let msgtype = body["msgtype"].as_str().unwrap_or("");
    match msgtype {
        "stream" => {
            return Ok(AibotBody::StreamRefresh {
                id: body["stream"]["id"].as_str().unwrap_or("").to_string(),
                user: user(),
            });
        }
        "event" => {
            return Ok(match body["event"]["eventtype"].as_str().unwrap_or("") {
                "enter_chat" => AibotBody::EnterChat { user: user() },
                "template_card_event" => AibotBody::CardClick,
                "disconnected_event" => AibotBody::Disconnected,
                _ => AibotBody::OtherEvent,
            });
        }
        _ => {}
    }
    let user = user();
    if user.is_empty() {
        return Err("message without from.userid");
    }
    let text = match msgtype {
        "text" => body["text"]["content"].as_str().unwrap_or("").to_string(),
        // Voice arrives as its speech-to-text transcript (spec §8.2), so it reads as text.
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

/// Classifies a long-connection push frame (`aibot_msg_callback`, `aibot_event_callback`):
/// the callback's req_id, which every answer must reuse, and its body. `Err` names why the
/// frame is refused: no req_id to answer on, or a message without a sender. The kick needs
/// no answer, so it counts even without a req_id.
pub fn parse_frame(frame: &Value) -> Result<(String, AibotBody), &'static str> {
    let body = parse(&frame["body"])?;
    let req_id = frame["headers"]["req_id"].as_str().unwrap_or("");
    if req_id.is_empty() && body != AibotBody::Disconnected {
        return Err("callback frame without req_id");
    }
    Ok((req_id.to_string(), body))
}

/// The language wedock last saw from `user` (identity `aibot:<userid>`, the same in both modes).
pub(crate) async fn user_lang(app: &crate::app::App, user: &str) -> crate::i18n::Lang {
    super::user_lang(app, &format!("{CHANNEL}:{user}")).await
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

    /// The same body as each mode receives it: the callback's decrypted JSON is the body
    /// itself, the long connection wraps it in a push frame.
    fn both_modes(body: serde_json::Value) -> [Result<AibotBody, &'static str>; 2] {
        let cmd = if body["msgtype"] == "event" {
            "aibot_event_callback"
        } else {
            "aibot_msg_callback"
        };
        let frame = json!({"cmd": cmd, "headers": {"req_id": "cb1"}, "body": body.clone()});
        let ws = parse_frame(&frame).map(|(req_id, b)| {
            assert_eq!(req_id, "cb1");
            b
        });
        [parse(&body), ws]
    }

    /// Asserts both modes classify `body` as `want`.
    fn same(body: serde_json::Value, want: AibotBody) {
        for got in both_modes(body) {
            assert_eq!(got, Ok(want.clone()));
        }
    }

    fn message(user: &str, chat: Option<&str>, text: &str, msg_id: Option<&str>) -> AibotBody {
        AibotBody::Message(AibotMessage {
            user: user.into(),
            chat: chat.map(str::to_string),
            text: text.into(),
            msg_id: msg_id.map(str::to_string),
        })
    }

    fn unsupported(msgtype: &str) -> AibotBody {
        AibotBody::Unsupported {
            user: "u1".into(),
            msgtype: msgtype.into(),
        }
    }

    #[test]
    fn both_modes_read_text_mixed_and_voice_as_one_message_shape() {
        same(
            json!({"msgid": "m0", "chattype": "single", "from": {"userid": "u1"},
                   "msgtype": "text", "text": {"content": "/ps -a"}}),
            message("u1", None, "/ps -a", Some("m0")),
        );
        same(
            json!({"msgid": "m1", "chattype": "group", "chatid": "c1",
                "from": {"userid": "u1"}, "msgtype": "mixed",
                "mixed": {"msg_item": [{"msgtype": "text", "text": {"content": "@wedock /ps"}},
                                       {"msgtype": "image", "image": {"url": "x"}},
                                       {"msgtype": "text", "text": {"content": "-a"}}]}}),
            message("u1", Some("c1"), "/ps\n-a", Some("m1")),
        );
        // A one-to-one message keeps a leading @; an empty msgid is no dedup key.
        same(
            json!({"msgid": "", "chattype": "single", "chatid": "c1",
                "from": {"userid": "u1"}, "msgtype": "voice", "voice": {"content": "@x hi"}}),
            message("u1", None, "@x hi", None),
        );
    }

    #[test]
    fn both_modes_answer_media_and_unknown_types_as_unsupported() {
        for t in ["image", "file", "video", "appmsg"] {
            same(
                json!({"msgid": "m2", "chattype": "single", "from": {"userid": "u1"},
                       "msgtype": t, t: {"url": "https://x", "aeskey": "k"}}),
                unsupported(t),
            );
        }
        same(json!({"from": {"userid": "u1"}}), unsupported("?"));
        for got in both_modes(json!({"msgtype": "text", "text": {"content": "hi"}})) {
            assert!(got.is_err(), "a message without a sender is refused");
        }
    }

    #[test]
    fn both_modes_read_events_and_stream_refreshes() {
        same(
            json!({"msgid": "e1", "from": {"userid": "u1"}, "msgtype": "event",
                   "event": {"eventtype": "enter_chat"}}),
            AibotBody::EnterChat { user: "u1".into() },
        );
        same(
            json!({"msgid": "e2", "from": {"userid": "u1"}, "msgtype": "event",
                   "event": {"eventtype": "template_card_event",
                             "template_card_event": {"event_key": "ack", "task_id": "t"}}}),
            AibotBody::CardClick,
        );
        same(
            json!({"msgid": "e3", "from": {"userid": "u1"}, "msgtype": "event",
                   "event": {"eventtype": "feedback_event", "feedback_event": {"id": "f", "type": 1}}}),
            AibotBody::OtherEvent,
        );
        same(
            json!({"msgid": "e4", "msgtype": "event", "event": {"eventtype": "disconnected_event"}}),
            AibotBody::Disconnected,
        );
        // Only the callback mode polls streams; the parser reads it the same either way.
        same(
            json!({"msgid": "s1", "from": {"userid": "u1"}, "msgtype": "stream",
                   "stream": {"id": "stream-m1"}}),
            AibotBody::StreamRefresh {
                id: "stream-m1".into(),
                user: "u1".into(),
            },
        );
    }

    #[test]
    fn a_frame_needs_a_req_id_except_for_the_kick() {
        let text = json!({"from": {"userid": "u1"}, "msgtype": "text", "text": {"content": "hi"}});
        let frame = json!({"cmd": "aibot_msg_callback", "headers": {}, "body": text});
        assert!(parse_frame(&frame).is_err());
        let kick = json!({"cmd": "aibot_event_callback", "headers": {},
            "body": {"msgtype": "event", "event": {"eventtype": "disconnected_event"}}});
        assert_eq!(
            parse_frame(&kick),
            Ok((String::new(), AibotBody::Disconnected))
        );
    }
}
