//! kubectl's words for an object's state (a pod's STATUS, a Deployment's rollout sentence),
//! shared by `/k get`, `/k rollout status` and `/diagnose`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

/// kubectl's STATUS for a pod: a container's waiting/terminated reason beats the phase.
pub fn pod_status(p: &Pod) -> String {
    if p.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let st = p.status.as_ref();
    let statuses = st
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let init = st
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    for (i, c) in init.iter().enumerate() {
        let state = c.state.as_ref();
        if let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            return format!(
                "Init:{}",
                t.reason.clone().unwrap_or_else(|| "Error".into())
            );
        }
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            return match w.reason.as_deref() {
                Some(r) if r != "PodInitializing" => format!("Init:{r}"),
                _ => format!("Init:{i}/{}", init.len()),
            };
        }
    }
    for c in statuses {
        let state = c.state.as_ref();
        if let Some(r) = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
        {
            return r;
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return t
                .reason
                .clone()
                .unwrap_or_else(|| format!("ExitCode:{}", t.exit_code));
        }
    }
    if let Some(r) = st.and_then(|s| s.reason.clone()) {
        return r;
    }
    st.and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into())
}

/// kubectl's rollout status sentence for a Deployment, and whether it is done.
pub fn deployment_rollout(d: &Deployment) -> (bool, String) {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    if st.observed_generation.unwrap_or(0) < generation {
        return (
            false,
            "Waiting for deployment spec update to be observed...".into(),
        );
    }
    if let Some(c) = st
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return (
            false,
            format!("deployment \"{name}\" exceeded its progress deadline"),
        );
    }
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < want {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {want} new replicas have been updated..."
            ),
        );
    }
    if replicas > updated {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
                replicas - updated
            ),
        );
    }
    if available < updated {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
            ),
        );
    }
    (
        true,
        format!("deployment \"{name}\" successfully rolled out"),
    )
}
