//! The syntax of `server.allowed_hosts`: parsed here, with the rest of the settings, so the
//! config checks need nothing from the server that enforces them (`server/auth.rs`).

/// One allowed host: a lowercase name or IP (IPv6 in brackets), with an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
}

impl HostPattern {
    /// Parses `name`, `name:port`, `1.2.3.4`, `[::1]:8080`. The error says what is wrong.
    pub fn parse(s: &str) -> Result<HostPattern, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.contains("://") || s.contains('/') {
            return Err(format!(
                "{s:?} is not a host name (write the name only, e.g. \"wedock.example.com\")"
            ));
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((ip, after)) = rest.split_once(']') else {
                return Err(format!("{s:?}: missing ']' after the IPv6 address"));
            };
            if ip.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{s:?}: {ip:?} is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or(format!("{s:?}: expected :port after ']'"))?,
                ),
            };
            (format!("[{}]", ip.to_ascii_lowercase()), port)
        } else {
            match s.split_once(':') {
                Some((_, p)) if p.contains(':') => {
                    return Err(format!(
                        "{s:?}: write IPv6 addresses in brackets, e.g. \"[::1]\""
                    ));
                }
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (s.to_ascii_lowercase(), None),
            }
        };
        let host = host.strip_suffix('.').unwrap_or(&host).to_string();
        if !host.starts_with('[')
            && (host.is_empty()
                || host.len() > 253
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
        {
            return Err(format!(
                "{s:?} is not a host name (letters, digits, '-' and '.' only)"
            ));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("{s:?}: {p:?} is not a port (1-65535)")),
            },
        };
        Ok(HostPattern { host, port })
    }

    /// Whether a request for `host` (already parsed) matches: same name, and the same port
    /// when this pattern names one (a missing port means 80 or 443).
    pub(crate) fn matches(&self, other: &HostPattern) -> bool {
        self.host == other.host
            && match (self.port, other.port) {
                (None, _) => true,
                (Some(p), Some(q)) => p == q,
                (Some(p), None) => p == 80 || p == 443,
            }
    }

    pub(crate) fn any_port(host: &str) -> HostPattern {
        HostPattern {
            host: host.to_string(),
            port: None,
        }
    }
}
