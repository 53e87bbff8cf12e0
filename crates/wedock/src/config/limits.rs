//! `[limits]` (per-identity rate limits, applied by `ratelimit.rs`) and `[security]` (extra
//! redaction patterns, applied by `redact.rs`).

use super::ConfigError;
use serde::Deserialize;

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// `/commands` per identity per minute; 0 disables the limit.
    pub commands_per_minute: u32,
    /// Knowledge answers (questions that are not commands) per identity per hour; 0 disables.
    pub answers_per_hour: u32,
    /// Answers per identity per hour when an `[llm]` is configured (each may cost a model
    /// call); the lower of this and `answers_per_hour` applies. 0 disables.
    pub llm_answers_per_hour: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            commands_per_minute: 20,
            answers_per_hour: 120,
            llm_answers_per_hour: 60,
        }
    }
}

impl LimitsConfig {
    /// The hourly answer limit in effect (0 = none).
    pub fn effective_answers_per_hour(&self, llm: bool) -> u32 {
        let limits = [
            self.answers_per_hour,
            if llm { self.llm_answers_per_hour } else { 0 },
        ];
        limits.into_iter().filter(|n| *n > 0).min().unwrap_or(0)
    }

    /// Limits above these are almost certainly a typo (and would make the limiter useless).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks = [
            (
                "limits.commands_per_minute",
                self.commands_per_minute,
                10_000,
            ),
            ("limits.answers_per_hour", self.answers_per_hour, 100_000),
            (
                "limits.llm_answers_per_hour",
                self.llm_answers_per_hour,
                100_000,
            ),
        ];
        for (key, value, max) in checks {
            if value > max {
                return Err(ConfigError {
                    key: key.into(),
                    reason: format!("must be at most {max} (0 disables the limit), got {value}"),
                });
            }
        }
        Ok(())
    }
}

/// `[security]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Extra regexes whose matches are redacted (the first capture group when there is one).
    pub redact_patterns: Vec<String>,
}

impl SecurityConfig {
    /// Every pattern must compile; the error names the key and the pattern's index.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, p) in self.redact_patterns.iter().enumerate() {
            let key = format!("security.redact_patterns[{i}]");
            if p.is_empty() {
                return Err(config_err(key, "must not be empty"));
            }
            if let Err(e) = compile_redact_pattern(p) {
                return Err(config_err(key, format!("invalid regex: {}", one_line(&e))));
            }
        }
        Ok(())
    }
}

fn config_err(key: String, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

fn one_line(e: &regex::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `[security] redact_patterns` entry as the redactor runs it (bounded in size).
pub fn compile_redact_pattern(p: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(p)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
}
