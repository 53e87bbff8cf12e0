use super::*;

fn default() -> Redactor {
    Redactor::new(&SecurityConfig::default())
}

/// Every case of tests/data/redact-corpus.txt: `< input` then `> expected` or `=`.
fn corpus() -> Vec<(String, String)> {
    let text = include_str!("../../tests/data/redact-corpus.txt");
    let mut cases = Vec::new();
    let mut input: Option<String> = None;
    for line in text.lines() {
        if let Some(i) = line.strip_prefix("< ") {
            assert!(input.is_none(), "input without expectation before {line}");
            input = Some(i.to_string());
        } else if let Some(e) = line.strip_prefix("> ") {
            cases.push((
                input.take().expect("expectation without input"),
                e.to_string(),
            ));
        } else if line == "=" {
            let i = input.take().expect("`=` without input");
            cases.push((i.clone(), i));
        }
    }
    assert!(input.is_none(), "last input has no expectation");
    cases
}

#[test]
fn corpus_lines_redact_secrets_and_leave_prose() {
    let r = default();
    let cases = corpus();
    assert!(cases.len() >= 60, "{}", cases.len());
    let mut failures = Vec::new();
    for (input, want) in &cases {
        let got = r.redact(input);
        if got != *want {
            failures.push(format!("in:   {input}\nwant: {want}\ngot:  {got}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_whole_corpus_as_one_text_redacts_the_same() {
    // Command output arrives as one multi-line text: rules must not run across lines.
    let cases = corpus();
    let input: Vec<&str> = cases.iter().map(|(i, _)| i.as_str()).collect();
    let want: Vec<&str> = cases.iter().map(|(_, w)| w.as_str()).collect();
    assert_eq!(default().redact(&input.join("\n")), want.join("\n"));
}

const KEY_BODY: &str = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2Alq7t8k3XkAcJ5G9m1w6uN8s4Lz\nq0F1Wc9e2rH8JbY6tK3xP5v7nD0aS4fG2hJ9kL1mN3bV5cX7zQ8wE0rT2yU4iO6p\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/==";

#[test]
fn private_key_blocks_are_redacted_whole() {
    let text = format!(
        "starting\n-----BEGIN RSA PRIVATE KEY-----\n{KEY_BODY}\n-----END RSA PRIVATE KEY-----\nlistening on :8443"
    );
    let out = default().redact(&text);
    assert!(
        !out.contains("MIIEpAIBAAKCAQEA") && !out.contains("AbCdEfGh"),
        "{out}"
    );
    assert!(
        out.starts_with("starting\n-----BEGIN RSA PRIVATE KEY-----\n***\n"),
        "{out}"
    );
    assert!(
        out.ends_with("-----END RSA PRIVATE KEY-----\nlistening on :8443"),
        "{out}"
    );
    // Public material stays.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----";
    assert_eq!(default().redact(cert), cert);
}

#[test]
fn a_key_in_a_json_string_stays_on_one_line() {
    let line = r#"{"tls_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n","ok":true}"#;
    let out = default().redact(line);
    assert!(
        !out.contains("MIIEvQIBADAN") && !out.contains('\n'),
        "{out}"
    );
    assert!(out.contains(r#""ok":true"#), "{out}");
}

#[test]
fn a_begin_without_end_redacts_to_the_end() {
    let text = format!("boot\n-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}");
    let out = default().redact(&text);
    assert_eq!(out, "boot\n-----BEGIN OPENSSH PRIVATE KEY-----\n***");
}

#[test]
fn an_end_whose_begin_was_cut_off_redacts_the_key_lines_before_it() {
    // A log tail that starts inside the block.
    let text = format!("{KEY_BODY}\n-----END EC PRIVATE KEY-----\nserver started");
    let out = default().redact(&text);
    assert_eq!(out, "***\n-----END EC PRIVATE KEY-----\nserver started");
    // With a compose log prefix, and an ordinary line before the key.
    let prefixed: String = KEY_BODY
        .lines()
        .map(|l| format!("app-1  | {l}\n"))
        .collect();
    let text = format!("app-1  | loading key\n{prefixed}app-1  | -----END PRIVATE KEY-----");
    let out = default().redact(&text);
    assert_eq!(
        out,
        "app-1  | loading key\n***\napp-1  | -----END PRIVATE KEY-----"
    );
}

#[test]
fn a_key_split_across_pieces_stays_redacted_in_a_stream() {
    let r = default();
    let mut s = r.stream();
    let mut lines = vec!["ready", "-----BEGIN RSA PRIVATE KEY-----"];
    lines.extend(KEY_BODY.lines());
    lines.extend([
        "-----END RSA PRIVATE KEY-----",
        "DB_PASSWORD=hunter2",
        "done",
    ]);
    let out: Vec<String> = lines.iter().map(|l| s.push(l)).collect();
    let joined = out.join("\n");
    assert!(
        !joined.contains("MIIE") && !joined.contains("hunter2"),
        "{joined}"
    );
    assert_eq!(out[0], "ready");
    assert_eq!(out.last().map(String::as_str), Some("done"));
    assert!(out.contains(&"DB_PASSWORD=***".to_string()), "{joined}");
    assert!(
        out.contains(&"-----END RSA PRIVATE KEY-----".to_string()),
        "{joined}"
    );
}

#[test]
fn configured_patterns_redact_the_group_or_the_match() {
    let r = Redactor::new(&SecurityConfig {
        redact_patterns: vec![r"employee-id=(\d+)".into(), r"INTERNAL-[A-Z0-9]{8}".into()],
    });
    assert_eq!(
        r.redact("user employee-id=4711 got INTERNAL-AB12CD34 ok"),
        "user employee-id=*** got *** ok"
    );
}

#[test]
fn bad_patterns_fail_check_naming_the_key() {
    let cfg = SecurityConfig {
        redact_patterns: vec!["ok".into(), "(unclosed".into()],
    };
    let e = cfg.validate().expect_err("invalid regex");
    assert_eq!(e.key, "security.redact_patterns[1]");
    assert!(!e.to_string().contains('\n'), "{e}");
    let e = SecurityConfig {
        redact_patterns: vec![String::new()],
    }
    .validate()
    .expect_err("empty");
    assert_eq!(e.key, "security.redact_patterns[0]");
}

#[test]
fn a_large_log_is_redacted_in_linear_time() {
    // 1 MiB of mixed lines (a worst case for `docker logs --tail 10000`): the regex engine is
    // linear, so even an unoptimised build stays far below a second per MiB.
    let cases = corpus();
    let block: String = cases.iter().map(|(i, _)| format!("{i}\n")).collect();
    let text = block.repeat((1 << 20) / block.len() + 1);
    let started = std::time::Instant::now();
    let out = default().redact(&text);
    let took = started.elapsed();
    assert!(!out.contains("hunter2"));
    assert!(
        took < std::time::Duration::from_secs(10),
        "{took:?} for {} bytes",
        text.len()
    );
    println!("redacted {} bytes in {took:?}", text.len());
}

#[test]
fn nothing_found_borrows() {
    assert!(matches!(default().redact("all quiet"), Cow::Borrowed(_)));
}

proptest::proptest! {
    #[test]
    fn never_panics_and_never_leaks_a_planted_password(
        before in "\\PC{0,60}",
        after in "[ \\n][^\\n]{0,60}",
        secret in "[A-Za-z0-9!%^+]{6,24}",
    ) {
        let text = format!("{before}\nDB_PASSWORD={secret}{after}");
        let out = default().redact(&text);
        let leaked = out
            .lines()
            .any(|l| l.contains(&format!("DB_PASSWORD={secret}")));
        proptest::prop_assert!(!leaked, "{}", out);
    }
}
