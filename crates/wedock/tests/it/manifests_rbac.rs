//! The three ways to deploy (deploy/kubernetes: the read-only default, write/, namespaced/)
//! rendered as kustomize renders them, then the config inside each ConfigMap (with the
//! Deployment's environment overrides) is checked against the RBAC bound to wedock's
//! ServiceAccount, both ways: what the config turns on is granted, what is granted is turned
//! on, and nothing is granted that the code does not use.

use super::manifests::{dir, load_config, parse_documents};
use serde_json::Value;
use std::path::Path;

/// What the code reaches, as (API group, resource, verbs). Reads: `/k get|describe|logs|top|
/// events|rollout history` (src/command/kubectl) and the alert watchers (src/alert/kube.rs).
const READS: &[(&str, &str, &[&str])] = &[
    ("", "pods", &["get", "list", "watch"]),
    ("", "pods/log", &["get", "list", "watch"]),
    ("", "services", &["get", "list", "watch"]),
    ("", "nodes", &["get", "list", "watch"]),
    ("", "namespaces", &["get", "list", "watch"]),
    ("", "events", &["get", "list", "watch"]),
    ("apps", "deployments", &["get", "list", "watch"]),
    ("apps", "statefulsets", &["get", "list", "watch"]),
    ("apps", "daemonsets", &["get", "list", "watch"]),
    ("apps", "replicasets", &["get", "list", "watch"]),
    ("batch", "jobs", &["get", "list", "watch"]),
    ("networking.k8s.io", "ingresses", &["get", "list", "watch"]),
    ("metrics.k8s.io", "pods", &["get", "list"]),
    ("metrics.k8s.io", "nodes", &["get", "list"]),
];

/// Writes: rollout restart/undo (patch), scale (patch on /scale), delete pod, drain
/// (evictions), cordon/uncordon (patch node).
const WRITES: &[(&str, &str, &[&str])] = &[
    ("apps", "deployments", &["patch"]),
    ("apps", "statefulsets", &["patch"]),
    ("apps", "daemonsets", &["patch"]),
    ("apps", "deployments/scale", &["patch"]),
    ("apps", "statefulsets/scale", &["patch"]),
    ("", "pods", &["delete"]),
    ("", "pods/eviction", &["create"]),
    ("", "nodes", &["patch"]),
];

/// What the cluster alert watchers list and watch in every namespace.
const WATCHED: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "nodes"),
    ("apps", "deployments"),
    ("batch", "jobs"),
];

const CLUSTER_SCOPED: &[&str] = &["Namespace", "ClusterRole", "ClusterRoleBinding"];

fn same_object(a: &Value, b: &Value) -> bool {
    a["kind"] == b["kind"] && a["metadata"]["name"] == b["metadata"]["name"]
}

/// Renders a kustomization the way `kubectl kustomize` does, for the features the manifests
/// use: resources (files, and directories with their own kustomization), `namespace`, and
/// patches that delete an object or add environment variables to the Deployment's
/// containers. Anything else fails, so a new kind of patch cannot slip by unchecked.
fn render(k: &Path) -> Vec<Value> {
    let kust = parse_documents(&k.join("kustomization.yaml")).remove(0);
    let mut objects = Vec::new();
    for r in kust["resources"].as_array().into_iter().flatten() {
        let p = k.join(r.as_str().expect("resource path"));
        if p.is_dir() {
            objects.extend(render(&p));
        } else {
            objects.extend(parse_documents(&p));
        }
    }
    for patch in kust["patches"].as_array().into_iter().flatten() {
        let path = k.join(patch["path"].as_str().expect("patch path"));
        for p in parse_documents(&path) {
            if p["$patch"] == "delete" {
                let before = objects.len();
                objects.retain(|o| !same_object(o, &p));
                assert_eq!(
                    objects.len() + 1,
                    before,
                    "{}: nothing to delete",
                    path.display()
                );
                continue;
            }
            assert_eq!(
                p["kind"],
                "Deployment",
                "{}: unsupported patch",
                path.display()
            );
            let target = objects
                .iter_mut()
                .find(|o| same_object(o, &p))
                .unwrap_or_else(|| panic!("{}: no such Deployment", path.display()));
            for pc in p["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let containers = target["spec"]["template"]["spec"]["containers"]
                    .as_array_mut()
                    .unwrap();
                let c = containers
                    .iter_mut()
                    .find(|c| c["name"] == pc["name"])
                    .expect("patched container exists");
                let added: Vec<Value> = pc["env"].as_array().cloned().unwrap_or_default();
                let kept: Vec<Value> = c["env"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| !added.iter().any(|m| m["name"] == e["name"]))
                    .collect();
                c["env"] = Value::Array(added.into_iter().chain(kept).collect());
            }
        }
    }
    if let Some(ns) = kust["namespace"].as_str() {
        for o in &mut objects {
            let kind = o["kind"].as_str().unwrap_or("").to_string();
            if !CLUSTER_SCOPED.contains(&kind.as_str()) {
                o["metadata"]["namespace"] = Value::from(ns);
            }
            if kind.ends_with("RoleBinding") {
                for s in o["subjects"].as_array_mut().into_iter().flatten() {
                    if s["kind"] == "ServiceAccount" {
                        s["namespace"] = Value::from(ns);
                    }
                }
            }
        }
    }
    objects
}

/// One grant: (group, resource, verb), and whether it holds in every namespace.
#[derive(Debug, Clone, PartialEq)]
struct Grant {
    group: String,
    resource: String,
    verb: String,
    cluster_wide: bool,
}

/// The grants bound to ServiceAccount `ns/name`.
fn grants(objects: &[Value], ns: &str, name: &str) -> Vec<Grant> {
    let mut out = Vec::new();
    for b in objects
        .iter()
        .filter(|o| o["kind"] == "RoleBinding" || o["kind"] == "ClusterRoleBinding")
    {
        let bound =
            b["subjects"].as_array().into_iter().flatten().any(|s| {
                s["kind"] == "ServiceAccount" && s["name"] == name && s["namespace"] == ns
            });
        if !bound {
            continue;
        }
        let role = objects
            .iter()
            .find(|o| {
                o["kind"] == b["roleRef"]["kind"] && o["metadata"]["name"] == b["roleRef"]["name"]
            })
            .unwrap_or_else(|| panic!("binding {} names a missing role", b["metadata"]["name"]));
        let cluster_wide = b["kind"] == "ClusterRoleBinding";
        if b["kind"] == "RoleBinding" {
            assert_eq!(
                b["metadata"]["namespace"], ns,
                "the Role is bound where wedock runs"
            );
        }
        for rule in role["rules"].as_array().into_iter().flatten() {
            let list = |k: &str| -> Vec<String> {
                rule[k]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            };
            for g in list("apiGroups") {
                for r in list("resources") {
                    for v in list("verbs") {
                        out.push(Grant {
                            group: g.clone(),
                            resource: r.clone(),
                            verb: v,
                            cluster_wide,
                        });
                    }
                }
            }
        }
    }
    out
}

fn granted(g: &[Grant], group: &str, resource: &str, verb: &str, cluster_wide: bool) -> bool {
    g.iter().any(|x| {
        x.group == group
            && x.resource == resource
            && x.verb == verb
            && (x.cluster_wide || !cluster_wide)
    })
}

fn in_table(table: &[(&str, &str, &[&str])], g: &Grant) -> bool {
    table.iter().any(|(group, res, verbs)| {
        *group == g.group && *res == g.resource && verbs.contains(&g.verb.as_str())
    })
}

/// The effective config of a rendered variant, and wedock's namespace.
fn config(objects: &[Value], variant: &str) -> (wedock::config::Config, String) {
    let d = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .expect("a Deployment");
    let ns = d["metadata"]["namespace"].as_str().unwrap().to_string();
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "wedock");
    let env: Vec<(String, String)> = pod["containers"][0]["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_string(),
                e["value"].as_str()?.to_string(),
            ))
        })
        .collect();
    let cm_name = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|v| v["configMap"]["name"].as_str())
        .expect("the config volume");
    let cm = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == cm_name)
        .expect("the ConfigMap");
    let toml = cm["data"]["wedock.toml"].as_str().expect("wedock.toml");
    let cfg = load_config(toml, env).unwrap_or_else(|e| panic!("{variant}: {e}"));
    (cfg, ns)
}

#[test]
fn each_variant_turns_on_what_its_rbac_grants_and_no_more() {
    let mut seen = Vec::new();
    for variant in ["", "write", "namespaced"] {
        let objects = render(&dir().join(variant));
        let (cfg, ns) = config(&objects, variant);
        let g = grants(&objects, &ns, "wedock");
        let name = if variant.is_empty() {
            "default"
        } else {
            variant
        };

        // Nothing granted that the code does not use.
        for x in &g {
            assert!(
                in_table(READS, x) || in_table(WRITES, x),
                "{name}: grants {x:?}, which no code uses"
            );
        }
        // Chat commands on this cluster ⇔ reading pods where wedock runs.
        let kube_on = cfg.kubernetes.enabled && cfg.kubernetes.in_cluster;
        assert_eq!(
            kube_on,
            granted(&g, "", "pods", "get", false),
            "{name}: [kubernetes] vs RBAC"
        );
        assert!(
            kube_on,
            "{name}: the manifests are for running in a cluster"
        );
        // Cluster alerts ⇔ list and watch of what the watchers read, in every namespace.
        let alerts_on = kube_on && cfg.alerts.kubernetes.enabled;
        let mut watched: Vec<(&str, &str)> = WATCHED.to_vec();
        if !cfg.alerts.kubernetes.event_reasons.is_empty() {
            watched.push(("", "events"));
        }
        let can_watch = watched.iter().all(|(grp, res)| {
            granted(&g, grp, res, "list", true) && granted(&g, grp, res, "watch", true)
        });
        assert_eq!(alerts_on, can_watch, "{name}: [alerts.kubernetes] vs RBAC");
        // Write commands ⇔ every write verb they use; read-only ⇔ none at all.
        let writes_on = kube_on && !cfg.kubernetes.read_only;
        let any_write = g.iter().any(|x| in_table(WRITES, x) && !in_table(READS, x));
        let all_writes = WRITES.iter().all(|(grp, res, verbs)| {
            verbs
                .iter()
                .all(|v| granted(&g, grp, res, v, *res == "nodes"))
        });
        assert_eq!(writes_on, any_write, "{name}: kubernetes.read_only vs RBAC");
        if writes_on {
            assert!(
                all_writes,
                "{name}: a write command would be refused by RBAC"
            );
        }
        seen.push((name, alerts_on, writes_on));
    }
    // The three variants are what they say they are.
    assert_eq!(
        seen,
        vec![
            ("default", true, false),
            ("write", true, true),
            ("namespaced", false, false)
        ]
    );
}
