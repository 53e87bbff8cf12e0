//! Tokenizing, stemming and query analysis in both languages.

use super::*;

fn texts(s: &str) -> Vec<String> {
    terms(s)
}

#[test]
fn normalises_full_width_and_case() {
    assert_eq!(normalize("ＤＯＣＫＥＲ　Ｐｓ！"), "docker ps!");
}

#[test]
fn han_runs_become_unigrams_and_bigrams_without_stop_characters() {
    let t = texts("容器的网络");
    assert!(t.contains(&"容器".to_string()));
    assert!(t.contains(&"网络".to_string()));
    assert!(t.contains(&"容".to_string()));
    assert!(!t.iter().any(|x| x.contains('的')), "{t:?}");
}

#[test]
fn listed_words_cut_bigrams_at_their_boundaries() {
    let t = texts("启动容器");
    assert!(t.contains(&"启动".to_string()), "{t:?}");
    assert!(t.contains(&"容器".to_string()), "{t:?}");
    assert!(!t.contains(&"动容".to_string()), "{t:?}");
    // Text between listed words still gets its bigrams.
    let t = texts("改镜像");
    assert!(t.contains(&"镜像".to_string()), "{t:?}");
    assert!(!t.contains(&"改镜".to_string()), "{t:?}");
    let t = texts("树莓派");
    assert!(
        t.contains(&"树莓".to_string()) && t.contains(&"莓派".to_string()),
        "{t:?}"
    );
    // Longer listed words are also whole tokens.
    assert!(texts("宿主机的网络").contains(&"宿主机".to_string()));
}

#[test]
fn stems_do_not_collide_with_domain_words() {
    assert!(texts("a tiny startup").contains(&"tiny".to_string()));
    assert!(texts("tini as init").contains(&"tini".to_string()));
}

#[test]
fn dockerfile_from_is_not_a_stop_word() {
    assert!(texts("两个 FROM 是干嘛的").contains(&"from".to_string()));
    assert!(!texts("copy files from the host").contains(&"from".to_string()));
}

#[test]
fn subject_terms_skip_generic_compound_parts() {
    let t = subject_terms("list-watch");
    assert_eq!(t, vec!["listwatch".to_string()]);
    let t = subject_terms("启动命令");
    assert!(t.contains(&"启动".to_string()) && !t.iter().any(|x| x.chars().count() == 1));
}

#[test]
fn english_is_stemmed_and_compounds_are_joined() {
    let t = texts("Restarting containers kube-proxy");
    assert!(t.contains(&"restart".to_string()), "{t:?}");
    assert!(t.contains(&"contain".to_string()) || t.contains(&"container".to_string()));
    assert!(t.contains(&"kubeproxi".to_string()) || t.contains(&"kubeproxy".to_string()));
    assert!(t.contains(&"proxi".to_string()) || t.contains(&"proxy".to_string()));
}

#[test]
fn mixed_text_and_numbers() {
    let t = texts("退出码137是什么意思");
    assert!(t.contains(&"137".to_string()));
    assert!(t.contains(&"退出".to_string()));
}

#[test]
fn synonyms_expand_across_languages() {
    let q = analyze_query("k8s 的 svc");
    let texts: Vec<&str> = q.iter().map(|t| t.text.as_str()).collect();
    assert!(texts.contains(&"kubernet"), "{texts:?}");
    assert!(texts.contains(&"servic"), "{texts:?}");
    let q = analyze_query("镜像太大");
    assert!(q.iter().any(|t| t.text == "imag" && t.expanded), "{q:?}");
}

#[test]
fn long_input_is_capped() {
    let long: String = (0..5000).map(|i| format!("word{i} 日志{i} ")).collect();
    let q = analyze_query(&long);
    assert!(
        q.iter().filter(|t| !t.expanded).count() <= MAX_QUERY_TERMS,
        "{}",
        q.len()
    );
}

#[test]
fn odd_input_does_not_panic() {
    for s in [
        "",
        "   ",
        "----",
        "💥💥",
        "a-",
        "-a",
        "\u{0}\u{fffd}",
        "ａ－ｂ",
        "x/y/z/",
    ] {
        let _ = analyze_query(s);
    }
}

#[test]
fn a_recurring_problem_is_told_from_a_definition() {
    assert!(reports_symptom("healthcheck 老是失败 状态不健康"));
    assert!(reports_symptom("my pod keeps crashing"));
    assert!(!reports_symptom("容器显示 unhealthy 是啥意思"));
    // "keep" must be a word of its own, not part of "keepalive".
    assert!(!reports_symptom("what does keepalive_timeout do"));
}
