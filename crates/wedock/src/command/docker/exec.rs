//! `/docker exec`: allowlisted argv only, never through a shell.

use super::*;

/// Whether `argv` equals one allowlist entry (each entry split like a shell would, never run
/// through one).
pub fn exec_allowed(allowlist: &[String], argv: &[String]) -> bool {
    allowlist
        .iter()
        .filter_map(|entry| shlex::split(entry))
        .any(|allowed| allowed == argv)
}

pub(super) async fn exec(ctx: &Ctx<'_>, a: ExecArgs) -> Outcome {
    let cfg = &ctx.app.config.docker;
    if !cfg.exec_enabled {
        return error(ctx, t!(ctx.lang, "docker.exec_disabled"));
    }
    if let Err(e) = ops::validate_ref(&a.name) {
        return bad_input(ctx, &e);
    }
    if a.argv
        .iter()
        .any(|w| w.len() > 512 || w.chars().any(char::is_control))
    {
        return bad_input(
            ctx,
            "command words must be short and without control characters",
        );
    }
    let target = a.name.clone();
    if !exec_allowed(&cfg.exec_allowlist, &a.argv) {
        metrics::counter!("wedock_refused_total", "reason" => "exec_allowlist").increment(1);
        let shown = shlex::try_join(a.argv.iter().map(String::as_str)).unwrap_or_default();
        let text = t!(ctx.lang, "docker.exec_not_allowlisted", command = shown);
        return Outcome::Audited(
            Reply::error(text, ctx.lang),
            ctx.audit(
                host_choice(ctx, &a.h).as_deref(),
                Some(&target),
                "refused: not allowlisted",
            ),
        );
    }
    let eng = or_return!(engine(ctx, &a.h).await);
    let c = or_return!(find(ctx, &eng, &a.name).await);
    let name = summary_name(&c);
    let (out, code) = match run_exec(&eng, c.id.as_deref().unwrap_or(""), &a.argv).await {
        Ok(x) => x,
        Err(e) => {
            let text = call_error_text(ctx, &eng, &e).await;
            return Outcome::Audited(
                Reply::error(text.clone(), ctx.lang),
                ctx.audit(Some(&eng.name), Some(&name), &format!("error: {text}")),
            );
        }
    };
    let result = format!("exit {}", code.map_or("?".into(), |c| c.to_string()));
    tracing::info!(user = %ctx.identity, host = %eng.name, target = %name, %result, "docker exec");
    let head = format!(
        "▶️ {name}: {} → {result}",
        shlex::try_join(a.argv.iter().map(String::as_str)).unwrap_or_default()
    );
    let body = render::tail_fit(
        out.trim_end(),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        ctx.lang,
    );
    let text = if body.is_empty() {
        head
    } else {
        format!("{head}\n{body}")
    };
    let r = if code == Some(0) {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&name), &result))
}

pub(super) async fn run_exec(
    eng: &Engine,
    id: &str,
    argv: &[String],
) -> Result<(String, Option<i64>), bollard::errors::Error> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let created = eng
        .client
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(argv.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        eng.client.start_exec(&created.id, None).await?
    {
        let collect = async {
            while let Some(chunk) = output.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            }
            Ok::<(), bollard::errors::Error>(())
        };
        match tokio::time::timeout(STREAM_TIMEOUT, collect).await {
            Ok(r) => r?,
            Err(_) => out.push_str("\n…"),
        }
    }
    let code = eng.client.inspect_exec(&created.id).await?.exit_code;
    Ok((out, code))
}
