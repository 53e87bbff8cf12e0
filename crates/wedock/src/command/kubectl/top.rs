//! `/k top pods|nodes`: CPU and memory from the Metrics API.

use super::*;

/// metrics.k8s.io/v1beta1 PodMetrics; not in k8s-openapi, so described here by hand.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// metrics.k8s.io/v1beta1 NodeMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeMetrics {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

macro_rules! metrics_resource {
    ($t:ty, $kind:literal, $scope:ty) => {
        impl kube::Resource for $t {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                "metrics.k8s.io".into()
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                "v1beta1".into()
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                if $kind == "PodMetrics" {
                    "pods"
                } else {
                    "nodes"
                }
                .into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
metrics_resource!(
    PodMetrics,
    "PodMetrics",
    k8s_openapi::NamespaceResourceScope
);
metrics_resource!(
    NodeMetrics,
    "NodeMetrics",
    k8s_openapi::ClusterResourceScope
);

/// CPU quantity in millicores: `250m`, `2`, `487558164n`, `1500u`.
pub fn cpu_millis(q: &str) -> Option<f64> {
    let q = q.trim();
    let (num, scale) = if let Some(n) = q.strip_suffix('n') {
        (n, 1e-6)
    } else if let Some(n) = q.strip_suffix('u') {
        (n, 1e-3)
    } else if let Some(n) = q.strip_suffix('m') {
        (n, 1.0)
    } else {
        (q, 1000.0)
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Memory quantity in bytes: `732212Ki`, `1Gi`, `128M`, `1e3`, `123`.
pub fn mem_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (s, f) in SUFFIXES {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|v| v * f);
        }
    }
    q.parse::<f64>().ok()
}

pub(super) fn metrics_absent(e: &CallError) -> bool {
    // No APIService: a plain-text 404 (no Status reason); registered but down: a plain-text
    // 503 from the aggregator. A JSON NotFound is a real answer about one object.
    match e {
        CallError::Api { code: 503, .. } => true,
        CallError::Api {
            code: 404, reason, ..
        } => reason != "NotFound",
        _ => false,
    }
}

/// The metrics of one kind, or the reply when the Metrics API is missing or refuses.
async fn list_usage<T>(k: &K<'_, '_>, api: Api<T>) -> Result<Vec<T>, Outcome>
where
    T: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match call(k, api.list(&ListParams::default())).await {
        Ok(l) => Ok(l.items),
        Err(e) if metrics_absent(&e) => {
            metrics::counter!("wedock_kube_errors_total", "kind" => "metrics_unavailable")
                .increment(1);
            tracing::info!(context = %k.cluster.context, "metrics API not available: {e:?}");
            Err(error(
                k.ctx,
                t!(
                    k.ctx.lang,
                    "kubectl.no_metrics_api",
                    context = k.cluster.context
                ),
            ))
        }
        Err(e) => Err(error(k.ctx, call_error_text(k, &e))),
    }
}

/// The CPU (millicores) and memory columns of a usage row.
fn usage_cols(cpu: f64, mem: f64) -> [String; 2] {
    [format!("{cpu:.0}m"), render::human_bytes(mem as u64)]
}

pub(super) async fn top(k: &K<'_, '_>, a: TopArgs) -> Outcome {
    let ctx = k.ctx;
    let lang = ctx.lang;
    let nodes = matches!(a.what, TopWhat::Nodes | TopWhat::Node | TopWhat::No);
    let (header, mut rows): (Vec<&str>, Vec<(f64, Vec<String>)>) = if nodes {
        let api: Api<NodeMetrics> = Api::all(k.cluster.client.clone());
        let items = match list_usage(k, api).await {
            Ok(l) => l,
            Err(o) => return o,
        };
        let rows = items
            .iter()
            .map(|n| {
                let cpu = n
                    .usage
                    .get("cpu")
                    .and_then(|q| cpu_millis(q))
                    .unwrap_or(0.0);
                let mem = n
                    .usage
                    .get("memory")
                    .and_then(|q| mem_bytes(q))
                    .unwrap_or(0.0);
                let mut row = vec![name_of(&n.metadata).to_string()];
                row.extend(usage_cols(cpu, mem));
                (cpu, row)
            })
            .collect();
        (vec!["NAME", "CPU", "MEMORY"], rows)
    } else {
        let api: Api<PodMetrics> = api_ns(k, a.all_namespaces);
        let items = match list_usage(k, api).await {
            Ok(l) => l,
            Err(o) => return o,
        };
        let rows = items
            .iter()
            .map(|p| {
                let cpu: f64 = p
                    .containers
                    .iter()
                    .filter_map(|c| c.usage.get("cpu").and_then(|q| cpu_millis(q)))
                    .sum();
                let mem: f64 = p
                    .containers
                    .iter()
                    .filter_map(|c| c.usage.get("memory").and_then(|q| mem_bytes(q)))
                    .sum();
                let mut row = ns_col(a.all_namespaces, &p.metadata);
                row.push(name_of(&p.metadata).to_string());
                row.extend(usage_cols(cpu, mem));
                (cpu, row)
            })
            .collect();
        (with_ns(a.all_namespaces, &["NAME", "CPU", "MEMORY"]), rows)
    };
    if !nodes && a.all_namespaces {
        rows.retain(|(_, r)| r.first().is_some_and(|ns| k.visible_ns(ns)));
    }
    // Busiest first, like `kubectl top --sort-by=cpu`.
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    let head = format!(
        "📊 {} · {}",
        k.cluster.context,
        if nodes {
            "nodes".to_string()
        } else {
            format!("ns/{}", k.ns)
        }
    );
    if rows.is_empty() {
        return reply(ctx, format!("{head}\n{}", t!(lang, "kubectl.no_data")));
    }
    reply(ctx, fit(lang, &head, &table::render(&header, &rows)))
}
