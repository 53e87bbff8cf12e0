//! A pasted error in chat: when the message holds one of the catalogue's error strings, the
//! signature's answer comes first — what it means, in this case's words (the captured
//! address, port or command), and how to fix it — then the knowledge topic behind it.

use super::say::Say;
use super::signatures::Match;
use crate::i18n::Lang;
use crate::knowledge::doc::Topic;

/// The signature part of the answer (Markdown).
pub fn signature_answer(m: &Match<'_>, lang: Lang) -> String {
    let mut out = format!(
        "{}**{}**\n\n{}",
        Say::Recognised.get(lang),
        m.title(lang),
        m.cause(lang)
    );
    out.push_str("\n\n");
    out.push_str(&format!("**{}**", Say::FixSteps.get(lang)));
    for (i, step) in m.fix(lang).iter().enumerate() {
        out.push_str(&format!("\n{}. {step}", i + 1));
    }
    out
}

/// The whole answer: the signature, then the topic's own answer under a heading.
pub fn answer(m: &Match<'_>, topic: Option<&Topic>, lang: Lang) -> String {
    let mut out = signature_answer(m, lang);
    if let Some(t) = topic {
        out.push_str("\n\n");
        out.push_str(&format!("**{}**", Say::Background.get(lang)));
        out.push('\n');
        out.push_str(&crate::knowledge::format_answer(t, lang));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::signatures::catalog;

    fn id(text: &str) -> Option<String> {
        catalog().match_text(text).map(|m| m.signature.id.clone())
    }

    #[test]
    fn the_specific_cause_wins_over_the_words_it_contains() {
        // A webhook's message names a Service without endpoints: the webhook is the answer.
        let webhook = r#"Internal error occurred: failed calling webhook "validate.nginx.ingress.kubernetes.io": failed to call webhook: Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/x": no endpoints available for service "ingress-nginx-controller-admission""#;
        assert_eq!(id(webhook).as_deref(), Some("admission-webhook-failed"));
        // CRDs missing under Helm is Helm's answer; the same words from kubectl are not.
        let helm = r#"Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource mapping not found for name: "x" namespace: "" from "": no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1" ensure CRDs are installed first"#;
        assert_eq!(id(helm).as_deref(), Some("helm-crd-missing"));
        let kubectl = "error: resource mapping not found for name: \"web\" namespace: \"\" from \"ing.yaml\": no matches for kind \"Ingress\" in version \"extensions/v1beta1\"\nensure CRDs are installed first";
        assert_eq!(id(kubectl).as_deref(), Some("kubectl-unknown-resource"));
        // kubeadm prints Helm's timeout phrase for another cause: it must not get Helm's answer.
        let kubeadm = "[kubelet-check] Initial timeout of 40s passed.\nerror execution phase wait-control-plane: couldn't initialize a Kubernetes cluster\ntimed out waiting for the condition";
        assert_ne!(id(kubeadm).as_deref(), Some("helm-wait-timeout"));
        assert_eq!(
            id("Error: UPGRADE FAILED: timed out waiting for the condition").as_deref(),
            Some("helm-wait-timeout")
        );
        // kubeadm's runtime check is not a stopped container.
        assert_eq!(
            id("[ERROR CRI]: container runtime is not running: output: time=x").as_deref(),
            Some("kubeadm-cri-not-running")
        );
        assert_eq!(
            id("Error response from daemon: Container 3f9c2d1e8b7a is not running").as_deref(),
            Some("container-not-running")
        );
    }

    #[test]
    fn the_answer_quotes_what_the_paste_named() {
        let m = catalog()
            .match_text("error: container order not found in pod orders-7d9f8b6c4-x2k9p")
            .unwrap();
        assert_eq!(m.signature.id, "kubectl-container-not-found");
        let text = signature_answer(&m, Lang::En);
        assert!(
            text.contains("order") && text.contains("orders-7d9f8b6c4-x2k9p"),
            "{text}"
        );

        let m = catalog()
            .match_text(r#"ERROR: failed to solve: failed to compute cache key: failed to calculate checksum of ref moby::xk2j9: "/package.json": not found"#)
            .unwrap();
        assert_eq!(m.signature.id, "build-context-missing");
        assert_eq!(m.vars["path"], "/package.json");

        let m = catalog()
            .match_text(r#"#12 ERROR: process "/bin/sh -c npm ci" did not complete successfully: exit code: 127"#)
            .unwrap();
        assert_eq!(m.signature.id, "build-run-step-failed");
        let text = signature_answer(&m, Lang::Zh);
        assert!(text.contains("npm ci") && text.contains("127"), "{text}");

        let m = catalog()
            .match_text("Error: Database is uninitialized and superuser password is not specified. You must specify POSTGRES_PASSWORD to a non-empty value for the superuser.")
            .unwrap();
        assert_eq!(m.signature.id, "missing-setting");
        assert_eq!(m.vars["setting"], "POSTGRES_PASSWORD");
    }
}
