//! `/oncall swap` overrides, kept in the store's kv so every replica and every restart sees
//! them: `oncall:swap:SCHEDULE:START_MS` → `{user, start, end, by}`, expiring a day after
//! their end.

use super::{Override, Schedule};
use crate::store::{Store, StoreResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "oncall:swap:";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    user: String,
    start_ms: i64,
    end_ms: i64,
    by: String,
}

fn prefix(schedule: &str) -> String {
    format!("{PREFIX}{schedule}:")
}

/// Records that `user` is on duty in `schedule` from `start` to `end`, set by `by`.
pub async fn save(
    store: &dyn Store,
    schedule: &str,
    user: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    by: &str,
) -> StoreResult<()> {
    let s = Stored {
        user: user.to_string(),
        start_ms: start.timestamp_millis(),
        end_ms: end.timestamp_millis(),
        by: by.to_string(),
    };
    let key = format!("{}{:013}", prefix(schedule), s.start_ms);
    let ttl =
        (end - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_secs(86_400);
    let value = serde_json::to_string(&s).unwrap_or_default();
    store.kv_set(&key, &value, Some(ttl)).await
}

/// The schedule with its stored swaps appended after the configured overrides (so a swap
/// wins where they overlap; among swaps the later start wins).
pub async fn with_swaps(store: &dyn Store, mut s: Schedule) -> StoreResult<Schedule> {
    let mut rows = store.kv_scan(&prefix(&s.name)).await?;
    rows.sort();
    for (_, v) in rows {
        // A row this version cannot read is skipped rather than blocking the schedule.
        let Ok(st) = serde_json::from_str::<Stored>(&v) else {
            continue;
        };
        let (Some(start), Some(end)) = (
            DateTime::from_timestamp_millis(st.start_ms),
            DateTime::from_timestamp_millis(st.end_ms),
        ) else {
            continue;
        };
        s.overrides.push(Override {
            user: st.user,
            start,
            end,
        });
    }
    Ok(s)
}

/// The person on duty in the named schedule right now (swaps included), if the schedule
/// exists.
pub async fn on_duty(app: &crate::app::App, name: &str) -> StoreResult<Option<String>> {
    let Some(s) = app.config.oncall_schedule(name) else {
        return Ok(None);
    };
    let s = with_swaps(app.store.as_ref(), s).await?;
    Ok(Some(s.on_call(Utc::now()).user).filter(|u| !u.is_empty()))
}
