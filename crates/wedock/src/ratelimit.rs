//! Per-identity rate limits (`[limits]`): commands per minute and knowledge / LLM answers
//! per hour, so one user cannot flood the Docker engine or spend the LLM budget.
//!
//! Each limit is a GCRA (generic cell rate algorithm): an identity may send up to the
//! limit at once, then one more every `period / limit`. State is one timestamp per
//! identity, in a map bounded by [`MAX_KEYS`]: when it is full, identities whose budget has
//! fully come back are forgotten (they behave exactly like new ones), and if that is not
//! enough the half closest to a full budget is dropped. Memory stays bounded however many
//! identities write; an identity dropped early only gets its budget back sooner.

pub use crate::config::LimitsConfig;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most identities a limiter remembers at once.
pub const MAX_KEYS: usize = 20_000;

/// One limit (`limit` per `period`) for many identities.
pub struct Limiter {
    /// Time between two admitted requests once the burst is spent.
    interval: Duration,
    /// `period`: how far ahead of now the theoretical arrival time may run.
    period: Duration,
    epoch: Instant,
    /// Theoretical arrival time per identity, as an offset from `epoch`.
    tat: Mutex<HashMap<String, Duration>>,
    max_keys: usize,
}

impl Limiter {
    /// `None` when `limit` is 0 (disabled).
    pub fn new(limit: u32, period: Duration) -> Option<Limiter> {
        Self::with_capacity(limit, period, MAX_KEYS)
    }

    pub fn with_capacity(limit: u32, period: Duration, max_keys: usize) -> Option<Limiter> {
        (limit > 0).then(|| Limiter {
            interval: period / limit,
            period,
            epoch: Instant::now(),
            tat: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(2),
        })
    }

    /// Admits one request from `key` now, or says how long until it would be admitted.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, at: Instant) -> Result<(), Duration> {
        let now = at.saturating_duration_since(self.epoch);
        let mut map = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        if next > now + self.period {
            return Err(next - self.period - now);
        }
        if !map.contains_key(key) && map.len() >= self.max_keys {
            self.shrink(&mut map, now);
        }
        map.insert(key.to_string(), next);
        Ok(())
    }

    /// Forgets identities whose budget is back in full; if that frees too little, the half
    /// with the most budget left. Amortised O(1) per insertion.
    fn shrink(&self, map: &mut HashMap<String, Duration>, now: Duration) {
        map.retain(|_, tat| *tat > now);
        if map.len() < self.max_keys * 3 / 4 {
            return;
        }
        let mut tats: Vec<Duration> = map.values().copied().collect();
        let mid = tats.len() / 2;
        let (_, median, _) = tats.select_nth_unstable(mid);
        let median = *median;
        map.retain(|_, tat| *tat > median);
        // Many equal timestamps: drop arbitrary ones to reach the bound.
        let excess = map.len().saturating_sub(self.max_keys / 2);
        if excess > 0 {
            let drop: Vec<String> = map.keys().take(excess).cloned().collect();
            for k in drop {
                map.remove(&k);
            }
        }
    }

    /// Identities currently remembered.
    pub fn len(&self) -> usize {
        self.tat.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The limits of `[limits]`, built once.
pub struct Limits {
    pub commands: Option<Limiter>,
    pub answers: Option<Limiter>,
}

impl Limits {
    pub fn new(cfg: &LimitsConfig, llm: bool) -> Self {
        Self {
            commands: Limiter::new(cfg.commands_per_minute, Duration::from_secs(60)),
            answers: Limiter::new(
                cfg.effective_answers_per_hour(llm),
                Duration::from_secs(3600),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_up_to_the_limit_then_one_per_interval() {
        let l = Limiter::new(3, Duration::from_secs(60)).expect("enabled");
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("u", t0).is_ok());
        }
        let wait = l.check_at("u", t0).expect_err("limited");
        assert_eq!(wait, Duration::from_secs(20));
        // Other identities are not affected.
        assert!(l.check_at("v", t0).is_ok());
        assert!(l.check_at("u", t0 + Duration::from_secs(19)).is_err());
        assert!(l.check_at("u", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.check_at("u", t0 + Duration::from_secs(20)).is_err());
    }

    #[test]
    fn zero_disables() {
        assert!(Limiter::new(0, Duration::from_secs(60)).is_none());
        let cfg = LimitsConfig {
            answers_per_hour: 0,
            llm_answers_per_hour: 0,
            ..LimitsConfig::default()
        };
        assert!(Limits::new(&cfg, true).answers.is_none());
    }

    #[test]
    fn the_llm_limit_applies_only_with_an_llm_and_the_lower_wins() {
        let cfg = LimitsConfig::default();
        assert_eq!(cfg.effective_answers_per_hour(false), 120);
        assert_eq!(cfg.effective_answers_per_hour(true), 60);
        let cfg = LimitsConfig {
            answers_per_hour: 0,
            llm_answers_per_hour: 30,
            ..cfg
        };
        assert_eq!(cfg.effective_answers_per_hour(true), 30);
        assert_eq!(cfg.effective_answers_per_hour(false), 0);
    }

    #[test]
    fn memory_stays_bounded_with_100k_identities() {
        let l = Limiter::new(20, Duration::from_secs(60)).expect("enabled");
        let t0 = Instant::now();
        for i in 0..100_000 {
            assert!(l.check_at(&format!("wecom:user{i}"), t0).is_ok());
            assert!(l.len() <= MAX_KEYS, "{} identities after {i}", l.len());
        }
        // A busy identity keeps being limited while strangers churn the map.
        let busy = "wecom:busy";
        for _ in 0..20 {
            assert!(l.check_at(busy, t0).is_ok());
        }
        assert!(l.check_at(busy, t0).is_err());
        for i in 0..(MAX_KEYS / 4) {
            let _ = l.check_at(&format!("wecom:other{i}"), t0);
        }
        assert!(
            l.check_at(busy, t0).is_err(),
            "the busiest identity was forgotten"
        );
    }

    #[test]
    fn identities_with_their_budget_back_are_forgotten_first() {
        let l = Limiter::with_capacity(2, Duration::from_secs(60), 10).expect("enabled");
        let t0 = Instant::now();
        for i in 0..10 {
            l.check_at(&format!("u{i}"), t0).expect("ok");
        }
        // A minute later all of them have their budget back: a new one replaces them all.
        l.check_at("new", t0 + Duration::from_secs(61)).expect("ok");
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn limits_too_high_are_refused_naming_the_key() {
        let cfg = LimitsConfig {
            commands_per_minute: 1_000_000,
            ..LimitsConfig::default()
        };
        let e = cfg.validate().expect_err("too high");
        assert_eq!(e.key, "limits.commands_per_minute");
    }
}
