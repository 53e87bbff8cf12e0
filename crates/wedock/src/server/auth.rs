//! Who may use the web console and `/api/*`: a signed session, never a network address.
//!
//! Checks, in order, for `/` and every `/api/*` path:
//! 1. `Host` must be an allowed name (DNS rebinding), else 421.
//! 2. A state-changing request that sends `Origin` must come from the request's own origin
//!    or a configured `allowed_hosts` entry, else 403.
//! 3. `GET /?token=T` with a valid login token sets the session cookie and redirects (303).
//! 4. A session (cookie `wedock_session`, or `Authorization: Bearer` with a login token, a
//!    session or the console secret) is required, else 401 (the login page for `/`).
//! 5. State-changing `/api/*` requests must be `Content-Type: application/json`, else 415
//!    (this forces a CORS preflight on any cross-site attempt).
//!
//! Channel callbacks (`/wecom/*`, `/wechat/*`, `/gateway/*`, alert webhooks) are not checked
//! here: they are reached through public domains and carry their own signatures.

use super::ServerState;
use super::console_key::{ConsoleKey, Kind, now_secs};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use std::net::SocketAddr;

pub use crate::config::HostPattern;

pub const COOKIE: &str = "wedock_session";

/// The console's access policy: the signing key and the allowed host names.
#[derive(Debug, Clone)]
pub struct ConsoleAuth {
    pub key: ConsoleKey,
    /// Loopback names, plus the configured list or the listen address host.
    hosts: Vec<HostPattern>,
    /// Only the configured `allowed_hosts`: other origins a browser may POST from.
    configured: Vec<HostPattern>,
}

impl ConsoleAuth {
    pub fn new(
        key: ConsoleKey,
        listen: SocketAddr,
        allowed_hosts: Option<&[String]>,
    ) -> ConsoleAuth {
        let mut hosts: Vec<HostPattern> = ["localhost", "127.0.0.1", "[::1]"]
            .into_iter()
            .map(HostPattern::any_port)
            .collect();
        let configured: Vec<HostPattern> = allowed_hosts
            .unwrap_or_default()
            .iter()
            // `wedock check` refused invalid entries already.
            .filter_map(|h| HostPattern::parse(h).ok())
            .collect();
        if allowed_hosts.is_some() {
            hosts.extend(configured.iter().cloned());
        } else if !listen.ip().is_unspecified() {
            let h = match listen.ip() {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            };
            hosts.push(HostPattern::any_port(&h));
        }
        ConsoleAuth {
            key,
            hosts,
            configured,
        }
    }

    /// Whether the request carries a valid session cookie or bearer credential.
    pub fn authenticated(&self, headers: &HeaderMap) -> bool {
        let now = now_secs();
        if let Some(v) = bearer(headers) {
            return self.key.verify(v, now).is_ok() || self.key.is_secret(v);
        }
        cookies(headers, COOKIE).any(|v| self.key.verify(v, now).is_ok())
    }

    fn host_allowed(&self, host: Option<&HostPattern>) -> bool {
        host.is_some_and(|h| self.hosts.iter().any(|p| p.matches(h)))
    }

    /// `Origin` is the request's own (same host and port), or a configured allowed host.
    fn origin_allowed(&self, origin: &str, host: &HostPattern) -> bool {
        let Ok(url) = url::Url::parse(origin) else {
            return false;
        };
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(h) = url.host_str() else {
            return false;
        };
        let Ok(o) = HostPattern::parse(h) else {
            return false;
        };
        let o = HostPattern {
            host: o.host,
            port: url.port_or_known_default(),
        };
        let own = o.host == host.host && o.port == host.port.or(url.port_or_known_default());
        own || self.configured.iter().any(|p| p.matches(&o))
    }
}

/// The request's `Host` (or the HTTP/2 authority).
fn request_host(req: &Request) -> Option<HostPattern> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))?;
    HostPattern::parse(&raw).ok()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then_some(v.trim())
        })
}

/// Whether the browser reached us over https (directly behind a TLS-terminating proxy).
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

fn is_state_changing(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Logs and counts a refusal, and marks it so no outer layer counts it again.
fn refuse(reason: &'static str, status: StatusCode, path: &str, body: Response) -> Response {
    tracing::warn!(
        reason,
        status = status.as_u16(),
        path,
        "console request rejected"
    );
    metrics::counter!("wedock_rejected_total", "reason" => reason).increment(1);
    let mut res = (status, body).into_response();
    res.extensions_mut().insert(super::RejectionCounted);
    res
}

fn json_error(msg: &str) -> Response {
    axum::Json(serde_json::json!({ "error": msg })).into_response()
}

fn login_page() -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::WWW_AUTHENTICATE, "Bearer realm=\"wedock\""),
        ],
        Html(include_str!("login.html")),
    )
        .into_response()
}

/// The query string without its `token` parameter(s).
fn without_token(query: &str) -> String {
    query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some("token"))
        .collect::<Vec<_>>()
        .join("&")
}

fn token_param(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Marks a request that passed the console checks.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleSession;

/// The middleware in front of `/` and `/api/*`.
pub async fn guard(State(s): State<ServerState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let api = path == "/api" || path.starts_with("/api/");
    let page = path == "/";
    if !(api || page) {
        return next.run(req).await;
    }
    let auth = &s.auth;
    let host = request_host(&req);
    if !auth.host_allowed(host.as_ref()) {
        let msg = "this host name is not allowed: add it to [server] allowed_hosts";
        return refuse(
            "bad_host",
            StatusCode::MISDIRECTED_REQUEST,
            &path,
            json_error(msg),
        );
    }
    let host = host.expect("checked above");
    if is_state_changing(req.method())
        && let Some(origin) = req.headers().get(header::ORIGIN)
        && !origin.to_str().is_ok_and(|o| auth.origin_allowed(o, &host))
    {
        let msg = "cross-origin request refused";
        return refuse("bad_origin", StatusCode::FORBIDDEN, &path, json_error(msg));
    }
    if page
        && req.method() == Method::GET
        && let Some(token) = req.uri().query().and_then(token_param)
    {
        return match auth.key.verify(&token, now_secs()) {
            Ok(_) => start_session(auth, req.headers(), req.uri().query().unwrap_or("")),
            Err(e) => refuse(e.reason(), StatusCode::UNAUTHORIZED, &path, login_page()),
        };
    }
    if !auth.authenticated(req.headers()) {
        if page {
            // An ordinary first visit: not worth a warning.
            metrics::counter!("wedock_rejected_total", "reason" => "no_session").increment(1);
            return (StatusCode::UNAUTHORIZED, login_page()).into_response();
        }
        let msg = "login required: open the login URL from the server log or `wedock console-url`";
        return refuse(
            "no_session",
            StatusCode::UNAUTHORIZED,
            &path,
            json_error(msg),
        );
    }
    if api && is_state_changing(req.method()) && !is_json(req.headers()) {
        let msg = "Content-Type must be application/json";
        return refuse(
            "bad_content_type",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &path,
            json_error(msg),
        );
    }
    req.extensions_mut().insert(ConsoleSession);
    next.run(req).await
}

/// Sets the session cookie and sends the browser to `/` with the other query parameters.
fn start_session(auth: &ConsoleAuth, headers: &HeaderMap, query: &str) -> Response {
    let session = auth.key.mint(Kind::Session, now_secs());
    let mut cookie = format!(
        "{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        super::console_key::SESSION_TTL_SECS
    );
    if over_https(headers) {
        cookie.push_str("; Secure");
    }
    let rest = without_token(query);
    let location = if rest.is_empty() {
        "/".to_string()
    } else {
        format!("/?{rest}")
    };
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let (Ok(c), Ok(l)) = (
        HeaderValue::from_str(&cookie),
        HeaderValue::from_str(&location),
    ) {
        h.insert(header::SET_COOKIE, c);
        h.insert(header::LOCATION, l);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::info!("console login: session started");
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn p(s: &str) -> HostPattern {
        HostPattern::parse(s).unwrap()
    }

    #[test]
    fn host_patterns_parse_and_explain() {
        assert_eq!(
            p("Wedock.Example.com."),
            HostPattern::any_port("wedock.example.com")
        );
        assert_eq!(p("[::1]:8080").port, Some(8080));
        for bad in [
            "",
            "https://x.example",
            "x.example/path",
            "::1",
            "a b",
            "x:0",
            "x:99999",
            "[zz]",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_hosts_are_loopback_and_the_listen_address() {
        let key = ConsoleKey::new(Secret::new("s".repeat(32)));
        let a = ConsoleAuth::new(key.clone(), "10.0.0.5:8080".parse().unwrap(), None);
        for ok in ["localhost:1", "127.0.0.1:8080", "[::1]", "10.0.0.5:8080"] {
            assert!(a.host_allowed(Some(&p(ok))), "{ok}");
        }
        assert!(!a.host_allowed(Some(&p("attacker.example"))));
        assert!(!a.host_allowed(None));
        let hosts = vec!["wedock.example.com:443".to_string()];
        let a = ConsoleAuth::new(key, "0.0.0.0:8080".parse().unwrap(), Some(&hosts));
        assert!(a.host_allowed(Some(&p("wedock.example.com"))));
        assert!(!a.host_allowed(Some(&p("wedock.example.com:8443"))));
        assert!(!a.host_allowed(Some(&p("0.0.0.0:8080"))));
        // Same origin, or a configured host; another local port is another origin.
        let own = p("127.0.0.1:8080");
        assert!(a.origin_allowed("http://127.0.0.1:8080", &own));
        assert!(a.origin_allowed("https://wedock.example.com", &own));
        assert!(!a.origin_allowed("http://127.0.0.1:3000", &own));
        assert!(!a.origin_allowed("null", &own));
        assert!(!a.origin_allowed("http://attacker.example", &own));
    }

    #[test]
    fn the_redirect_keeps_every_parameter_but_the_token() {
        assert_eq!(without_token("token=abc&q=%2Fwhoami"), "q=%2Fwhoami");
        assert_eq!(without_token("q=1&token=x&token=y&b"), "q=1&b");
        assert_eq!(token_param("q=1&token=a%2Eb"), Some("a.b".into()));
    }
}
