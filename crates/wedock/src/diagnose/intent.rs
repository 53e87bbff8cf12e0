//! A question in plain words that asks for a diagnosis: "api 为什么一直重启", "诊断一下 api",
//! "why is api crashing". It becomes `/diagnose NAME` only when the text has a failure word
//! AND names an existing container (default Docker host) or pod / deployment (default
//! context and namespace) the sender may read; anything else goes to the knowledge base as
//! before. Short messages only: a pasted log is a question about its error, not a target.

use crate::app::App;
use crate::scope::{Access, Scopes};
use std::time::Duration;

/// Longest message considered (bytes): longer ones are pasted output.
const MAX_TEXT: usize = 160;
/// How long the name look-up may take before the message goes to the knowledge base.
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(800);

/// Words that ask why something is broken.
const FAILURE_WORDS: &[&str] = &[
    "为什么",
    "为啥",
    "怎么又",
    "怎么了",
    "挂了",
    "挂掉",
    "崩",
    "重启",
    "起不来",
    "启动不了",
    "启动失败",
    "诊断",
    "报错",
    "出错",
    "异常",
    "不健康",
    "退出",
    "死了",
    "失败",
    "不正常",
    "why",
    "crash",
    "down",
    "failing",
    "failed",
    "broken",
    "restarting",
    "restarts",
    "diagnose",
    "unhealthy",
    "dead",
    "died",
    "exiting",
    "not starting",
    "won't start",
    "keeps dying",
    "what's wrong",
    "what is wrong",
];

pub fn has_failure_word(text: &str) -> bool {
    let low = text.to_lowercase();
    FAILURE_WORDS.iter().any(|w| {
        if w.is_ascii() {
            // Whole words for English ("down" in "download" is not a failure word).
            low.match_indices(w).any(|(i, _)| {
                let before = low[..i].chars().next_back();
                let after = low[i + w.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric())
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric())
            })
        } else {
            low.contains(w)
        }
    })
}

/// Name-like words: ASCII runs of letters, digits, `-`, `_`, `.` (Chinese text separates).
fn candidates(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|w| w.trim_matches('.'))
        .filter(|w| w.len() >= 2 && w.len() <= 128)
        .collect()
}

/// The `/diagnose` words for the message, when it asks about a named target.
pub async fn route(app: &App, text: &str, scopes: &Scopes) -> Option<Vec<String>> {
    let text = text.trim();
    if text.len() > MAX_TEXT || !has_failure_word(text) {
        return None;
    }
    let words = candidates(text);
    if words.is_empty() {
        return None;
    }
    let docker = async {
        if !app.config.docker.enabled {
            return None;
        }
        let eng = app.docker.get(None).await.ok()?;
        let all = eng
            .client
            .list_containers(Some(
                bollard::query_parameters::ListContainersOptionsBuilder::default()
                    .all(true)
                    .build(),
            ))
            .await
            .ok()?;
        words.iter().find_map(|w| {
            all.iter()
                .map(crate::ops::docker::summary_name)
                .find(|n| n.as_str() == *w && scopes.container(&eng.name, n, Access::Read))
        })
    };
    let kube = async {
        if !app.kube.enabled() {
            return None;
        }
        let cluster = app.kube.get(None, None).await.ok()?;
        if !scopes.namespace(&cluster.context, &cluster.namespace, Access::Read) {
            return None;
        }
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
            kube::Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let deploys: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(cluster.client.clone(), &cluster.namespace);
        for w in &words {
            if crate::ops::kube::validate_name(w).is_err() {
                continue;
            }
            if let Ok(Some(_)) = deploys.get_opt(w).await {
                return Some(format!("deploy/{w}"));
            }
            if let Ok(Some(_)) = pods.get_opt(w).await {
                return Some(format!("pod/{w}"));
            }
        }
        None
    };
    let docker = tokio::time::timeout(LOOKUP_TIMEOUT, docker);
    let kube = tokio::time::timeout(LOOKUP_TIMEOUT, kube);
    let (d, k) = tokio::join!(docker, kube);
    let target = d.ok().flatten().or(k.ok().flatten())?;
    Some(vec!["diagnose".to_string(), target])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_words_in_both_languages() {
        assert!(has_failure_word("api 为什么一直重启"));
        assert!(has_failure_word("诊断一下 api"));
        assert!(has_failure_word("why is api crashing"));
        assert!(has_failure_word("Why is API down?"));
        assert!(!has_failure_word("how do I download an image"));
        assert!(!has_failure_word("什么是 Pod"));
    }

    #[test]
    fn candidate_words_are_name_like() {
        assert_eq!(candidates("api 为什么一直重启"), vec!["api"]);
        assert_eq!(candidates("诊断一下web-1吧"), vec!["web-1"]);
        assert_eq!(
            candidates("why is my-api.v2 crashing?"),
            vec!["why", "is", "my-api.v2", "crashing"]
        );
    }
}
