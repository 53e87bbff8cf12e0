//! Turning clap's parse errors into replies people can act on: an unknown command names the
//! closest ones in the user's language, a wrong argument says in one line what was wrong and
//! gives that command's one-line usage. `--help` and a bare family (`/docker`) still show help.

use crate::i18n::{Lang, Text};
use crate::message::{Reply, ReplyKind};
use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The reply to `words` that clap refused with `e`.
pub fn reply(e: &clap::Error, words: &[String], lang: Lang) -> Reply {
    metrics::counter!("wedock_rejected_total", "reason" => "usage").increment(1);
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let text = e.render().to_string().trim_end().to_string();
            let mut r = Reply::error(text, lang);
            r.kind = ReplyKind::Command;
            r.matched = true;
            r
        }
        ErrorKind::InvalidSubcommand => Reply::error(unknown_command(e, words, lang), lang),
        _ => Reply::error(bad_arguments(e, words, lang), lang),
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Vec<String> {
    match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// "未知命令 /docker stpo。你是不是想用 /docker stop？…"
fn unknown_command(e: &clap::Error, words: &[String], lang: Lang) -> String {
    let invalid = context(e, ContextKind::InvalidSubcommand)
        .into_iter()
        .next()
        .unwrap_or_default();
    // The words before the unknown one name the family it was looked up in.
    let at = words.iter().position(|w| *w == invalid).unwrap_or(0);
    let path: Vec<&str> = words[..at].iter().map(String::as_str).collect();
    let mut suggestions = context(e, ContextKind::SuggestedSubcommand);
    if suggestions.is_empty() {
        suggestions = same_initial(&path, &invalid);
    }
    let prefix = |w: &str| {
        let mut p = path.clone();
        p.push(w);
        format!("/{}", p.join(" "))
    };
    let cmd = prefix(&invalid);
    if suggestions.is_empty() {
        return Text::UnknownCommand.fill(lang, &[("cmd", &cmd)]);
    }
    let or = t!(lang, "cmd.or");
    let suggest = suggestions
        .iter()
        .take(3)
        .map(|s| prefix(s))
        .collect::<Vec<_>>()
        .join(or);
    Text::UnknownCommandSuggest.fill(lang, &[("cmd", &cmd), ("suggest", &suggest)])
}

/// Commands at the level of `path` that start like `invalid` (clap suggests only near
/// spellings; "/diagnose" should still point at "/docker").
fn same_initial(path: &[&str], invalid: &str) -> Vec<String> {
    let Some(first) = invalid.chars().next().map(|c| c.to_ascii_lowercase()) else {
        return Vec::new();
    };
    let mut cmd = super::ChatCli::command();
    let mut level = &mut cmd;
    for p in path {
        match level.find_subcommand_mut(p) {
            Some(c) => level = c,
            None => return Vec::new(),
        }
    }
    level
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .filter(|n| n.starts_with(first))
        .collect()
}

/// One line of what was wrong, plus the command's usage line.
fn bad_arguments(e: &clap::Error, words: &[String], lang: Lang) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .trim()
        .to_string();
    let arg = context(e, ContextKind::InvalidArg).join(", ");
    let value = context(e, ContextKind::InvalidValue).join(", ");
    // clap's own first line is English; Chinese readers get the common cases in the catalog.
    let what = match e.kind() {
        ErrorKind::UnknownArgument if lang == Lang::Zh && !arg.is_empty() => {
            t!(lang, "cmd.unknown_argument", arg = arg)
        }
        ErrorKind::MissingRequiredArgument if lang == Lang::Zh && !arg.is_empty() => {
            t!(lang, "cmd.missing_argument", arg = arg)
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
            if lang == Lang::Zh && !arg.is_empty() =>
        {
            t!(
                lang,
                "cmd.invalid_value",
                arg = arg,
                value = format!("{value:?}")
            )
        }
        _ => first,
    };
    // clap writes "Usage: docker logs <NAME>" (or "/ <COMMAND>" at the root).
    let usage = rendered
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| format!("/{}", u.trim_start_matches('/').trim_start()))
        .unwrap_or_else(|| "/help".to_string());
    let family = words.first().map(String::as_str).unwrap_or("");
    Text::BadArguments.fill(lang, &[("what", &what), ("usage", &usage), ("cmd", family)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str, lang: Lang) -> Reply {
        let words = super::super::split_words(text).unwrap();
        let e = super::super::parse(&words).expect_err("a parse error");
        reply(&e, &words, lang)
    }

    #[test]
    fn unknown_commands_name_the_closest_ones_in_the_users_language() {
        // `/diagnose` exists now; a typo of `docker` is still unknown.
        let r = say("/dokcer api", Lang::Zh);
        assert_eq!(r.kind, ReplyKind::Error);
        assert!(r.reply.starts_with("未知命令 /dokcer。"), "{}", r.reply);
        assert!(r.reply.contains("/docker"), "{}", r.reply);
        assert!(r.reply.contains("/help"), "{}", r.reply);
        assert!(!r.reply.contains("Usage"), "{}", r.reply);
        let r = say("/docker stpo api", Lang::En);
        assert!(
            r.reply.starts_with("Unknown command /docker stpo."),
            "{}",
            r.reply
        );
        assert!(r.reply.contains("/docker stop"), "{}", r.reply);
        let r = say("/zzz", Lang::Zh);
        assert!(r.reply.contains("未知命令 /zzz"), "{}", r.reply);
    }

    #[test]
    fn argument_errors_are_one_line_and_the_usage() {
        let r = say("/docker ps --bogus", Lang::Zh);
        assert_eq!(r.reply.lines().count(), 1, "{}", r.reply);
        assert!(r.reply.contains("不认识的参数 --bogus"), "{}", r.reply);
        assert!(
            r.reply.contains("/docker ps [OPTIONS] [PATTERN]"),
            "{}",
            r.reply
        );
        let r = say("/docker logs", Lang::En);
        assert_eq!(r.reply.lines().count(), 1, "{}", r.reply);
        assert!(r.reply.contains("/docker logs <NAME>"), "{}", r.reply);
        assert!(!r.reply.contains("For more information"), "{}", r.reply);
        // Help is still help.
        let r = say("/docker", Lang::Zh);
        assert_eq!(r.kind, ReplyKind::Command);
    }
}
