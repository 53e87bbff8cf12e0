//! What the server lets a bot send (`wechat-ilink.md` §8.4, §11): text chunks of at most 4000
//! characters and 16 000 bytes, about 10 bot messages per user message, and nothing 24 h after
//! the user's last message. Each conversation keeps its budget here; a reply longer than the
//! budget is packed into the messages that remain, and what still does not fit waits for the
//! user's next message instead of being dropped.

use crate::i18n::Lang;
use serde::{Deserialize, Serialize};

/// Characters per text item (Tencent's own chunk size).
pub const CHUNK_CHARS: usize = 4000;
/// Bytes per text item, under the 16 KiB server cap reported for long CJK text.
pub const CHUNK_BYTES: usize = 16_000;
/// Held text kept per conversation; beyond it the oldest is cut (and says so).
const HELD_MAX_BYTES: usize = 64 * 1024;

/// One (account, user) conversation, persisted in the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Conv {
    /// The latest context token the user's messages brought (the reply capability).
    #[serde(default)]
    pub context_token: String,
    /// When the user last wrote (ms).
    #[serde(default)]
    pub last_inbound_ms: i64,
    /// Sends the server accepted (or may have accepted) since then.
    #[serde(default)]
    pub sends: u32,
    /// Messages queued in the outbox and not yet attempted: budget already promised.
    #[serde(default)]
    pub queued: u32,
    /// Sends the server refused (`ret` -2) since the user last heard about it.
    #[serde(default)]
    pub refused: u32,
    /// Text that did not fit the budget, sent after the user's next message.
    #[serde(default)]
    pub held: Vec<String>,
}

impl Conv {
    /// A new user message: a fresh token, a fresh budget and a fresh 24 h window.
    pub fn inbound(&mut self, token: &str, now_ms: i64) {
        if !token.is_empty() {
            self.context_token = token.to_string();
        }
        self.last_inbound_ms = now_ms;
        self.sends = 0;
    }

    pub fn window_open(&self, now_ms: i64, window_ms: i64) -> bool {
        !self.context_token.is_empty() && now_ms - self.last_inbound_ms < window_ms
    }

    /// Messages that may still be promised.
    pub fn left(&self, per_inbound: u32) -> u32 {
        per_inbound.saturating_sub(self.sends + self.queued)
    }

    /// Keeps `text` for the next user message, bounded in size.
    pub fn hold(&mut self, text: String) {
        self.held.push(text);
        let mut total: usize = self.held.iter().map(String::len).sum();
        while total > HELD_MAX_BYTES && self.held.len() > 1 {
            total -= self.held.remove(0).len();
        }
    }
}

/// Splits text into sendable chunks: line boundaries where possible, never inside a
/// character, each within `max_chars` characters and [`CHUNK_BYTES`] bytes.
pub fn chunk(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(16);
    let mut parts = Vec::new();
    // The chunk being built and its length in characters (bytes are `current.len()`).
    let mut current = String::new();
    let mut chars = 0usize;
    for line in text.split('\n') {
        let line_chars = line.chars().count();
        let sep = usize::from(!current.is_empty());
        if chars + sep + line_chars <= max_chars && current.len() + sep + line.len() <= CHUNK_BYTES
        {
            if sep == 1 {
                current.push('\n');
            }
            current.push_str(line);
            chars += sep + line_chars;
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        chars = 0;
        // A line too long on its own is cut at character boundaries.
        for c in line.chars() {
            if chars + 1 > max_chars || current.len() + c.len_utf8() > CHUNK_BYTES {
                parts.push(std::mem::take(&mut current));
                chars = 0;
            }
            current.push(c);
            chars += 1;
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// Room kept in the last message for the "more after your next message" note.
const NOTE_RESERVE: usize = 120;

fn more_note(lang: Lang, parts: usize) -> String {
    t!(lang, "channel.more_parts", parts = parts)
}

/// The messages to send now within `left` units of budget, and the text to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub now: Vec<String>,
    pub held: Option<String>,
}

/// Packs `text` into at most `left` messages; the rest is held with a note in the last
/// message sent now. With no budget left everything is held.
pub fn pack(text: &str, left: u32, lang: Lang) -> Packed {
    let chunks = chunk(text, CHUNK_CHARS);
    if chunks.len() <= left as usize {
        return Packed {
            now: chunks,
            held: None,
        };
    }
    if left == 0 {
        return Packed {
            now: Vec::new(),
            held: Some(text.to_string()),
        };
    }
    // Leave room for the note in every chunk so the last one sent now can carry it.
    let chunks = chunk(text, CHUNK_CHARS - NOTE_RESERVE);
    let (now, rest) = chunks.split_at((left as usize).min(chunks.len()));
    let mut now = now.to_vec();
    let held = rest.join("\n");
    if let Some(last) = now.last_mut() {
        last.push('\n');
        last.push_str(&more_note(lang, chunk(&held, CHUNK_CHARS).len()));
    }
    Packed {
        now,
        held: Some(held),
    }
}

/// A line telling the user that earlier replies were refused.
pub fn refused_note(lang: Lang, n: u32) -> String {
    t!(lang, "channel.refused_resent", n = n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_chars_bytes_and_lines() {
        let line = "a".repeat(3000);
        let text = format!("{line}\n{line}\n{line}");
        let parts = chunk(&text, CHUNK_CHARS);
        assert_eq!(parts, vec![line.clone(), line.clone(), line.clone()]);
        // CJK: 4000 characters would be 12 000 bytes; fine. 6000 of them need two chunks.
        let han = "容".repeat(6000);
        let parts = chunk(&han, CHUNK_CHARS);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.chars().count() <= CHUNK_CHARS));
        assert_eq!(parts.concat(), han);
        // 4-byte characters hit the byte cap before the character cap.
        let emoji = "🐳".repeat(4500);
        let parts = chunk(&emoji, CHUNK_CHARS);
        assert!(parts.iter().all(|p| p.len() <= CHUNK_BYTES));
        assert_eq!(parts.concat(), emoji);
        assert_eq!(chunk("", CHUNK_CHARS), vec![String::new()]);
    }

    #[test]
    fn a_long_reply_is_packed_into_the_budget_and_the_rest_held() {
        let lines: Vec<String> = (0..40)
            .map(|i| format!("{i:02} {}", "x".repeat(990)))
            .collect();
        let text = lines.join("\n");
        // ~40 KB: 11 chunks of 4000 characters; only 3 units are left.
        let p = pack(&text, 3, Lang::En);
        assert_eq!(p.now.len(), 3);
        assert!(p.now.iter().all(|m| m.chars().count() <= CHUNK_CHARS));
        assert!(p.now[2].contains("send anything to continue"));
        let held = p.held.unwrap();
        // Nothing lost: every line is either sent now or held.
        for l in &lines {
            assert!(
                p.now.iter().any(|m| m.contains(l)) || held.contains(l),
                "{l:.8} lost"
            );
        }
        // Fits: no note, nothing held.
        let p = pack("short", 1, Lang::Zh);
        assert_eq!((p.now, p.held), (vec!["short".to_string()], None));
        // No budget: all of it waits.
        let p = pack("later", 0, Lang::Zh);
        assert_eq!((p.now.len(), p.held.as_deref()), (0, Some("later")));
    }

    proptest::proptest! {
        #[test]
        fn chunks_never_exceed_limits_or_lose_text(text in "(\\PC{0,300}\n?){0,40}", max in 16usize..400) {
            let parts = chunk(&text, max);
            for p in &parts {
                proptest::prop_assert!(p.chars().count() <= max && p.len() <= CHUNK_BYTES);
            }
            // Only line breaks used as split points may go.
            proptest::prop_assert_eq!(parts.concat().replace('\n', ""), text.replace('\n', ""));
        }
    }

    #[test]
    fn budget_and_window_follow_inbound_messages() {
        let mut c = Conv::default();
        assert!(!c.window_open(0, 1000), "no token, no window");
        c.inbound("tok", 100);
        c.sends = 7;
        c.queued = 2;
        assert_eq!(c.left(10), 1);
        assert!(c.window_open(1099, 1000));
        assert!(!c.window_open(1100, 1000));
        c.inbound("tok2", 2000);
        assert_eq!(
            (c.sends, c.left(10), c.context_token.as_str()),
            (0, 8, "tok2")
        );
        for _ in 0..100 {
            c.hold("y".repeat(1024));
        }
        assert!(c.held.iter().map(String::len).sum::<usize>() <= HELD_MAX_BYTES);
    }
}
