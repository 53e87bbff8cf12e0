//! Checks of the WeChat channels whose senders are only as trustworthy as the transport: the
//! Official Account's mode and the personal-WeChat bridge's callback token and identities.

use super::Role;
use super::{Config, ConfigError, WechatMpConfig, check_aes_key, check_token, err};
use serde::Deserialize;

/// How the Official Account's callbacks are protected, as chosen in its console (明文 / 兼容 /
/// 安全).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MpMode {
    /// Plaintext bodies; the URL signature does not cover them, so senders act as guests.
    Plain,
    /// Plaintext fields and an `Encrypt` element; only the encrypted part is trusted.
    Compatible,
    /// Only `Encrypt`; anything else is refused.
    Safe,
}

impl MpMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MpMode::Plain => "plain",
            MpMode::Compatible => "compatible",
            MpMode::Safe => "safe",
        }
    }
}

impl WechatMpConfig {
    /// The configured mode; unset means `safe` with an EncodingAESKey, `plain` without.
    pub fn mode(&self) -> MpMode {
        self.mode.unwrap_or(if self.encoding_aes_key.is_some() {
            MpMode::Safe
        } else {
            MpMode::Plain
        })
    }
}

/// Shortest `[gateway.wechatbot] callback_token` accepted.
pub const MIN_CALLBACK_TOKEN: usize = 16;

/// Prefix of bridge identities named by the contact's alias (备注名), which only the bot's
/// own account can set.
pub const WECHATBOT_ALIAS_PREFIX: &str = "wechatbot:alias:";

impl Config {
    /// Keys and cross-field rules of `[wechat.mp]` and `[gateway.wechatbot]`.
    pub(super) fn validate_wechat_channels(&self) -> Result<(), ConfigError> {
        if let Some(mp) = &self.wechat.mp {
            check_token("wechat.mp.token", mp.token.expose())?;
            if let Some(k) = &mp.encoding_aes_key_previous {
                check_aes_key("wechat.mp.encoding_aes_key_previous", k.expose())?;
            }
            if let Some(k) = &mp.encoding_aes_key {
                check_aes_key("wechat.mp.encoding_aes_key", k.expose())?;
            }
            let mode = mp.mode();
            if mode != MpMode::Plain && mp.encoding_aes_key.is_none() {
                return Err(err(
                    "wechat.mp.mode",
                    format!(
                        "{} mode needs wechat.mp.encoding_aes_key (the EncodingAESKey of the \
                         account's console); set it, or use mode = \"plain\"",
                        mode.as_str()
                    ),
                ));
            }
        }
        if let Some(bot) = &self.gateway.wechatbot {
            let key = "gateway.wechatbot.callback_token";
            let Some(token) = &bot.callback_token else {
                return Err(err(
                    key,
                    format!(
                        "required: a secret of at least {MIN_CALLBACK_TOKEN} characters, \
                         given to the gateway as ?token= on its callback URL, so nobody else \
                         can post messages to /gateway/wechatbot"
                    ),
                ));
            };
            let len = token.expose().chars().count();
            if len < MIN_CALLBACK_TOKEN || token.expose().trim() != token.expose() {
                return Err(err(
                    key,
                    format!(
                        "must be at least {MIN_CALLBACK_TOKEN} characters without surrounding \
                         spaces (got {len})"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Roles in `[identity]` that a channel can never grant because it cannot tell who the
    /// sender is: such senders act as guests whatever is configured. `wedock check` refuses
    /// them (one line each, naming the key); `wedock serve` runs and logs them as warnings.
    pub fn unenforceable_roles(&self) -> Vec<ConfigError> {
        let mut out = Vec::new();
        let plain_mp = self
            .wechat
            .mp
            .as_ref()
            .is_some_and(|mp| mp.mode() == MpMode::Plain);
        for (who, role) in &self.identity.users {
            if *role <= Role::Guest {
                continue;
            }
            let key = format!("identity.users.{who}");
            if plain_mp && (who.starts_with("wechat:") || who.starts_with("wechat_mp:")) {
                out.push(err(
                    key,
                    format!(
                        "role {role} is never granted: wechat.mp.mode is plain, where nothing \
                         authenticates a message body, so Official Account users act as guest; \
                         set wechat.mp.encoding_aes_key (safe mode) or lower the role to guest"
                    ),
                ));
            } else if who.starts_with("wechatbot:") && !who.starts_with(WECHATBOT_ALIAS_PREFIX) {
                out.push(err(
                    key,
                    format!(
                        "role {role} is never granted: anyone can give themselves this nickname \
                         on WeChat; name the contact by the alias (备注名) the bot's own account \
                         sets, as wechatbot:alias:NAME"
                    ),
                ));
            }
        }
        for (group, role) in &self.identity.groups {
            if *role > Role::Guest && group.starts_with("wechatbot:") {
                out.push(err(
                    format!("identity.groups.{group}"),
                    format!(
                        "role {role} is never granted: anyone can create a WeChat group with \
                         this name, so bridge group messages act as guest; give the people a \
                         role as wechatbot:alias:NAME instead"
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wedock.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(Some(&p), Vec::new())
    }

    const MP: &str = "[wechat.mp]\napp_id = \"wx1\"\napp_secret = \"s\"\ntoken = \"tok\"\n";
    const KEY: &str = "encoding_aes_key = \"kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR\"\n";

    #[test]
    fn mp_mode_defaults_follow_the_key_and_encrypted_modes_need_it() {
        assert_eq!(load(MP).unwrap().wechat.mp.unwrap().mode(), MpMode::Plain);
        let with_key = format!("{MP}{KEY}");
        assert_eq!(
            load(&with_key).unwrap().wechat.mp.unwrap().mode(),
            MpMode::Safe
        );
        let compat = format!("{with_key}mode = \"compatible\"\n");
        assert_eq!(
            load(&compat).unwrap().wechat.mp.unwrap().mode(),
            MpMode::Compatible
        );
        for mode in ["safe", "compatible"] {
            let e = load(&format!("{MP}mode = \"{mode}\"\n")).unwrap_err();
            assert_eq!(e.key, "wechat.mp.mode");
            assert!(e.reason.contains("encoding_aes_key"), "{e}");
        }
        let e = load(&format!("{MP}mode = \"secure\"\n")).unwrap_err();
        assert_eq!(e.key, "wechat.mp.mode");
    }

    #[test]
    fn bridge_callback_token_is_required_and_long() {
        let base = "[gateway.wechatbot]\nbase_url = \"http://127.0.0.1:3001\"\ntoken = \"t\"\n";
        let e = load(base).unwrap_err();
        assert_eq!(e.key, "gateway.wechatbot.callback_token");
        assert!(e.reason.contains("required"), "{e}");
        let e = load(&format!("{base}callback_token = \"short\"\n")).unwrap_err();
        assert_eq!(e.key, "gateway.wechatbot.callback_token");
        assert!(e.reason.contains("16"), "{e}");
        load(&format!("{base}callback_token = \"0123456789abcdef\"\n")).unwrap();
    }

    #[test]
    fn roles_a_channel_cannot_authenticate_are_named() {
        let cfg = load(&format!(
            "{MP}[identity.users]\n\"wechat:oAdmin\" = \"admin\"\n\"wechat:oGuest\" = \"guest\"\n\
             \"wechatbot:Alice\" = \"operator\"\n\"wechatbot:alias:alice\" = \"admin\"\n\
             \"wecom:bob\" = \"admin\"\n[identity.groups]\n\"wechatbot:Ops\" = \"viewer\"\n\
             \"wechatbot:Lobby\" = \"guest\"\n"
        ))
        .unwrap();
        let keys: Vec<String> = cfg
            .unenforceable_roles()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(
            keys,
            [
                "identity.users.wechat:oAdmin",
                "identity.users.wechatbot:Alice",
                "identity.groups.wechatbot:Ops"
            ]
        );
        // In safe mode the Official Account authenticates its senders.
        let safe = load(&format!(
            "{MP}{KEY}[identity.users]\n\"wechat:oAdmin\" = \"admin\"\n"
        ))
        .unwrap();
        assert!(safe.unenforceable_roles().is_empty());
    }
}
