//! Optional LLM help for `/diagnose`. With `[llm]` set, the model adds a short explanation
//! written from the (redacted) diagnosis. With `[llm] tools = true` it may first look for
//! itself through read-only tools, in OpenAI-compatible function calling:
//!
//! - only reads are offered (`docker inspect/logs/events`, `kubectl get/describe/logs` and
//!   events); each call is turned into the chat command it stands for and run through the
//!   command runtime as the asker — the asker's role, scopes, `read_only` — so the model
//!   can never see more than the person who asked;
//! - every call is written to the audit log (`llm tool: /docker logs api` → ok / refused);
//! - the loop is bounded: at most [`MAX_TOOL_CALLS`] calls, and the whole exchange within
//!   `[llm] timeout_ms`; past either, the diagnosis stands alone.
//!
//! Anything that goes wrong (timeout, HTTP error, malformed reply) costs the explanation,
//! never the diagnosis.

use crate::command::runtime::{self, check_role};
use crate::command::{ChatCommand, Ctx, Outcome};
use crate::config::LlmConfig;
use crate::i18n::Lang;
use crate::message::ReplyKind;
use crate::scope::Access;
use crate::store::AuditEntry;
use serde_json::{Value, json};
use std::time::Duration;

/// Most tool calls one diagnosis may make.
pub const MAX_TOOL_CALLS: usize = 6;
/// Longest tool result handed to the model, in characters.
const MAX_TOOL_CHARS: usize = 6000;
/// Longest explanation kept, in characters.
const MAX_EXPLANATION_CHARS: usize = 1500;

/// `out` with the model's explanation appended, when `[llm]` is set and the model answers
/// in time; `out` unchanged otherwise (and always for refusals and errors).
pub async fn with_explanation(out: Outcome, target: &str, ctx: &Ctx<'_>) -> Outcome {
    let Some(cfg) = ctx.app.config.llm.as_ref() else {
        return out;
    };
    let Outcome::Reply(mut reply) = out else {
        return out;
    };
    if reply.kind == ReplyKind::Error {
        return Outcome::Reply(reply);
    }
    let started = std::time::Instant::now();
    let deadline = Duration::from_millis(cfg.timeout_ms.max(1));
    let result = tokio::time::timeout(deadline, explain(cfg, target, &reply.reply, ctx)).await;
    let outcome = match result {
        Ok(Ok(text)) => {
            reply.reply = format!(
                "{}\n\n{}\n{text}",
                reply.reply.trim_end(),
                t!(ctx.lang, "diagnose_llm.head")
            );
            "ok"
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "diagnose: LLM explanation failed; the diagnosis stands alone");
            "error"
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = cfg.timeout_ms,
                "diagnose: LLM explanation timed out; the diagnosis stands alone"
            );
            "timeout"
        }
    };
    metrics::counter!("wedock_diagnose_llm_total", "result" => outcome).increment(1);
    metrics::histogram!("wedock_diagnose_llm_seconds").record(started.elapsed().as_secs_f64());
    Outcome::Reply(reply)
}

/// The exchange: the diagnosis in, tool calls answered while allowed, the explanation out.
async fn explain(
    cfg: &LlmConfig,
    target: &str,
    diagnosis: &str,
    ctx: &Ctx<'_>,
) -> Result<String, String> {
    let redactor = &ctx.app.redactor;
    let mut messages = vec![
        json!({"role": "system", "content": system_prompt(cfg.tools, ctx.lang)}),
        json!({"role": "user", "content": format!(
            "Target: {target}\n\nDiagnosis:\n{}",
            redactor.redact(diagnosis)
        )}),
    ];
    let mut calls = 0usize;
    // Each round either answers or asks for tools; the bound holds even for a model that
    // asks for zero tools in a tool-call message.
    for _ in 0..=MAX_TOOL_CALLS + 1 {
        let offer_tools = cfg.tools && calls < MAX_TOOL_CALLS;
        let answer = complete(cfg, &messages, offer_tools).await?;
        let message = answer
            .pointer("/choices/0/message")
            .cloned()
            .ok_or("no choices[0].message")?;
        let tool_calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if tool_calls.is_empty() {
            let text = message
                .get("content")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or("empty content")?;
            return Ok(text.chars().take(MAX_EXPLANATION_CHARS).collect());
        }
        messages.push(message);
        for call in tool_calls {
            let id = call.get("id").and_then(Value::as_str).unwrap_or("call");
            let result = if !cfg.tools {
                "tools are not enabled".to_string()
            } else if calls >= MAX_TOOL_CALLS {
                format!("refused: at most {MAX_TOOL_CALLS} tool calls per diagnosis")
            } else {
                calls += 1;
                let name = call.pointer("/function/name").and_then(Value::as_str);
                let args = call
                    .pointer("/function/arguments")
                    .and_then(Value::as_str)
                    .and_then(|a| serde_json::from_str::<Value>(a).ok())
                    .unwrap_or(Value::Null);
                run_tool(ctx, name.unwrap_or(""), &args).await
            };
            let result: String = redactor
                .redact(&result)
                .chars()
                .take(MAX_TOOL_CHARS)
                .collect();
            messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
        }
    }
    Err("the model kept asking for tools".into())
}

fn system_prompt(tools: bool, lang: Lang) -> String {
    let language = lang.pick("Simplified Chinese", "English"); // not catalog: an LLM prompt
    let mut p = format!(
        "You are wedock, an assistant for a team that runs Docker and Kubernetes, answering in \
         a chat group. Explain the diagnosis below in at most five short sentences in \
         {language}: what most likely broke and what to try first. Use only the evidence you \
         are given"
    );
    if tools {
        p.push_str(
            " and what the read-only tools return; call a tool only when the evidence is not \
             enough. Tools cannot change anything",
        );
    }
    p.push_str(". Never claim to have changed anything.");
    p
}

/// One non-streamed chat completion.
async fn complete(cfg: &LlmConfig, messages: &[Value], tools: bool) -> Result<Value, String> {
    let url = format!(
        "{}/chat/completions",
        cfg.base_url.as_str().trim_end_matches('/')
    );
    let mut body = json!({
        "model": cfg.model,
        "max_tokens": cfg.max_tokens,
        "temperature": 0.2,
        "messages": messages,
    });
    if tools {
        body["tools"] = tool_specs();
        body["tool_choice"] = json!("auto");
    }
    let mut req = crate::knowledge::llm::client().post(url).json(&body);
    if let Some(key) = &cfg.api_key {
        req = req.bearer_auth(key.expose());
    }
    let resp = req.send().await.map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("endpoint answered HTTP {}", status.as_u16()));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("malformed response: {e}"))
}

/// The read-only tools, as OpenAI function definitions.
pub fn tool_specs() -> Value {
    let f = |name: &str, desc: &str, props: Value, required: &[&str]| {
        json!({"type": "function", "function": {
            "name": name,
            "description": desc,
            "parameters": {"type": "object", "properties": props, "required": required},
        }})
    };
    let s = |d: &str| json!({"type": "string", "description": d});
    let host = s("Docker host name (default: the default host)");
    let ns = s("Namespace (default: the context's)");
    let ctx = s("Kubernetes context (default: the current one)");
    json!([
        f(
            "docker_inspect",
            "State, config and mounts of a container.",
            json!({"container": s("Container name or id"), "host": host}),
            &["container"]
        ),
        f(
            "docker_logs",
            "The last log lines of a container.",
            json!({"container": s("Container name or id"), "host": host,
                 "tail": {"type": "integer", "description": "Lines (at most 200)"}}),
            &["container"]
        ),
        f(
            "docker_events",
            "Recent engine events (die, oom, kill, health_status).",
            json!({"host": host, "since": s("How far back, e.g. 10m, 1h")}),
            &[]
        ),
        f(
            "kubectl_get",
            "List or get Kubernetes objects.",
            json!({"kind": {"type": "string", "enum": GET_KINDS}, "name": s("Object name"),
                 "namespace": ns, "context": ctx}),
            &["kind"]
        ),
        f(
            "kubectl_describe",
            "Describe one Kubernetes object with its events.",
            json!({"kind": {"type": "string", "enum": DESCRIBE_KINDS}, "name": s("Object name"),
                 "namespace": ns, "context": ctx}),
            &["kind", "name"]
        ),
        f(
            "kubectl_logs",
            "The log of a pod's container.",
            json!({"pod": s("Pod name"), "container": s("Container name"),
                 "previous": {"type": "boolean", "description": "The previous (crashed) container's log"},
                 "namespace": ns, "context": ctx}),
            &["pod"]
        ),
        f(
            "kubectl_events",
            "Recent events of a namespace.",
            json!({"namespace": ns, "context": ctx}),
            &[]
        ),
    ])
}

const GET_KINDS: &[&str] = &["pods", "deployments", "nodes", "services", "events"];
const DESCRIBE_KINDS: &[&str] = &["pod", "deployment", "node", "service"];

/// A name the model may pass: one word of the characters names are made of, not a flag.
fn word(args: &Value, key: &str) -> Result<Option<String>, String> {
    let Some(v) = args.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let s = v
        .as_str()
        .ok_or_else(|| format!("{key} must be a string"))?;
    let ok = !s.is_empty()
        && s.len() <= 253
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-:/".contains(c));
    if ok {
        Ok(Some(s.to_string()))
    } else {
        Err(format!("{key} {s:?} is not a name"))
    }
}

fn required(args: &Value, key: &str) -> Result<String, String> {
    word(args, key)?.ok_or_else(|| format!("{key} is required"))
}

/// The chat command words a tool call stands for.
pub fn command_words(name: &str, args: &Value) -> Result<Vec<String>, String> {
    let mut w: Vec<String> = Vec::new();
    let push_opt = |w: &mut Vec<String>, flag: &str, v: Option<String>| {
        if let Some(v) = v {
            w.push(flag.into());
            w.push(v);
        }
    };
    match name {
        "docker_inspect" | "docker_logs" => {
            let container = required(args, "container")?;
            let verb = if name == "docker_inspect" {
                "inspect"
            } else {
                "logs"
            };
            w.extend(["docker".into(), verb.into(), container]);
            if name == "docker_logs" {
                let tail = args
                    .get("tail")
                    .and_then(Value::as_u64)
                    .unwrap_or(50)
                    .clamp(1, 200);
                w.extend(["--tail".into(), tail.to_string()]);
            }
            push_opt(&mut w, "--host", word(args, "host")?);
        }
        "docker_events" => {
            w.extend(["docker".into(), "events".into()]);
            push_opt(&mut w, "--since", word(args, "since")?);
            push_opt(&mut w, "--host", word(args, "host")?);
        }
        "kubectl_get" | "kubectl_describe" => {
            let kind = required(args, "kind")?;
            let kinds = if name == "kubectl_get" {
                GET_KINDS
            } else {
                DESCRIBE_KINDS
            };
            if !kinds.contains(&kind.as_str()) {
                return Err(format!("kind {kind:?} is not one of {}", kinds.join(", ")));
            }
            let verb = if name == "kubectl_get" {
                "get"
            } else {
                "describe"
            };
            w.extend(["kubectl".into(), verb.into(), kind]);
            match (name, word(args, "name")?) {
                (_, Some(n)) => w.push(n),
                ("kubectl_describe", None) => return Err("name is required".into()),
                _ => {}
            }
            push_opt(&mut w, "-n", word(args, "namespace")?);
            push_opt(&mut w, "--context", word(args, "context")?);
        }
        "kubectl_logs" => {
            w.extend(["kubectl".into(), "logs".into(), required(args, "pod")?]);
            push_opt(&mut w, "-c", word(args, "container")?);
            if args.get("previous").and_then(Value::as_bool) == Some(true) {
                w.push("--previous".into());
            }
            push_opt(&mut w, "-n", word(args, "namespace")?);
            push_opt(&mut w, "--context", word(args, "context")?);
        }
        "kubectl_events" => {
            w.extend(["kubectl".into(), "get".into(), "events".into()]);
            push_opt(&mut w, "-n", word(args, "namespace")?);
            push_opt(&mut w, "--context", word(args, "context")?);
        }
        other => return Err(format!("no tool named {other:?}")),
    }
    Ok(w)
}

/// Runs one tool call as the asker and audits it; returns what the model is told.
async fn run_tool(ctx: &Ctx<'_>, name: &str, args: &Value) -> String {
    let words = match command_words(name, args) {
        Ok(w) => w,
        Err(why) => {
            audit(
                ctx,
                &format!("{name} {args}"),
                None,
                &format!("refused: {why}"),
            )
            .await;
            return format!("refused: {why}");
        }
    };
    let shown = format!("/{}", words.join(" "));
    let (text, result, host) = match crate::command::parse(&words) {
        Err(e) => (
            format!("refused: {e}"),
            "refused: invalid".to_string(),
            None,
        ),
        Ok(cmd) => execute_read(ctx, cmd, &words).await,
    };
    audit(ctx, &shown, host.as_deref(), &result).await;
    text
}

/// Runs a parsed read command with the asker's role and scopes: (text, audit result, host).
async fn execute_read(
    ctx: &Ctx<'_>,
    cmd: ChatCommand,
    words: &[String],
) -> (String, String, Option<String>) {
    let decl = cmd.decl(words);
    // Only reads are offered; a call that parses to anything else is refused here too.
    if decl.access != Access::Read || decl.destructive || matches!(cmd, ChatCommand::Diagnose(_)) {
        return (
            "refused: not a read".into(),
            "refused: not a read".into(),
            None,
        );
    }
    if let Some(r) = check_role(&decl, ctx.role, ctx.lang, words) {
        return (
            format!("refused: {}", r.reply),
            "refused: role".into(),
            None,
        );
    }
    let sub = Ctx {
        app: ctx.app,
        identity: ctx.identity.clone(),
        channel: ctx.channel.clone(),
        chat: ctx.chat.clone(),
        role: ctx.role,
        lang: ctx.lang,
        words: words.to_vec(),
        confirmed: false,
        scopes: ctx.scopes.clone(),
        access: Access::Read,
    };
    // Boxed: this runs inside `/diagnose`, itself a command.
    match Box::pin(runtime::execute(cmd, &decl, &sub)).await {
        Outcome::Reply(r) | Outcome::Audited(r, _) if r.kind == ReplyKind::Error => {
            let why = if r.reply.contains("scope") || r.reply.contains("范围") {
                "refused: scope"
            } else {
                "error"
            };
            (format!("refused or failed: {}", r.reply), why.into(), None)
        }
        Outcome::Reply(r) => (r.reply, "ok".into(), None),
        Outcome::Audited(r, entry) => (r.reply, "ok".into(), entry.host),
        Outcome::NeedsConfirmation { .. } => (
            "refused: not a read".into(),
            "refused: not a read".into(),
            None,
        ),
    }
}

async fn audit(ctx: &Ctx<'_>, command: &str, host: Option<&str>, result: &str) {
    let entry = AuditEntry {
        at: crate::store::now_ms(),
        user: ctx.identity.clone(),
        channel: ctx.channel.clone(),
        role: ctx.role.to_string(),
        command: format!("llm tool: {command}"),
        host: host.map(str::to_string),
        target: None,
        result: result.to_string(),
    };
    if let Err(e) = ctx.app.store.audit_append(entry).await {
        tracing::error!(error = %e, "audit log write failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_become_read_commands_and_bad_names_are_refused() {
        let w = |n: &str, a: Value| command_words(n, &a).map(|w| w.join(" "));
        assert_eq!(
            w("docker_logs", json!({"container": "api", "tail": 9999})).unwrap(),
            "docker logs api --tail 200"
        );
        assert_eq!(
            w(
                "kubectl_logs",
                json!({"pod": "web-1", "previous": true, "namespace": "prod"})
            )
            .unwrap(),
            "kubectl logs web-1 --previous -n prod"
        );
        assert_eq!(
            w("kubectl_events", json!({"namespace": "prod"})).unwrap(),
            "kubectl get events -n prod"
        );
        // Flags smuggled in as names, odd characters, unknown kinds and tools: refused.
        assert!(w("docker_inspect", json!({"container": "--all"})).is_err());
        assert!(w("docker_inspect", json!({"container": "a b"})).is_err());
        assert!(w("kubectl_get", json!({"kind": "secrets"})).is_err());
        assert!(w("docker_restart", json!({"container": "api"})).is_err());
        assert!(w("kubectl_describe", json!({"kind": "pod"})).is_err());
        // Every offered tool maps to a command that parses as a read.
        for (name, args) in [
            ("docker_inspect", json!({"container": "api"})),
            ("docker_logs", json!({"container": "api", "host": "prod"})),
            ("docker_events", json!({"since": "10m"})),
            ("kubectl_get", json!({"kind": "pods", "namespace": "prod"})),
            ("kubectl_describe", json!({"kind": "pod", "name": "web-1"})),
            ("kubectl_logs", json!({"pod": "web-1", "container": "app"})),
            ("kubectl_events", json!({})),
        ] {
            let words = command_words(name, &args).unwrap();
            let cmd = crate::command::parse(&words).unwrap_or_else(|e| panic!("{name}: {e}"));
            let decl = cmd.decl(&words);
            assert_eq!(decl.access, Access::Read, "{name}");
            assert!(!decl.destructive, "{name}");
        }
        let specs = tool_specs();
        assert_eq!(specs.as_array().unwrap().len(), 7);
    }
}
