//! Docker engines: connection (local socket, `DOCKER_HOST`, TCP with TLS), API version
//! negotiation, and detection at start-up.

use crate::config::{DockerConfig, DockerHostConfig};
use bollard::Docker;
use bollard::models::ContainerSummary;
use std::collections::HashMap;

/// One configured engine.
#[derive(Clone)]
pub struct Engine {
    pub name: String,
    pub client: Docker,
}

/// Connects to one host entry and negotiates the API version with the engine, so both old
/// engines and Engine 29 (which refuses API < 1.44) work.
pub async fn connect(host: &DockerHostConfig) -> Result<Engine, String> {
    let timeout = 30;
    let client = if host.endpoint == "env" {
        Docker::connect_with_defaults()
    } else if let Some(path) = host.endpoint.strip_prefix("unix://") {
        Docker::connect_with_socket(path, timeout, bollard::API_DEFAULT_VERSION)
    } else if let (Some(ca), Some(cert), Some(key)) = (&host.tls_ca, &host.tls_cert, &host.tls_key)
    {
        let addr = host.endpoint.replacen("tcp://", "https://", 1);
        Docker::connect_with_ssl(&addr, key, cert, ca, timeout, bollard::API_DEFAULT_VERSION)
    } else {
        let addr = host.endpoint.replacen("tcp://", "http://", 1);
        Docker::connect_with_http(&addr, timeout, bollard::API_DEFAULT_VERSION)
    }
    .map_err(|e| describe_error(&host.endpoint, &e))?;
    let client = client
        .negotiate_version()
        .await
        .map_err(|e| describe_error(&host.endpoint, &e))?;
    client
        .ping()
        .await
        .map_err(|e| describe_error(&host.endpoint, &e))?;
    let v = client.client_version();
    if (v.major_version as u64, v.minor_version as u64) < MIN_API {
        return Err(format!(
            "{}: engine too old (API {}.{}; wedock needs {}.{} or newer)",
            host.endpoint, v.major_version, v.minor_version, MIN_API.0, MIN_API.1
        ));
    }
    Ok(Engine {
        name: host.name.clone(),
        client,
    })
}

/// The hosts to use: the configured list, or the local engine as `local`.
pub fn hosts(cfg: &DockerConfig) -> Vec<DockerHostConfig> {
    if !cfg.hosts.is_empty() {
        return cfg.hosts.clone();
    }
    vec![DockerHostConfig {
        name: "local".into(),
        endpoint: "env".into(),
        tls_ca: None,
        tls_cert: None,
        tls_key: None,
    }]
}

/// A short, human explanation of a connection error.
pub fn describe_error(endpoint: &str, e: &bollard::errors::Error) -> String {
    let s = e.to_string();
    if s.contains("Permission denied") || s.contains("permission denied") {
        format!(
            "permission denied on {endpoint} (add the user to the docker group or mount the socket)"
        )
    } else if s.contains("No such file")
        || s.contains("Socket not found")
        || s.contains("Connection refused")
        || s.contains("os error 2")
    {
        format!("no Docker engine at {endpoint}")
    } else {
        format!("{endpoint}: {s}")
    }
}

/// Why an engine could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// `docker.enabled = false`.
    Disabled,
    /// `--host NAME` / `@NAME` names no configured host.
    UnknownHost { name: String, known: Vec<String> },
    /// Connecting or negotiating failed: the reason, already made human.
    Unreachable { host: String, reason: String },
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Disabled => {
                f.write_str("Docker support is disabled (docker.enabled = false)")
            }
            EngineError::UnknownHost { name, known } => {
                write!(
                    f,
                    "no Docker host named {name} (configured: {})",
                    known.join(", ")
                )
            }
            EngineError::Unreachable { host, reason } => write!(f, "{host}: {reason}"),
        }
    }
}

/// The configured engines by name, connected lazily on first use and cached. A missing engine
/// never stops wedock: commands get an [`EngineError`] to explain instead.
pub struct Engines {
    enabled: bool,
    hosts: Vec<DockerHostConfig>,
    cache: tokio::sync::Mutex<HashMap<String, Engine>>,
}

impl Engines {
    /// No I/O: engines are contacted when a command first needs them.
    pub fn new(cfg: &DockerConfig) -> Self {
        Self {
            enabled: cfg.enabled,
            hosts: hosts(cfg),
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Host names in configuration order; the first is the default.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// The default host's name.
    pub fn default_name(&self) -> &str {
        self.hosts.first().map_or("local", |h| h.name.as_str())
    }

    /// The engine called `name` (the default one when `None`), connecting if needed.
    pub async fn get(&self, name: Option<&str>) -> Result<Engine, EngineError> {
        if !self.enabled {
            return Err(EngineError::Disabled);
        }
        let name = name.unwrap_or_else(|| self.default_name());
        let Some(host) = self.hosts.iter().find(|h| h.name == name) else {
            return Err(EngineError::UnknownHost {
                name: name.to_string(),
                known: self.names(),
            });
        };
        let mut cache = self.cache.lock().await;
        if let Some(e) = cache.get(name) {
            return Ok(e.clone());
        }
        match connect(host).await {
            Ok(e) => {
                cache.insert(name.to_string(), e.clone());
                Ok(e)
            }
            Err(reason) => {
                metrics::counter!("wedock_docker_errors_total", "kind" => "unreachable")
                    .increment(1);
                Err(EngineError::Unreachable {
                    host: name.to_string(),
                    reason,
                })
            }
        }
    }

    /// Forgets a cached connection (after a transport error) so the next use reconnects.
    pub async fn forget(&self, name: &str) {
        self.cache.lock().await.remove(name);
    }
}

/// What went wrong with one engine call, in terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    NotFound(String),
    /// The engine refused: wrong state (409), bad request (400) and the like.
    Refused(String),
    /// The engine speaks an API version we cannot use.
    Version(String),
    /// The engine could not be reached (socket gone, permission, timeout).
    Transport(String),
}

impl CallError {
    pub fn from_bollard(host: &str, e: &bollard::errors::Error) -> Self {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code,
                message,
            } => {
                let lower = message.to_ascii_lowercase();
                if lower.contains("is too new") || lower.contains("is too old") {
                    CallError::Version(message.clone())
                } else if *status_code == 404 {
                    CallError::NotFound(message.clone())
                } else {
                    CallError::Refused(message.clone())
                }
            }
            E::APIVersionParseError {} => {
                CallError::Version("the engine reported an unreadable API version".into())
            }
            other => CallError::Transport(describe_error(host, other)),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            CallError::NotFound(m)
            | CallError::Refused(m)
            | CallError::Version(m)
            | CallError::Transport(m) => m,
        }
    }
}

/// The lowest engine API version wedock's commands are written against (Docker 1.13, 2017).
pub const MIN_API: (u64, u64) = (1, 25);

// ---- names -------------------------------------------------------------------------------

/// Longest container reference accepted from chat.
pub const MAX_NAME_LEN: usize = 128;

/// Checks a container name / id / prefix typed in chat: Docker's name alphabet only, so no
/// control characters, spaces or shell syntax ever reach the engine.
pub fn validate_ref(s: &str) -> Result<&str, String> {
    let s = s.strip_prefix('/').unwrap_or(s);
    if s.is_empty() {
        return Err("empty name".into());
    }
    if s.len() > MAX_NAME_LEN {
        return Err(format!("name longer than {MAX_NAME_LEN} bytes"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "character {c:?} is not allowed in a container name"
        ));
    }
    Ok(s)
}

/// A container's primary name without the leading slash.
pub fn summary_name(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_else(|| short_id(c.id.as_deref().unwrap_or("")))
}

pub fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

/// The list view of an inspected container: id, name, image, labels, creation time, and a
/// state and status line like `docker ps` gives ("Up (unhealthy)", "Exited (3)").
pub fn summary_from_inspect(
    d: &bollard::models::ContainerInspectResponse,
) -> Option<ContainerSummary> {
    let id = d.id.clone()?;
    let name = d.name.clone()?;
    let st = d.state.clone().unwrap_or_default();
    let state = st.status.map(|s| s.to_string()).unwrap_or_default();
    let health = st
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map(|s| s.to_string());
    let status = match (state.as_str(), health.as_deref()) {
        ("running", Some("unhealthy")) => "Up (unhealthy)".to_string(),
        ("running", Some("starting")) => "Up (health: starting)".to_string(),
        ("running", _) => "Up".to_string(),
        ("exited", _) => format!("Exited ({})", st.exit_code.unwrap_or(0)),
        (other, _) => other.to_string(),
    };
    Some(ContainerSummary {
        id: Some(id),
        names: Some(vec![name]),
        image: d.config.as_ref().and_then(|c| c.image.clone()),
        image_id: d.image.clone(),
        created: d.created.as_deref().and_then(parse_time),
        labels: d.config.as_ref().and_then(|c| c.labels.clone()),
        state: state.parse().ok(),
        status: Some(status),
        ..Default::default()
    })
}

/// How a chat reference matched the containers of an engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    One(Box<ContainerSummary>),
    /// Several containers share the prefix: their names.
    Ambiguous(Vec<String>),
    /// Nothing matched: close names, best first.
    NotFound(Vec<String>),
}

/// Exact name, then full or prefix id, then a unique name prefix.
pub fn resolve_in(query: &str, all: &[ContainerSummary]) -> Resolved {
    let exact: Vec<&ContainerSummary> = all.iter().filter(|c| summary_name(c) == query).collect();
    if let [one] = exact.as_slice() {
        return Resolved::One(Box::new((*one).clone()));
    }
    let is_hex = query.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex {
        let by_id: Vec<&ContainerSummary> = all
            .iter()
            .filter(|c| c.id.as_deref().is_some_and(|id| id.starts_with(query)))
            .collect();
        match by_id.as_slice() {
            [one] => return Resolved::One(Box::new((*one).clone())),
            [] => {}
            many => return Resolved::Ambiguous(many.iter().map(|c| summary_name(c)).collect()),
        }
    }
    let by_prefix: Vec<&ContainerSummary> = all
        .iter()
        .filter(|c| summary_name(c).starts_with(query))
        .collect();
    match by_prefix.as_slice() {
        [one] => Resolved::One(Box::new((*one).clone())),
        [] => {
            let mut scored: Vec<(usize, String)> = all
                .iter()
                .map(|c| {
                    let n = summary_name(c);
                    let d = if n.contains(query) {
                        1
                    } else {
                        edit_distance(query, &n)
                    };
                    (d, n)
                })
                .filter(|(d, n)| *d <= (query.chars().count().max(n.chars().count()) / 3).max(2))
                .collect();
            scored.sort();
            Resolved::NotFound(scored.into_iter().take(3).map(|(_, n)| n).collect())
        }
        many => {
            let mut names: Vec<String> = many.iter().map(|c| summary_name(c)).collect();
            names.sort();
            Resolved::Ambiguous(names)
        }
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

// ---- compose -----------------------------------------------------------------------------

pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";
pub const COMPOSE_DEPENDS_ON: &str = "com.docker.compose.depends_on";

pub fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

/// The containers of a compose project in start order: services after the services they
/// depend on (`com.docker.compose.depends_on`, "db:service_started:false,cache:…"), and by
/// creation time where no dependency decides. Stop in the reverse of this order.
pub fn compose_start_order(mut containers: Vec<ContainerSummary>) -> Vec<ContainerSummary> {
    containers.sort_by_key(|c| (c.created.unwrap_or(0), summary_name(c)));
    let service = |c: &ContainerSummary| {
        label(c, COMPOSE_SERVICE)
            .map(str::to_string)
            .unwrap_or_else(|| summary_name(c))
    };
    let services: Vec<String> = containers.iter().map(service).collect();
    let deps: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            label(c, COMPOSE_DEPENDS_ON)
                .unwrap_or("")
                .split(',')
                .filter_map(|d| d.split(':').next())
                .map(str::trim)
                .filter(|d| !d.is_empty() && services.iter().any(|s| s == d))
                .map(str::to_string)
                .collect()
        })
        .collect();
    let mut placed: Vec<bool> = vec![false; containers.len()];
    let mut order: Vec<usize> = Vec::with_capacity(containers.len());
    let mut started: std::collections::HashSet<String> = std::collections::HashSet::new();
    while order.len() < containers.len() {
        // Every service whose dependencies are all up; on a cycle take the oldest left.
        let ready: Vec<usize> = (0..containers.len())
            .filter(|&i| !placed[i] && deps[i].iter().all(|d| started.contains(d)))
            .collect();
        let batch = if ready.is_empty() {
            (0..containers.len())
                .filter(|&i| !placed[i])
                .take(1)
                .collect()
        } else {
            ready
        };
        for i in &batch {
            placed[*i] = true;
            order.push(*i);
        }
        for i in batch {
            started.insert(services[i].clone());
        }
    }
    let mut slots: Vec<Option<ContainerSummary>> = containers.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

// ---- stats -------------------------------------------------------------------------------

/// One-shot resource use of a container, as `docker stats --no-stream` shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatsView {
    pub cpu_percent: f64,
    pub mem_used: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
}

impl StatsView {
    pub fn from_stats(s: &bollard::models::ContainerStatsResponse) -> Self {
        let mut v = StatsView::default();
        if let (Some(cpu), Some(pre)) = (&s.cpu_stats, &s.precpu_stats) {
            let total = |c: &bollard::models::ContainerCpuStats| {
                c.cpu_usage
                    .as_ref()
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0)
            };
            let cpu_delta = total(cpu).saturating_sub(total(pre)) as f64;
            let sys_delta =
                cpu.system_cpu_usage
                    .unwrap_or(0)
                    .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
            let cpus = cpu.online_cpus.map(f64::from).unwrap_or_else(|| {
                cpu.cpu_usage
                    .as_ref()
                    .and_then(|u| u.percpu_usage.as_ref())
                    .map_or(1.0, |p| p.len().max(1) as f64)
            });
            if sys_delta > 0.0 && cpu_delta > 0.0 {
                v.cpu_percent = cpu_delta / sys_delta * cpus * 100.0;
            }
        }
        if let Some(m) = &s.memory_stats {
            let usage = m.usage.unwrap_or(0);
            // Like the docker CLI: page cache is not "used" (cgroup v1 `cache`, v2 `inactive_file`).
            let cache = m
                .stats
                .as_ref()
                .and_then(|st| {
                    st.get("inactive_file")
                        .or_else(|| st.get("total_inactive_file"))
                        .or_else(|| st.get("cache"))
                })
                .copied()
                .unwrap_or(0);
            v.mem_used = usage.saturating_sub(cache);
            v.mem_limit = m.limit.unwrap_or(0);
        }
        for n in s.networks.iter().flat_map(|n| n.values()) {
            v.net_rx += n.rx_bytes.unwrap_or(0);
            v.net_tx += n.tx_bytes.unwrap_or(0);
        }
        let entries = s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref());
        for e in entries.into_iter().flatten() {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => v.block_read += e.value.unwrap_or(0),
                Some("write") => v.block_write += e.value.unwrap_or(0),
                _ => {}
            }
        }
        v
    }
}

/// Seconds since the Unix epoch of an RFC 3339 engine timestamp; `None` for Docker's zero
/// time ("0001-01-01T00:00:00Z") or anything unreadable.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()?
        .timestamp();
    (t > 0).then_some(t)
}

/// How long a log read may stream before what came so far is returned (with "…").
const LOG_STREAM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Which lines `fetch_logs` asks for, as `docker logs --since/--until/--timestamps` would.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWindow {
    /// Only lines newer than this many seconds ago.
    pub since_secs: Option<i64>,
    /// Only lines older than this many seconds ago.
    pub until_secs: Option<i64>,
    pub timestamps: bool,
}

/// The last `tail` lines of a container's stdout and stderr, interleaved as written.
pub async fn fetch_logs(
    eng: &Engine,
    id: &str,
    tail: usize,
    window: LogWindow,
) -> Result<String, bollard::errors::Error> {
    let mut b = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .timestamps(window.timestamps)
        .tail(&tail.to_string());
    if let Some(s) = window.since_secs {
        b = b.since(i32::try_from(chrono::Utc::now().timestamp() - s).unwrap_or(0));
    }
    if let Some(s) = window.until_secs {
        b = b.until(i32::try_from(chrono::Utc::now().timestamp() - s).unwrap_or(0));
    }
    let mut stream = eng.client.logs(id, Some(b.build()));
    let mut out = String::new();
    let collect = async {
        while let Some(item) = futures::StreamExt::next(&mut stream).await {
            let chunk = item?;
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok::<(), bollard::errors::Error>(())
    };
    match tokio::time::timeout(LOG_STREAM_TIMEOUT, collect).await {
        Ok(r) => r?,
        Err(_) => out.push_str("\n…"),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, id: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some(id.into()),
            names: Some(vec![format!("/{name}")]),
            ..Default::default()
        }
    }

    #[test]
    fn resolves_exact_id_prefix_and_unique_prefix() {
        let all = vec![
            c("api", "abc123"),
            c("api-worker", "abd456"),
            c("db", "fff000"),
        ];
        assert!(matches!(resolve_in("api", &all), Resolved::One(x) if summary_name(&x) == "api"));
        assert!(matches!(resolve_in("fff", &all), Resolved::One(x) if summary_name(&x) == "db"));
        assert!(matches!(resolve_in("api-w", &all), Resolved::One(_)));
        assert_eq!(
            resolve_in("ab", &all),
            Resolved::Ambiguous(vec!["api".into(), "api-worker".into()])
        );
        assert_eq!(
            resolve_in("dc", &all),
            Resolved::NotFound(vec!["db".into()])
        );
        assert_eq!(resolve_in("zzzzzzzz", &all), Resolved::NotFound(vec![]));
    }

    #[test]
    fn rejects_bad_refs() {
        assert!(validate_ref("api_1.x-y").is_ok());
        assert!(validate_ref("/api").is_ok());
        assert!(validate_ref("a b").is_err());
        assert!(validate_ref("a;rm").is_err());
        assert!(validate_ref("a\u{7}").is_err());
        assert!(validate_ref(&"a".repeat(200)).is_err());
        assert!(validate_ref("").is_err());
    }

    #[test]
    fn compose_order_follows_depends_on() {
        let mk = |svc: &str, created: i64, deps: &str| {
            let mut x = c(&format!("p-{svc}-1"), svc);
            x.created = Some(created);
            let mut l = HashMap::new();
            l.insert(COMPOSE_SERVICE.to_string(), svc.to_string());
            if !deps.is_empty() {
                l.insert(COMPOSE_DEPENDS_ON.to_string(), deps.to_string());
            }
            x.labels = Some(l);
            x
        };
        // Created in the "wrong" order: web first, db last.
        let order = compose_start_order(vec![
            mk("web", 1, "api:service_started:false"),
            mk(
                "api",
                2,
                "db:service_healthy:false,cache:service_started:true",
            ),
            mk("cache", 3, ""),
            mk("db", 4, ""),
        ]);
        let names: Vec<String> = order.iter().map(summary_name).collect();
        assert_eq!(names, ["p-cache-1", "p-db-1", "p-api-1", "p-web-1"]);
        // Without labels: creation order.
        let mut a = c("a", "1");
        a.created = Some(5);
        let mut b = c("b", "2");
        b.created = Some(3);
        let names: Vec<String> = compose_start_order(vec![a, b])
            .iter()
            .map(summary_name)
            .collect();
        assert_eq!(names, ["b", "a"]);
    }

    #[test]
    fn engine_errors_are_told_apart() {
        use bollard::errors::Error as E;
        let denied = E::IOError {
            err: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied"),
        };
        let d = describe_error("unix:///var/run/docker.sock", &denied);
        assert!(d.starts_with("permission denied on unix://"), "{d}");
        let missing = E::SocketNotFoundError("/nope.sock".into());
        assert!(describe_error("unix:///nope.sock", &missing).starts_with("no Docker engine at"));
        let too_new = E::DockerResponseServerError {
            status_code: 400,
            message: "client version 1.53 is too new. Maximum supported API version is 1.41".into(),
        };
        assert!(matches!(
            CallError::from_bollard("h", &too_new),
            CallError::Version(_)
        ));
        let too_old = E::DockerResponseServerError {
            status_code: 400,
            message: "client version 1.24 is too old. Minimum supported API version is 1.44".into(),
        };
        assert!(matches!(
            CallError::from_bollard("h", &too_old),
            CallError::Version(_)
        ));
        let gone = E::DockerResponseServerError {
            status_code: 404,
            message: "No such container: x".into(),
        };
        assert_eq!(
            CallError::from_bollard("h", &gone),
            CallError::NotFound("No such container: x".into())
        );
        assert!(matches!(
            CallError::from_bollard("h", &denied),
            CallError::Transport(m) if m.contains("permission denied")
        ));
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("ngnix", "nginx"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("数据库", "数据"), 1);
    }
}
