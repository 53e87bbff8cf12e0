//! Folding: when a target's budget is spent, the messages still waiting for it become one
//! digest that is replaced as more alerts join.

use super::*;

impl Engine {
    /// The digest that replaces `waiting` plus `contents`: one line per alert, at most
    /// [`DIGEST_BUDGET`] bytes, and a count of what did not fit.
    pub(super) fn digest(
        &self,
        t: &Target,
        format: Format,
        waiting: &[OutboxMessage],
        contents: &[&str],
    ) -> Vec<NewOutboxMessage> {
        let mut lines: Vec<String> = Vec::new();
        let mut omitted: u64 = 0;
        let mut take = |text: &str, key: Option<&str>| {
            let is_digest = key.is_some_and(|k| k.contains(":digest:"));
            if is_digest {
                // Earlier digest (or a part of one): keep its items; its omitted count is the
                // last segment of its key.
                if let Some(n) = key
                    .and_then(|k| k.rsplit(':').next())
                    .and_then(|n| n.parse::<u64>().ok())
                {
                    omitted += n;
                }
                lines.extend(
                    text.lines()
                        .skip(1)
                        .filter(|l| !l.starts_with("… "))
                        .map(str::to_string),
                );
            } else {
                let mut it = render::digest_lines(text).into_iter();
                if let Some(h) = it.next() {
                    lines.push(format!("- {}", plain(&h)));
                }
                lines.extend(it.map(|l| format!("  {}", plain(&l))));
            }
        };
        for m in waiting {
            // A continuation part of an earlier digest carries only its items.
            if let Some(c) = payload::content_of(&m.payload) {
                take(&c, m.dedup_key.as_deref());
            }
        }
        for c in contents {
            take(c, None);
        }
        let lang = self.lang;
        let budget = DIGEST_BUDGET;
        let mut used = 0usize;
        let mut kept = Vec::new();
        for l in lines {
            if used + l.len() + 1 > budget {
                omitted += 1;
                continue;
            }
            used += l.len() + 1;
            kept.push(l);
        }
        let n_items = kept.iter().filter(|l| l.starts_with("- ")).count() as u64;
        let head = t!(lang, "alert.digest_head", n = n_items + omitted);
        let head = match format {
            Format::Markdown => format!("<font color=\"warning\">**{head}**</font>"),
            Format::MarkdownV2 => format!("**{head}**"),
            Format::Text => head,
        };
        let mut text = head;
        for l in kept {
            text.push('\n');
            text.push_str(&l);
        }
        if omitted > 0 {
            text.push('\n');
            text.push_str(&t!(lang, "alert.digest_more", n = omitted));
        }
        let stamp = format!(
            "{}{:06}",
            now_ms(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let parts = crate::render::split_by_bytes(&text, format.limit());
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                // Continuation parts start with an item, not the header: give them one so a
                // later fold reads them the same way.
                let part = if i == 0 {
                    part
                } else {
                    format!("📦 …\n{part}")
                };
                NewOutboxMessage {
                    channel: t.channel.clone(),
                    target: t.id.clone(),
                    payload: payload::body(format, &part),
                    dedup_key: Some(format!(
                        "{KEY_PREFIX}digest:{}:{stamp}:{i}:{}",
                        t.id,
                        if i == 0 { omitted } else { 0 }
                    )),
                }
            })
            .collect()
    }
}
