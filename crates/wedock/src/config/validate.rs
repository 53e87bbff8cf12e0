//! The cross-field checks of one area each, called from `Config::validate`.

use super::*;

impl Config {
    pub(super) fn validate_postgres(&self) -> Result<(), ConfigError> {
        let s = &self.store;
        if !(1..=1000).contains(&s.postgres_pool_size) {
            return Err(err(
                "store.postgres_pool_size",
                "must be between 1 and 1000",
            ));
        }
        if !(100..=600_000).contains(&s.postgres_connect_timeout_ms) {
            return Err(err(
                "store.postgres_connect_timeout_ms",
                "must be between 100 and 600000",
            ));
        }
        if !(100..=3_600_000).contains(&s.postgres_statement_timeout_ms) {
            return Err(err(
                "store.postgres_statement_timeout_ms",
                "must be between 100 and 3600000",
            ));
        }
        if s.backend == StoreBackend::Postgres
            && let Some(url) = &s.postgres_url
        {
            // sslmode, sslrootcert and the rest of the string, checked as `serve` will use them.
            let target =
                crate::store::pg_target(url.expose()).map_err(|e| err("store.postgres_url", e))?;
            crate::store::pg_tls_check(&target).map_err(|e| err("store.postgres_url", e))?;
        }
        Ok(())
    }

    pub(super) fn validate_server_access(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if let Some(secret) = &s.console_secret
            && secret.expose().chars().count() < super::MIN_CONSOLE_SECRET_LEN
        {
            return Err(err(
                "server.console_secret",
                "must be at least 16 characters (e.g. the output of `openssl rand -hex 32`)",
            ));
        }
        for (i, h) in s.allowed_hosts.iter().flatten().enumerate() {
            if let Err(why) = super::HostPattern::parse(h) {
                return Err(err(format!("server.allowed_hosts[{i}]"), why));
            }
        }
        if let Some(m) = s.metrics_listen
            && m == s.listen
        {
            return Err(err(
                "server.metrics_listen",
                "must differ from server.listen (it is a second listener)",
            ));
        }
        Ok(())
    }

    pub(super) fn validate_weixin(&self) -> Result<(), ConfigError> {
        let w = &self.weixin;
        if !(1..=10).contains(&w.per_inbound) {
            return Err(err("weixin.per_inbound", "must be between 1 and 10"));
        }
        if !(1..=24).contains(&w.window_hours) {
            return Err(err("weixin.window_hours", "must be between 1 and 24"));
        }
        if !(100..=60_000).contains(&w.long_poll_ms) {
            return Err(err("weixin.long_poll_ms", "must be between 100 and 60000"));
        }
        if w.relogin_check_secs == 0 {
            return Err(err("weixin.relogin_check_secs", "must be at least 1"));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, a) in w.accounts.iter().enumerate() {
            if !valid_account_name(&a.name) {
                return Err(err(
                    format!("weixin.accounts[{i}].name"),
                    "must be 1-32 characters of a-z, 0-9, - and _",
                ));
            }
            if !names.insert(a.name.clone()) {
                return Err(err(
                    format!("weixin.accounts[{i}].name"),
                    format!("duplicate account {:?}", a.name),
                ));
            }
        }
        for (i, t) in w.notify.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(err(format!("weixin.notify[{i}]"), "must not be empty"));
            }
        }
        Ok(())
    }

    pub(super) fn validate_kubernetes(&self) -> Result<(), ConfigError> {
        let k = &self.kubernetes;
        if !(1..=300).contains(&k.request_timeout_secs) {
            return Err(err(
                "kubernetes.request_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if !(1..=10_000).contains(&k.logs_tail) {
            return Err(err("kubernetes.logs_tail", "must be between 1 and 10000"));
        }
        if !(1..=3600).contains(&k.confirm_timeout_secs) {
            return Err(err(
                "kubernetes.confirm_timeout_secs",
                "must be between 1 and 3600",
            ));
        }
        // Below the chat pipeline's two-minute "still processing" window, so a channel's
        // redelivery never runs a drain twice.
        if !(1..=110).contains(&k.drain_timeout_secs) {
            return Err(err(
                "kubernetes.drain_timeout_secs",
                "must be between 1 and 110",
            ));
        }
        if !(100..=60_000).contains(&k.eviction_retry_ms) {
            return Err(err(
                "kubernetes.eviction_retry_ms",
                "must be between 100 and 60000",
            ));
        }
        for key in k.impersonate.keys() {
            let ok = match key.split_once(':') {
                Some(("role", r)) => matches!(r, "viewer" | "operator" | "admin"),
                Some(("user", u)) => !u.is_empty(),
                _ => false,
            };
            if !ok {
                return Err(err(
                    format!("kubernetes.impersonate.{key}"),
                    "key must be role:viewer|operator|admin or user:CHANNEL:ID",
                ));
            }
        }
        for (key, v) in &k.impersonate {
            if v.user.trim().is_empty() {
                return Err(err(
                    format!("kubernetes.impersonate.{key}.user"),
                    "must not be empty",
                ));
            }
        }
        let a = &self.alerts.kubernetes;
        for (i, r) in a.reasons.iter().enumerate() {
            if !KUBE_ALERT_KINDS.contains(&r.as_str()) {
                return Err(err(
                    format!("alerts.kubernetes.reasons[{i}]"),
                    format!("unknown kind; use one of: {}", KUBE_ALERT_KINDS.join(", ")),
                ));
            }
        }
        match humantime::parse_duration(&a.pending_after) {
            Ok(d) if d.as_secs() >= 1 => {}
            _ => {
                return Err(err(
                    "alerts.kubernetes.pending_after",
                    "must be a duration of at least 1s, like 5m",
                ));
            }
        }
        for (i, g) in a
            .namespaces
            .iter()
            .chain(&a.exclude_namespaces)
            .chain(&a.names)
            .enumerate()
        {
            if glob::Pattern::new(g).is_err() {
                return Err(err(
                    format!("alerts.kubernetes (pattern {i})"),
                    format!("{g:?} is not a valid glob"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn validate_alerts(&self) -> Result<(), ConfigError> {
        let a = &self.alerts;
        if crate::i18n::Lang::parse(&a.lang).is_none() {
            return Err(err("alerts.lang", "must be \"zh\" or \"en\""));
        }
        if a.alertmanager_basic_user.is_some() != a.alertmanager_basic_password.is_some() {
            return Err(err(
                "alerts.alertmanager_basic_password",
                "alertmanager_basic_user and alertmanager_basic_password go together",
            ));
        }
        let am = &a.alertmanager;
        if am.basic_user.is_some() != am.basic_password.is_some() {
            return Err(err(
                "alerts.alertmanager.basic_password",
                "basic_user and basic_password go together",
            ));
        }
        if am.token.is_some() && a.alertmanager_token.is_some() {
            return Err(err(
                "alerts.alertmanager.token",
                "set alerts.alertmanager.token or alerts.alertmanager_token, not both",
            ));
        }
        if am.basic_user.is_some() && a.alertmanager_basic_user.is_some() {
            return Err(err(
                "alerts.alertmanager.basic_user",
                "set alerts.alertmanager.basic_user or alerts.alertmanager_basic_user, not both",
            ));
        }
        if let Some(u) = &am.url
            && !matches!(u.scheme(), "http" | "https")
        {
            return Err(err(
                "alerts.alertmanager.url",
                "must be an http:// or https:// URL",
            ));
        }
        if am.api_timeout_ms == 0 || am.api_timeout_ms > 60_000 {
            return Err(err(
                "alerts.alertmanager.api_timeout_ms",
                "must be 1 to 60000",
            ));
        }
        if a.restart_loop_count < 2 {
            return Err(err("alerts.restart_loop_count", "must be at least 2"));
        }
        if a.digest_pending == 0 {
            return Err(err("alerts.digest_pending", "must be at least 1"));
        }
        if a.reconnect_min_ms == 0 || a.reconnect_max_ms < a.reconnect_min_ms {
            return Err(err(
                "alerts.reconnect_max_ms",
                "need 0 < reconnect_min_ms <= reconnect_max_ms",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in a.routes.iter().enumerate() {
            let key = format!("alerts.routes[{i}]");
            if r.name.trim().is_empty() || !names.insert(r.name.clone()) {
                return Err(err(
                    format!("{key}.name"),
                    "must be a unique, non-empty name",
                ));
            }
            if r.targets.is_empty() {
                return Err(err(format!("{key}.targets"), "list at least one target"));
            }
            for (j, t) in r.targets.iter().enumerate() {
                self.check_alert_target(format!("{key}.targets[{j}]"), t)?;
            }
            if let Some(tpl) = &r.template {
                minijinja::Environment::new()
                    .template_from_str(tpl)
                    .map_err(|e| {
                        err(format!("{key}.template"), format!("invalid template: {e}"))
                    })?;
            }
            if let Some(d) = &r.repeat_interval {
                humantime::parse_duration(d).map_err(|e| {
                    err(
                        format!("{key}.repeat_interval"),
                        format!("not a duration: {e}"),
                    )
                })?;
            }
            let m = &r.matches;
            for (k, g) in [
                ("source", &m.source),
                ("host", &m.host),
                ("container", &m.container),
                ("image", &m.image),
                ("project", &m.project),
            ] {
                if let Some(g) = g {
                    glob::Pattern::new(g).map_err(|e| {
                        err(format!("{key}.match.{k}"), format!("invalid glob: {e}"))
                    })?;
                }
            }
            for (k, g) in &m.labels {
                glob::Pattern::new(g).map_err(|e| {
                    err(
                        format!("{key}.match.labels.{k}"),
                        format!("invalid glob: {e}"),
                    )
                })?;
            }
        }
        for (name, h) in &a.hooks {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(err(
                    format!("alerts.hooks.{name}"),
                    "hook names are letters, digits, - and _",
                ));
            }
            for (j, t) in h.targets.iter().enumerate() {
                if a.routes.iter().any(|r| &r.name == t) {
                    continue;
                }
                self.check_alert_target(format!("alerts.hooks.{name}.targets[{j}]"), t)?;
            }
        }
        Ok(())
    }

    /// Checks an alert target (`ROBOT`, `robot:NAME`, `aibot:CHATID`, `wecom_app:USER`, …).
    pub(super) fn check_alert_target(&self, key: String, t: &str) -> Result<(), ConfigError> {
        match t.split_once(':') {
            None | Some(("robot", _)) => {
                let name = t.strip_prefix("robot:").unwrap_or(t);
                if !self.wecom.robots.iter().any(|r| r.name == name) {
                    return Err(err(key, format!("no [[wecom.robots]] named {name:?}")));
                }
            }
            Some(("aibot" | "wecom_app" | "wechatbot" | "wechat_mp" | "weixin", rest))
                if !rest.is_empty() => {}
            Some(_) => {
                return Err(err(
                    key,
                    format!(
                        "{t:?} is not ROBOT, robot:NAME, aibot:CHATID, wecom_app:USER, wechatbot:ROOM, wechat_mp:OPENID or weixin:USER"
                    ),
                ));
            }
        }
        Ok(())
    }
}
