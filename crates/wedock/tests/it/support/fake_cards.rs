//! The template-card part of the fake WeCom API, per the behaviour model of
//! wecom-template-card.md §8: `message/send` with `template_card` is validated in the
//! documented order (card_type 42031, buttons 42038/42039/40058, task_id 42014, lists
//! 42035/42027), stored per recipient view and answered with a `msgid` and a single-use
//! `response_code`; a click (test hook) issues a fresh code; `update_template_card` checks the
//! app (42015) and the code (60140 when unknown, used or older than its lifetime, which the
//! test clock can pass) and updates every recipient's view (`atall`) or the listed users.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub struct Card {
    pub msgid: String,
    pub agentid: i64,
    pub recipients: Vec<String>,
    /// What each recipient sees now.
    pub views: HashMap<String, Value>,
}

struct Code {
    msgid: String,
    created: Duration,
    used: bool,
}

pub struct Cards {
    pub cards: Vec<Card>,
    task_ids: HashSet<(i64, String)>,
    codes: HashMap<String, Code>,
    seq: u64,
    /// The fake's clock: real elapsed time plus what the test advanced.
    started: std::time::Instant,
    pub skew: Duration,
    /// How long a response code lives (72 h in current docs).
    pub code_lifetime: Duration,
    /// Every update call with its answer.
    pub updates: Vec<(Value, i64)>,
}

impl Default for Cards {
    fn default() -> Self {
        Cards {
            cards: Vec::new(),
            task_ids: HashSet::new(),
            codes: HashMap::new(),
            seq: 0,
            started: std::time::Instant::now(),
            skew: Duration::ZERO,
            code_lifetime: Duration::from_secs(72 * 3600),
            updates: Vec::new(),
        }
    }
}

fn err(code: i64, msg: &str) -> Value {
    json!({"errcode": code, "errmsg": format!("{msg}, hint: [fake], more info at https://open.work.weixin.qq.com/devtool/query?e={code}")})
}

fn task_id_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'@')
}

/// Checks a card as `message/send` does (§8 steps 4–7); `update` skips the task id.
pub fn validate(card: &Value, update: bool) -> Result<(), Value> {
    let ty = card["card_type"].as_str().unwrap_or("");
    if ![
        "text_notice",
        "news_notice",
        "button_interaction",
        "vote_interaction",
        "multiple_interaction",
    ]
    .contains(&ty)
    {
        return Err(err(42031, "invalid Template_Card.card_type"));
    }
    if ty == "button_interaction" {
        let buttons = card["button_list"].as_array().cloned().unwrap_or_default();
        if buttons.is_empty() {
            return Err(err(42038, "invalid Template_Card.button_list.text"));
        }
        if buttons.len() > 6 {
            return Err(err(
                40058,
                "invalid parameter: button_list exceed max length",
            ));
        }
        let mut keys = HashSet::new();
        for b in &buttons {
            if b["text"].as_str().unwrap_or("").is_empty() {
                return Err(err(42038, "invalid Template_Card.button_list.text"));
            }
            if b["type"].as_i64().unwrap_or(0) == 1 {
                if b["url"].as_str().unwrap_or("").is_empty() {
                    return Err(err(42028, "invalid Template_Card.url"));
                }
                continue;
            }
            let k = b["key"].as_str().unwrap_or("");
            if k.is_empty() || k.len() > 1024 || !keys.insert(k.to_string()) {
                return Err(err(42039, "invalid Template_Card.button_list.key"));
            }
        }
    }
    if !update && ty != "text_notice" && !task_id_ok(card["task_id"].as_str().unwrap_or("")) {
        return Err(err(42014, "taskid has existed or empty or exceed max len"));
    }
    if let Some(h) = card["horizontal_content_list"].as_array() {
        if h.len() > 6 {
            return Err(err(
                42035,
                "invalid Template_Card.horizontal_content_list length",
            ));
        }
        if h.iter()
            .any(|i| i["keyname"].as_str().unwrap_or("").is_empty())
        {
            return Err(err(42027, "invalid Template_Card.keyname"));
        }
    }
    Ok(())
}

impl Cards {
    fn now(&self) -> Duration {
        self.started.elapsed() + self.skew
    }

    fn new_code(&mut self, msgid: &str) -> String {
        self.seq += 1;
        let code = format!("RC{}{:08x}", self.seq, rand::random::<u32>());
        let created = self.now();
        self.codes.insert(
            code.clone(),
            Code {
                msgid: msgid.into(),
                created,
                used: false,
            },
        );
        code
    }

    /// `message/send` with `msgtype: template_card` (token and touser already checked).
    pub fn send(&mut self, body: &Value) -> Value {
        let Some(card) = body.get("template_card") else {
            return err(40058, "invalid parameter: template_card");
        };
        let Some(agentid) = body["agentid"].as_i64() else {
            return err(41011, "missing agentid");
        };
        if let Err(e) = validate(card, false) {
            return e;
        }
        let task = card["task_id"].as_str().unwrap_or("").to_string();
        if !self.task_ids.insert((agentid, task)) {
            return err(42014, "taskid has existed or empty or exceed max len");
        }
        let recipients: Vec<String> = body["touser"]
            .as_str()
            .unwrap_or("")
            .split('|')
            .filter(|u| !u.is_empty())
            .map(str::to_string)
            .collect();
        self.seq += 1;
        let msgid = format!("card{}", self.seq);
        let code = self.new_code(&msgid);
        self.cards.push(Card {
            msgid: msgid.clone(),
            agentid,
            views: recipients
                .iter()
                .map(|u| (u.clone(), card.clone()))
                .collect(),
            recipients,
        });
        json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "invalidparty": "", "invalidtag": "", "unlicenseduser": "", "msgid": msgid, "response_code": code})
    }

    /// A click by `user` on the button `key` of card `msgid`: the event's fresh response
    /// code, or why a real client could not click it.
    pub fn click(
        &mut self,
        msgid: &str,
        user: &str,
        key: &str,
    ) -> Result<(String, String), String> {
        let card = self
            .cards
            .iter()
            .find(|c| c.msgid == msgid)
            .ok_or("no such card")?;
        let view = card.views.get(user).ok_or("not a recipient")?;
        if view.get("replace_text").is_some() {
            return Err("the buttons are greyed out".into());
        }
        let clickable = view["button_list"].as_array().is_some_and(|l| {
            l.iter()
                .any(|b| b["key"] == key && b["type"].as_i64().unwrap_or(0) == 0)
        });
        if !clickable {
            return Err(format!("no button {key:?} on this card"));
        }
        let task = view["task_id"].as_str().unwrap_or("").to_string();
        let code = self.new_code(msgid);
        Ok((code, task))
    }

    /// `message/update_template_card`.
    pub fn update(&mut self, body: &Value) -> Value {
        let answer = self.update_inner(body);
        self.updates
            .push((body.clone(), answer["errcode"].as_i64().unwrap_or(-1)));
        answer
    }

    fn update_inner(&mut self, body: &Value) -> Value {
        let code = body["response_code"].as_str().unwrap_or("").to_string();
        let now = self.now();
        let lifetime = self.code_lifetime;
        let Some(c) = self.codes.get(&code) else {
            return err(60140, "invalid response_code");
        };
        if c.used || now.saturating_sub(c.created) > lifetime {
            return err(60140, "invalid response_code, possibly expired");
        }
        let msgid = c.msgid.clone();
        let Some(card) = self.cards.iter_mut().find(|k| k.msgid == msgid) else {
            return err(60140, "invalid response_code");
        };
        if body["agentid"].as_i64() != Some(card.agentid) {
            return err(42015, "the app updating is not the app that sent the card");
        }
        let new = match (body.get("template_card"), body.get("button")) {
            (Some(t), None) => {
                if let Err(e) = validate(t, true) {
                    return e;
                }
                t.clone()
            }
            (None, Some(b)) => {
                let mut v = card.views.values().next().cloned().unwrap_or_default();
                v["replace_text"] = b["replace_name"].clone();
                v
            }
            _ => return err(40058, "invalid parameter: one of button, template_card"),
        };
        let targets: Vec<String> = if body["atall"].as_i64() == Some(1) {
            card.recipients.clone()
        } else {
            body["userids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut invalid = Vec::new();
        for u in targets {
            match card.views.get_mut(&u) {
                Some(v) => *v = new.clone(),
                None => invalid.push(u.to_lowercase()),
            }
        }
        if let Some(c) = self.codes.get_mut(&code) {
            c.used = true;
        }
        json!({"errcode": 0, "errmsg": "ok", "invaliduser": invalid})
    }
}
