//! `/k get` rows: one [`GetRow`] per kind (header and cells), and [`table`], the one shape
//! that lists a kind, filters it to the sender's namespaces and builds the table rows.

use super::*;
use serde::de::DeserializeOwned;

/// A kind as a `/k get` table: its columns and one object's cells (after NAMESPACE).
pub(super) trait GetRow:
    kube::Resource + Clone + DeserializeOwned + std::fmt::Debug
{
    const HEADER: &'static [&'static str];
    fn cells(&self, now: i64) -> Vec<String>;
    /// The order of the rows (the API's, unless a kind says otherwise).
    fn sort(_items: &mut [Self]) {}
}

/// Lists `api`, keeps the objects of namespaces the sender may read when listing every
/// namespace (`all`) or namespaces themselves (`names_are_namespaces`), and builds the rows.
pub(super) async fn table<T: GetRow>(
    k: &K<'_, '_>,
    api: Api<T>,
    lp: &ListParams,
    all: bool,
    names_are_namespaces: bool,
) -> Result<(Vec<&'static str>, Vec<Vec<String>>), Outcome> {
    let list = match call(k, api.list(lp)).await {
        Ok(l) => l,
        Err(e) => return Err(error(k.ctx, call_error_text(k, &e))),
    };
    let now = now();
    let mut items = list.items;
    items.retain(|o| {
        let m = o.meta();
        (!all || k.visible_ns(ns_of(m))) && (!names_are_namespaces || k.visible_ns(name_of(m)))
    });
    T::sort(&mut items);
    let rows = items
        .iter()
        .map(|o| {
            let mut row = ns_col(all, o.meta());
            row.extend(o.cells(now));
            row
        })
        .collect();
    Ok((with_ns(all, T::HEADER), rows))
}

fn created(m: &ObjectMeta, now: i64) -> String {
    age(m.creation_timestamp.as_ref(), now)
}

impl GetRow for Deployment {
    const HEADER: &'static [&'static str] = &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let st = self.status.as_ref();
        let ready = st.and_then(|s| s.ready_replicas).unwrap_or(0);
        let upd = st.and_then(|s| s.updated_replicas).unwrap_or(0);
        let avail = st.and_then(|s| s.available_replicas).unwrap_or(0);
        vec![
            format!("{} {}", marker(ready >= want), name_of(&self.metadata)),
            format!("{ready}/{want}"),
            upd.to_string(),
            avail.to_string(),
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for StatefulSet {
    const HEADER: &'static [&'static str] = &["NAME", "READY", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let want = self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = self
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        vec![
            format!("{} {}", marker(ready >= want), name_of(&self.metadata)),
            format!("{ready}/{want}"),
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for DaemonSet {
    const HEADER: &'static [&'static str] = &["NAME", "DESIRED", "READY", "AVAILABLE", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let st = self.status.as_ref();
        let want = st.map_or(0, |s| s.desired_number_scheduled);
        let ready = st.map_or(0, |s| s.number_ready);
        let avail = st.and_then(|s| s.number_available).unwrap_or(0);
        vec![
            format!("{} {}", marker(ready >= want), name_of(&self.metadata)),
            want.to_string(),
            ready.to_string(),
            avail.to_string(),
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for Service {
    const HEADER: &'static [&'static str] = &["NAME", "TYPE", "CLUSTER-IP", "PORTS", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let spec = self.spec.as_ref();
        let ports = spec
            .and_then(|s| s.ports.as_ref())
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        let proto = p.protocol.as_deref().unwrap_or("TCP");
                        match p.node_port {
                            Some(np) => format!("{}:{np}/{proto}", p.port),
                            None => format!("{}/{proto}", p.port),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        vec![
            name_of(&self.metadata).to_string(),
            spec.and_then(|s| s.type_.clone())
                .unwrap_or_else(|| "ClusterIP".into()),
            spec.and_then(|s| s.cluster_ip.clone())
                .unwrap_or_else(|| "<none>".into()),
            if ports.is_empty() {
                "<none>".into()
            } else {
                ports
            },
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for Node {
    const HEADER: &'static [&'static str] = &["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
    fn cells(&self, now: i64) -> Vec<String> {
        let (ok, status) = node_status(self);
        let version = self
            .status
            .as_ref()
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_default();
        vec![
            name_of(&self.metadata).to_string(),
            format!("{} {status}", marker(ok)),
            node_roles(self),
            created(&self.metadata, now),
            version,
        ]
    }
}

impl GetRow for Namespace {
    const HEADER: &'static [&'static str] = &["NAME", "STATUS", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        vec![
            name_of(&self.metadata).to_string(),
            self.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for Event {
    const HEADER: &'static [&'static str] = &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let obj = &self.involved_object;
        vec![
            event_time(self)
                .map(|t| {
                    age(
                        Some(&Time(
                            k8s_openapi::jiff::Timestamp::from_second(t).unwrap_or_default(),
                        )),
                        now,
                    )
                })
                .unwrap_or_default(),
            self.type_.clone().unwrap_or_default(),
            self.reason.clone().unwrap_or_default(),
            format!(
                "{}/{}",
                obj.kind.as_deref().unwrap_or("").to_ascii_lowercase(),
                obj.name.as_deref().unwrap_or("")
            ),
            render::truncate_to_width(self.message.as_deref().unwrap_or("").trim(), 80),
        ]
    }
    /// Newest first.
    fn sort(items: &mut [Self]) {
        items.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    }
}

impl GetRow for Ingress {
    const HEADER: &'static [&'static str] = &["NAME", "CLASS", "HOSTS", "ADDRESS", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let spec = self.spec.as_ref();
        let hosts = spec
            .and_then(|s| s.rules.as_ref())
            .map(|r| {
                r.iter()
                    .filter_map(|r| r.host.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "*".into());
        let addr = self
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.ip.clone().or(x.hostname.clone()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        vec![
            name_of(&self.metadata).to_string(),
            spec.and_then(|s| s.ingress_class_name.clone())
                .unwrap_or_else(|| "<none>".into()),
            hosts,
            addr,
            created(&self.metadata, now),
        ]
    }
}

impl GetRow for Job {
    const HEADER: &'static [&'static str] = &["NAME", "STATUS", "COMPLETIONS", "AGE"];
    fn cells(&self, now: i64) -> Vec<String> {
        let want = self.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
        let done = self.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        let status = job_status(self);
        vec![
            name_of(&self.metadata).to_string(),
            format!("{} {status}", if status == "Failed" { "🔴" } else { "🟢" }),
            format!("{done}/{want}"),
            created(&self.metadata, now),
        ]
    }
}
