//! Rendered parts of recent documents. The same knowledge answer goes out many times (the
//! message path caches answers by question), and parsing and rendering its Markdown again
//! for every message was a sixth of the CPU of the WeCom load test (docs/performance.md).
//! Rendering is a pure function of the document, the target and the budget, so its result
//! can be kept; the memo is bounded and starts over when full.

use super::Target;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

/// Documents kept at most (each a few kilobytes of Markdown and its rendering).
const KEPT_MAX: usize = 256;
/// Longer documents are rendered every time: they are rare and would crowd the memo.
const DOC_MAX: usize = 16 * 1024;

/// The document's hash, the target and the budget; the entry keeps the document to compare.
type Key = (u64, Target, usize);

/// The document (to tell a hash collision apart) and its parts.
type Entry = (Arc<str>, Arc<[String]>);

static MEMO: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(Default::default);

/// `render(md, target, budget)`, from the memo when it was rendered before.
pub(super) fn parts(
    md: &str,
    target: Target,
    budget: usize,
    render: fn(&str, Target, usize) -> Vec<String>,
) -> Vec<String> {
    if md.len() > DOC_MAX {
        return render(md, target, budget);
    }
    let mut h = std::hash::DefaultHasher::new();
    md.hash(&mut h);
    let key: Key = (h.finish(), target, budget);
    let hit = MEMO.lock().ok().and_then(|m| {
        m.get(&key)
            .filter(|(doc, _)| &**doc == md)
            .map(|(_, parts)| parts.clone())
    });
    if let Some(parts) = hit {
        return parts.to_vec();
    }
    let fresh = render(md, target, budget);
    if let Ok(mut m) = MEMO.lock() {
        if m.len() >= KEPT_MAX {
            m.clear();
        }
        m.insert(key, (Arc::from(md), Arc::from(fresh.clone())));
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_rendering_is_the_same_as_a_fresh_one_for_each_target_and_budget() {
        let md = "# 标题\n\n- 第一项\n- second item with `code`\n\n```\nlet x = 1;\n```\n";
        for t in Target::ALL {
            for budget in [64, 100, 4096] {
                let fresh = super::super::render_parts_uncached(md, t, budget);
                assert_eq!(
                    super::super::render_parts(md, t, budget),
                    fresh,
                    "{t:?} {budget}"
                );
                assert_eq!(
                    super::super::render_parts(md, t, budget),
                    fresh,
                    "{t:?} {budget}"
                );
            }
        }
    }
}
