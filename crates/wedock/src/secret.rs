//! Secrets: a newtype that never prints its value, and the ways a secret can be supplied
//! (inline, from an environment variable, or from a file such as a Docker/Kubernetes secret).

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret value. `Debug` and `Display` print `***` so it cannot leak into logs or errors.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw value, for the one place that must send it (a signature, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How a secret is written in the config file:
/// `key = "value"`, `key = { env = "VAR" }` or `key = { file = "/run/secrets/key" }`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: String },
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline(_) => f.write_str("Inline(***)"),
            SecretSource::Env { env } => write!(f, "Env({env})"),
            SecretSource::File { file } => write!(f, "File({file})"),
        }
    }
}

impl SecretSource {
    /// Reads the secret. The error says where it was looked for, never what was found.
    pub fn resolve(&self) -> Result<Secret, String> {
        let value = match self {
            SecretSource::Inline(v) => v.clone(),
            SecretSource::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))?
            }
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read secret file {file}: {}", e.kind()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        };
        if value.trim().is_empty() {
            return Err("the secret is empty".to_string());
        }
        Ok(Secret(value))
    }
}

/// A secret field in a config struct: deserialised from a [`SecretSource`] and resolved at load
/// time, so the rest of the program only ever sees a [`Secret`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSecret {
    pub source: SecretSource,
    pub value: Secret,
}

impl<'de> Deserialize<'de> for ConfigSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = SecretSource::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a string, { env = \"VAR\" } or { file = \"/path\" }")
        })?;
        let value = source.resolve().map_err(serde::de::Error::custom)?;
        Ok(ConfigSecret { source, value })
    }
}

impl std::ops::Deref for ConfigSecret {
    type Target = Secret;
    fn deref(&self) -> &Secret {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn file_secret_strips_trailing_newline_and_errors_name_the_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "abc\n").unwrap();
        let src = SecretSource::File {
            file: p.display().to_string(),
        };
        assert_eq!(src.resolve().unwrap().expose(), "abc");
        let missing = SecretSource::File {
            file: "/nonexistent/x".into(),
        };
        let err = missing.resolve().unwrap_err();
        assert!(err.contains("/nonexistent/x"), "{err}");
    }
}
