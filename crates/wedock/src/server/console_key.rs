//! The console secret and the tokens signed with it.
//!
//! - The secret comes from `[server] console_secret`, else from `<data_dir>/console.secret`
//!   (created 0600 at first use: 32 random bytes as 64 hex digits, no newline). Deleting the file signs everyone out.
//! - A login token (`wdt.EXPIRY.NONCE.SIG`) lives 24 hours and may be used any number of
//!   times until then; it is what the login URL carries.
//! - A session (`wds.EXPIRY.NONCE.SIG`) is what the cookie holds; it lives 7 days.
//!
//! `SIG` is HMAC-SHA256 over `KIND.EXPIRY.NONCE` with the secret, base64url without padding.

use crate::config::Config;
use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// How long a login token (the `?token=` of a login URL) is accepted.
pub const LOGIN_TTL_SECS: u64 = 24 * 3600;
/// How long a console session (the cookie) lasts.
pub const SESSION_TTL_SECS: u64 = 7 * 24 * 3600;
/// File name of the generated secret inside the data directory.
pub const SECRET_FILE: &str = "console.secret";
pub use crate::config::MIN_CONSOLE_SECRET_LEN as MIN_SECRET_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Login,
    Session,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Kind::Login => "wdt",
            Kind::Session => "wds",
        }
    }
    fn ttl(self) -> u64 {
        match self {
            Kind::Login => LOGIN_TTL_SECS,
            Kind::Session => SESSION_TTL_SECS,
        }
    }
}

/// Why a token was refused (also the metric reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Garbled,
    BadSignature,
    Expired,
}

impl TokenError {
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::Garbled => "garbled_token",
            TokenError::BadSignature => "bad_token_signature",
            TokenError::Expired => "expired_token",
        }
    }
}

/// Signs and checks console tokens.
#[derive(Clone)]
pub struct ConsoleKey {
    secret: Secret,
}

impl std::fmt::Debug for ConsoleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsoleKey(***)")
    }
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ConsoleKey {
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    /// The configured secret, or the one in the data directory (created when missing).
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        if let Some(s) = &config.server.console_secret {
            return Ok(Self::new(s.value.clone()));
        }
        let secret = load_or_create(&config.store.data_dir)?;
        Ok(Self::new(secret))
    }

    fn sign(&self, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A token of `kind` valid from `now` (unix seconds) for the kind's lifetime.
    pub fn mint(&self, kind: Kind, now: u64) -> String {
        let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
        let payload = format!("{}.{}.{nonce}", kind.tag(), now.saturating_add(kind.ttl()));
        let sig = self.sign(&payload);
        format!("{payload}.{sig}")
    }

    /// Checks a token's form, signature and expiry.
    pub fn verify(&self, token: &str, now: u64) -> Result<Kind, TokenError> {
        let mut parts = token.split('.');
        let (Some(tag), Some(exp), Some(nonce), Some(sig), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Garbled);
        };
        let kind = match tag {
            "wdt" => Kind::Login,
            "wds" => Kind::Session,
            _ => return Err(TokenError::Garbled),
        };
        let exp: u64 = exp.parse().map_err(|_| TokenError::Garbled)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Garbled)?;
        if nonce.is_empty() || nonce.len() > 64 {
            return Err(TokenError::Garbled);
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(format!("{tag}.{exp}.{nonce}").as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        // A token further in the future than its kind allows was not minted here.
        if exp <= now || exp > now.saturating_add(kind.ttl()).saturating_add(300) {
            return Err(TokenError::Expired);
        }
        Ok(kind)
    }

    /// Whether `value` is the secret itself (for long-lived scripts), in constant time.
    pub fn is_secret(&self, value: &str) -> bool {
        let a = self.secret.expose().as_bytes();
        let b = value.as_bytes();
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// A fresh login URL for a server listening on `listen`.
    pub fn login_url(&self, listen: SocketAddr) -> String {
        let token = self.mint(Kind::Login, now_secs());
        format!("http://{}/?token={token}", browsable(listen))
    }
}

/// The address a browser on this machine uses: a wildcard listen address becomes 127.0.0.1.
fn browsable(listen: SocketAddr) -> SocketAddr {
    if listen.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
    } else {
        listen
    }
}

/// The secret file's path for a data directory.
pub fn secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SECRET_FILE)
}

/// Reads `<data_dir>/console.secret`, creating it (0600, 32 random bytes as hex) when missing.
fn load_or_create(data_dir: &Path) -> anyhow::Result<Secret> {
    let path = secret_path(data_dir);
    crate::private_fs::private_dir(data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", data_dir.display()))?;
    if !path.exists() {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        match crate::private_fs::create_private(&path, fresh.as_bytes()) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "created the console secret");
                return Ok(Secret::new(fresh));
            }
            // Another process created it a moment ago: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => anyhow::bail!("cannot create {}: {e}", path.display()),
        }
    }
    if let Err(e) = crate::private_fs::tighten(&path) {
        tracing::warn!(reason = "secret_file_mode", path = %path.display(), "cannot make the console secret 0600: {e}");
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {}", path.display(), e.kind()))?;
    let value = text.trim();
    if value.len() < MIN_SECRET_LEN {
        anyhow::bail!(
            "{} holds fewer than {MIN_SECRET_LEN} characters; delete it and a new one is created",
            path.display()
        );
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ConsoleKey {
        ConsoleKey::new(Secret::new("k".repeat(40)))
    }

    #[test]
    fn tokens_verify_until_they_expire() {
        let k = key();
        let t = k.mint(Kind::Login, 1_000);
        assert_eq!(k.verify(&t, 1_000), Ok(Kind::Login));
        assert_eq!(k.verify(&t, 1_000 + LOGIN_TTL_SECS - 1), Ok(Kind::Login));
        assert_eq!(
            k.verify(&t, 1_000 + LOGIN_TTL_SECS),
            Err(TokenError::Expired)
        );
        let s = k.mint(Kind::Session, 1_000);
        assert_eq!(k.verify(&s, 1_000 + LOGIN_TTL_SECS), Ok(Kind::Session));
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let k = key();
        let t = k.mint(Kind::Login, 1_000);
        let other = ConsoleKey::new(Secret::new("x".repeat(40)));
        assert_eq!(other.verify(&t, 1_000), Err(TokenError::BadSignature));
        // Moving the expiry invalidates the signature.
        let parts: Vec<&str> = t.split('.').collect();
        let moved = format!("wdt.{}.{}.{}", 1_000 + 60, parts[2], parts[3]);
        assert_eq!(k.verify(&moved, 1_000), Err(TokenError::BadSignature));
        for bad in [
            "",
            "abc",
            "wdt.1.2",
            "wdt.x.n.sig",
            "wdx.99999999999.n.AAAA",
            "wdt.1.n.!!",
        ] {
            assert_eq!(k.verify(bad, 1_000), Err(TokenError::Garbled), "{bad}");
        }
        assert!(k.is_secret(&"k".repeat(40)));
        assert!(!k.is_secret(&"k".repeat(39)));
    }

    #[test]
    fn wildcard_listen_addresses_become_loopback_in_the_url() {
        let k = key();
        let url = k.login_url("0.0.0.0:9000".parse().unwrap());
        assert!(
            url.starts_with("http://127.0.0.1:9000/?token=wdt."),
            "{url}"
        );
        let url = k.login_url("[::]:9000".parse().unwrap());
        assert!(url.starts_with("http://127.0.0.1:9000/?token="), "{url}");
        let url = k.login_url("[::1]:9000".parse().unwrap());
        assert!(url.starts_with("http://[::1]:9000/?token="), "{url}");
    }
}
