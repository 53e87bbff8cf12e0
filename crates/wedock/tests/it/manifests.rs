//! The Kubernetes manifests in deploy/kubernetes, checked offline: every document must
//! deserialize into its k8s-openapi type (which also rejects a wrong apiVersion/kind), and a
//! round trip through that type must keep every field, so a misspelt or misplaced key (which
//! the API server would drop or reject) fails here. Then the properties the deployment relies
//! on: probes on /healthz and /readyz, non-root, read-only root filesystem, resources, a
//! read-only default ClusterRole and a separate write role.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;

pub(crate) fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// Every YAML file under `dir`, sorted, with its path relative to `deploy/kubernetes`.
fn yaml_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("deploy/kubernetes exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

/// The YAML documents of one file.
pub(crate) fn parse_documents(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

/// Every YAML document of every manifest, as (file, JSON value); kustomize patches (partial
/// objects, checked where the variants are rendered) are left out.
fn documents() -> Vec<(String, Value)> {
    let mut files = Vec::new();
    yaml_files(&dir(), &mut files);
    let patches: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "kustomization.yaml"))
        .flat_map(|k| {
            let v = parse_documents(k).remove(0);
            let base = k.parent().unwrap().to_path_buf();
            v["patches"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["path"].as_str().map(|p| base.join(p)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| !patches.contains(f)) {
        let name = f
            .strip_prefix(dir())
            .unwrap_or(f)
            .to_string_lossy()
            .to_string();
        for v in parse_documents(f) {
            out.push((name.clone(), v));
        }
    }
    out
}

/// The config wedock would run with: `toml` from the ConfigMap, with stand-ins for the files
/// of the mounted Secret, and `env` from the Deployment.
pub(crate) fn load_config(
    toml: &str,
    env: Vec<(String, String)>,
) -> Result<wedock::config::Config, wedock::config::ConfigError> {
    let tmp = tempfile::tempdir().unwrap();
    let secrets = tmp.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("postgres_url"), "postgres://wedock@db/wedock").unwrap();
    let toml = toml.replace("/etc/wedock/secrets", &secrets.display().to_string());
    let p = tmp.path().join("wedock.toml");
    std::fs::write(&p, toml).unwrap();
    wedock::config::Config::load(Some(&p), env)
}

/// Paths present in `orig` but gone after the typed round trip: fields the type does not
/// know.
fn lost(orig: &Value, back: &Value, path: &str, out: &mut Vec<String>) {
    match (orig, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => lost(v, w, &p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, v) in a.iter().enumerate() {
                match b.get(i) {
                    Some(w) => lost(v, w, &format!("{path}[{i}]"), out),
                    None => out.push(format!("{path}[{i}]")),
                }
            }
        }
        _ => {}
    }
}

fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(file: &str, v: &Value) -> T {
    let t: T = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let back = serde_json::to_value(&t).unwrap();
    let mut unknown = Vec::new();
    lost(v, &back, "", &mut unknown);
    assert!(unknown.is_empty(), "{file}: unknown fields {unknown:?}");
    t
}

#[test]
fn the_unknown_field_check_catches_typos() {
    let v = serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPrt": "http"}]}});
    let t: Service = serde_json::from_value(v.clone()).unwrap();
    let mut unknown = Vec::new();
    lost(&v, &serde_json::to_value(&t).unwrap(), "", &mut unknown);
    assert_eq!(unknown, vec![".spec.ports[0].targetPrt"]);
}

#[test]
fn manifests_are_valid_kubernetes_objects() {
    let docs = documents();
    let mut kinds = Vec::new();
    let mut deployment = None;
    let mut roles = Vec::new();
    for (file, v) in &docs {
        let kind = v["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no kind"));
        kinds.push(kind.to_string());
        match kind {
            "Deployment" => deployment = Some(typed::<Deployment>(file, v)),
            "Service" => {
                typed::<Service>(file, v);
            }
            "ConfigMap" => {
                let cm = typed::<ConfigMap>(file, v);
                // The embedded config must be one wedock accepts.
                let toml = cm
                    .data
                    .as_ref()
                    .and_then(|d| d.get("wedock.toml"))
                    .unwrap_or_else(|| panic!("{file}: no wedock.toml key"));
                load_config(toml, Vec::new())
                    .unwrap_or_else(|e| panic!("{file}: wedock.toml: {e}"));
            }
            "Secret" => {
                typed::<Secret>(file, v);
            }
            "ServiceAccount" => {
                typed::<ServiceAccount>(file, v);
            }
            "Namespace" => {
                typed::<Namespace>(file, v);
            }
            "PodDisruptionBudget" => {
                typed::<PodDisruptionBudget>(file, v);
            }
            "ClusterRole" => roles.push((file.clone(), typed::<ClusterRole>(file, v))),
            "ClusterRoleBinding" => {
                typed::<ClusterRoleBinding>(file, v);
            }
            "Role" => {
                typed::<Role>(file, v);
            }
            "RoleBinding" => {
                typed::<RoleBinding>(file, v);
            }
            "Kustomization" => {
                let base = dir().join(file);
                let base = base.parent().unwrap();
                for r in v["resources"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap();
                    assert!(base.join(r).exists(), "{file}: resource {r} missing");
                }
            }
            other => panic!("{file}: unexpected kind {other}"),
        }
    }
    for want in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "ClusterRole",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.iter().any(|k| k == want), "no {want} manifest");
    }

    let d = deployment.expect("a Deployment");
    let spec = d.spec.as_ref().unwrap();
    assert!(
        spec.replicas.unwrap_or(1) > 1,
        "high availability needs replicas > 1"
    );
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("wedock"));
    let psc = pod.security_context.as_ref();
    for c in &pod.containers {
        let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
            p.as_ref()
                .and_then(|p| p.http_get.as_ref())
                .and_then(|h| h.path.clone())
        };
        assert_eq!(
            path(&c.liveness_probe).as_deref(),
            Some("/healthz"),
            "{}",
            c.name
        );
        assert_eq!(
            path(&c.readiness_probe).as_deref(),
            Some("/readyz"),
            "{}",
            c.name
        );
        let sc = c
            .security_context
            .as_ref()
            .expect("container securityContext");
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        let non_root = sc
            .run_as_non_root
            .or(psc.and_then(|p| p.run_as_non_root))
            .unwrap_or(false);
        assert!(non_root, "{} must run as non-root", c.name);
        let r = c.resources.as_ref().expect("resources");
        let req = r.requests.as_ref().expect("requests");
        assert!(
            req.contains_key("cpu") && req.contains_key("memory"),
            "{req:?}"
        );
        assert!(r.limits.as_ref().is_some_and(|l| l.contains_key("memory")));
    }

    // Read-only by default, writes only in the opt-in role.
    let write_verbs = [
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "impersonate",
    ];
    let (_, read) = roles
        .iter()
        .find(|(f, _)| f.contains("readonly"))
        .expect("read role");
    for rule in read.rules.iter().flatten() {
        for v in &rule.verbs {
            assert!(
                !write_verbs.contains(&v.as_str()),
                "read-only role grants {v}"
            );
        }
    }
    let (_, write) = roles
        .iter()
        .find(|(f, _)| f.contains("write"))
        .expect("write role");
    assert!(write.rules.iter().flatten().any(|r| {
        r.resources
            .iter()
            .flatten()
            .any(|x| x == "deployments/scale")
    }));
}

/// The hardened compose file keeps its promises: wedock never mounts the Docker socket, reaches
/// the engine only through a proxy that refuses writes on an internal network, and runs with
/// no capabilities, no privilege escalation and a read-only root filesystem.
#[test]
fn hardened_compose_is_read_only_and_unprivileged() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/compose.hardened.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/compose.hardened.yaml");
    let v: Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let svc = |name: &str| v["services"][name].clone();
    let wedock = svc("wedock");
    let proxy = svc("docker-proxy");

    let mounts: Vec<String> = wedock["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_string))
        .collect();
    assert!(
        !mounts.iter().any(|m| m.contains("docker.sock")),
        "wedock must not mount the socket: {mounts:?}"
    );
    assert_eq!(wedock["read_only"], Value::Bool(true));
    assert_eq!(wedock["cap_drop"], serde_json::json!(["ALL"]));
    assert!(
        wedock["security_opt"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| o.as_str() == Some("no-new-privileges:true"))
    );
    assert!(wedock["tmpfs"].as_array().is_some_and(|t| !t.is_empty()));
    assert_eq!(
        wedock["environment"]["DOCKER_HOST"].as_str(),
        Some("tcp://docker-proxy:2375")
    );
    assert_eq!(
        wedock["environment"]["WEDOCK_DOCKER__READ_ONLY"].as_str(),
        Some("true")
    );
    let ports: Vec<&str> = wedock["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        ports.iter().all(|p| p.starts_with("127.0.0.1:")),
        "publish on loopback only: {ports:?}"
    );

    // The proxy refuses writes and its socket mount is read-only.
    assert_eq!(proxy["environment"]["POST"], Value::from(0));
    assert!(proxy["volumes"].as_array().into_iter().flatten().any(|m| {
        m.as_str()
            .is_some_and(|m| m.contains("docker.sock") && m.ends_with(":ro"))
    }));
    assert_eq!(v["networks"]["docker-api"]["internal"], Value::Bool(true));
}
