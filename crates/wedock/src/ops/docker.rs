//! Docker engines: connection (local socket, `DOCKER_HOST`, TCP with TLS), API version
//! negotiation, and detection at start-up.

use crate::config::{DockerConfig, DockerHostConfig};
use bollard::Docker;

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
    .map_err(|e| format!("{}: {e}", host.endpoint))?;
    let client = client
        .negotiate_version()
        .await
        .map_err(|e| describe_error(&host.endpoint, &e))?;
    client
        .ping()
        .await
        .map_err(|e| describe_error(&host.endpoint, &e))?;
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
        || s.contains("Connection refused")
        || s.contains("os error 2")
    {
        format!("no Docker engine at {endpoint}")
    } else {
        format!("{endpoint}: {s}")
    }
}
