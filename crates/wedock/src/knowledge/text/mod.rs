//! Text analysis for mixed Chinese/English questions, without a segmentation dictionary:
//! normalisation (full-width → half-width, case), Han runs as unigrams + bigrams (bigrams carry
//! most of the meaning; unigrams catch typos and one-character words), Latin words lowercased
//! and stemmed, stop words dropped, and query-time synonyms across the two languages.

use crate::i18n::is_han;
use std::collections::HashMap;
use std::sync::LazyLock;

mod synonyms;
pub use synonyms::synonym_terms;
use synonyms::*;
#[cfg(test)]
mod tests;

/// What a token is made of; the query weights them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A Latin word or number, stemmed.
    Word,
    /// One Han character.
    HanUni,
    /// Two adjacent Han characters.
    HanBi,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub text: String,
    pub kind: Kind,
}

/// Full-width ASCII → ASCII, ideographic space → space, lowercase.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        };
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
    out
}

/// Function characters that carry no topic: bigrams containing them are dropped too, so
/// "怎么样" or "是什么" do not match every question.
fn is_stop_han(c: char) -> bool {
    matches!(
        c,
        '的' | '了'
            | '吗'
            | '呢'
            | '啊'
            | '吧'
            | '么'
            | '什'
            | '怎'
            | '呀'
            | '嘛'
            | '哦'
            | '是'
            | '这'
            | '那'
            | '哪'
            | '个'
            | '和'
            | '与'
            | '及'
            | '或'
            | '我'
            | '你'
            | '他'
            | '它'
            | '们'
            | '请'
            | '啥'
            | '咋'
            | '就'
            | '都'
            | '也'
            | '还'
            | '很'
            | '把'
            | '被'
            | '给'
            | '在'
            | '着'
            | '过'
            | '呗'
            | '嗯'
            | '喔'
            | '哈'
            | '该'
            | '要'
            | '能'
            | '会'
            | '一'
            | '下'
            | '里'
            | '跟'
            | '又'
            | '有'
            | '没'
            | '为'
            | '如'
            | '何'
            | '样'
            | '到'
            | '让'
            | '对'
            | '从'
            | '去'
            | '得'
            | '地'
            | '好'
            | '想'
            | '说'
            | '些'
            | '种'
            | '其'
    )
}

const STOP_WORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "am",
    "do",
    "does",
    "did",
    "to",
    "of",
    "in",
    "on",
    "at",
    "for",
    "with",
    "and",
    "or",
    "i",
    "me",
    "my",
    "you",
    "your",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "what",
    "whats",
    "how",
    "why",
    "when",
    "where",
    "which",
    "who",
    "can",
    "could",
    "should",
    "would",
    "will",
    "there",
    "s",
    "t",
    "so",
    "if",
    "from",
    "by",
    "as",
    "about",
    "into",
    "we",
    "our",
    "us",
    "they",
    "them",
    "he",
    "she",
    "just",
    "but",
    "not",
    "no",
    "yes",
    "any",
    "some",
    "get",
    "got",
    "im",
    "i'm",
    "please",
    "pls",
    "vs",
    "versus",
    "difference",
    "between",
    "diff",
    "explain",
    "tell",
    "mean",
    "means",
    "meaning",
    "way",
    "ways",
    "thing",
    "things",
    "really",
    "actually",
    "again",
    "still",
    "keep",
    "keeps",
    "one",
    "ones",
    "need",
    "want",
    "use",
    "using",
    "used",
    "have",
    "has",
    "had",
    "then",
    "than",
    "also",
    "very",
    "too",
    "much",
    "many",
    "all",
    "out",
    "up",
    "there",
    "here",
    "like",
    "let",
    "lets",
    "ok",
    "okay",
    "hi",
    "hey",
    "thanks",
    "thank",
    "does",
    "doing",
    "done",
    "make",
    "makes",
    "made",
    "d",
    "ll",
    "re",
    "ve",
    "m",
    "e",
    "g",
    "eg",
    "etc",
];

static STOP: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

thread_local! {
    static STEMMER: frostem::Stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
    /// Stems already computed on this thread: a base repeats the same few thousand words, and
    /// the Snowball stemmer was a tenth of the load time.
    static STEMS: std::cell::RefCell<HashMap<String, String>> = std::cell::RefCell::new(HashMap::new());
}

/// Most words the stem cache keeps per thread (a flood of unique words must not grow it).
const MAX_CACHED_STEMS: usize = 20_000;

/// Words whose Snowball stem is another word of the domain ("tiny" → "tini", the init).
const UNSTEMMED: &[&str] = &["tiny"];

fn stem(word: &str) -> String {
    if word.len() <= 3
        || !word.bytes().all(|b| b.is_ascii_alphabetic())
        || UNSTEMMED.contains(&word)
    {
        return word.to_string();
    }
    STEMS.with(|cache| {
        if let Some(s) = cache.borrow().get(word) {
            return s.clone();
        }
        let s = STEMMER.with(|st| st.stem(word).into_owned());
        let mut cache = cache.borrow_mut();
        if cache.len() < MAX_CACHED_STEMS {
            cache.insert(word.to_string(), s.clone());
        }
        s
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_han(c)
}

/// Tokens of `text` (normalised first). Words joined by `-`, `_`, `.` or `/` are emitted as
/// their parts and joined, so `kube-proxy`, `kube proxy` and `kubeproxy` meet.
pub fn tokenize(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    // `FROM` is a Dockerfile instruction, not the stop word "from".
    if text.contains("FROM") {
        out.push(Tok {
            text: "from".to_string(),
            kind: Kind::Word,
        });
    }
    let text = normalize(text);
    intents(&text, &mut out);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_han(c) {
            let start = i;
            while i < chars.len() && is_han(chars[i]) {
                i += 1;
            }
            han_run(&chars[start..i], &mut out);
        } else if is_word_char(c) {
            // A compound: word ([-_./] word)*
            let mut parts: Vec<String> = Vec::new();
            let mut cur = String::new();
            while i < chars.len() {
                let ch = chars[i];
                if is_word_char(ch) {
                    cur.push(ch);
                    i += 1;
                } else if matches!(ch, '-' | '_' | '.' | '/' | '\'')
                    && i + 1 < chars.len()
                    && is_word_char(chars[i + 1])
                    && !cur.is_empty()
                {
                    parts.push(std::mem::take(&mut cur));
                    i += 1;
                } else {
                    break;
                }
            }
            if !cur.is_empty() {
                parts.push(cur);
            }
            if parts.len() > 1 && parts.iter().all(|p| p.len() < 20) {
                let joined: String = parts.concat();
                if joined.len() <= 40 {
                    push_word(&joined, &mut out);
                }
            }
            for p in &parts {
                push_word(p, &mut out);
            }
        } else {
            i += 1;
        }
    }
    out
}

fn push_word(w: &str, out: &mut Vec<Tok>) {
    if w.is_empty() || w.len() > 40 || STOP.contains(w) {
        return;
    }
    let s = stem(w);
    out.push(Tok {
        text: s,
        kind: Kind::Word,
    });
}

/// Colloquial filler that says nothing about the topic ("小白问一下", "面试老问").
const STOP_BIGRAMS: &[&str] = &[
    "东西", "到底", "一下", "小白", "问一", "问下", "请问", "面试", "老问", "知道", "大家", "谢谢",
    "可以", "需要", "应该", "时候", "比较", "一般", "经常", "总是", "老是", "现在", "今天", "然后",
    "所以", "因为", "但是", "不过", "一直", "已经", "怎样", "意思", "情况", "原因", "解决", "办法",
    "方法", "作用", "用途", "问题", "求助", "大佬", "各位", "帮忙", "具体", "简单", "详细", "介绍",
    "讲讲", "说说", "聊聊", "理解", "概念", "是否", "还是", "好像", "感觉", "哪个", "哪些", "多少",
];

static STOP_BI: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| STOP_BIGRAMS.iter().copied().collect());

/// Chinese words of the domain and of everyday questions. A Han run is segmented against this
/// list (longest match first) only to find word boundaries: a bigram that straddles one
/// ("动容" in "启动容器") is not a word and is not emitted, while text between known words still
/// gets all its bigrams, so unlisted words keep matching. Words longer than two characters are
/// also emitted whole. A list of a few hundred words instead of a full dictionary keeps start-up
/// fast and memory small.
const WORDS: &str = "容器 镜像 仓库 镜像层 分层 构建 缓存 启动 停止 重启 删除 运行 执行 命令 参数 \
    网络 网桥 网段 端口 映射 宿主机 主机 机器 服务器 节点 集群 服务 域名 解析 负载 均衡 负载均衡 \
    内存 限制 资源 请求 磁盘 空间 存储 数据 数据卷 挂载 目录 文件 日志 清理 轮转 \
    进程 信号 退出 退出码 状态 健康 检查 健康检查 探针 存活 就绪 调度 调度器 亲和 反亲和 \
    污点 容忍 副本 扩容 缩容 扩缩容 自动 滚动 更新 回滚 发布 部署 编排 控制器 控制 平面 \
    组件 架构 客户端 服务端 守护 守护进程 内核 隔离 命名 空间 命名空间 虚拟机 虚拟 物理 \
    权限 用户 密码 密钥 证书 安全 特权 配置 环境 变量 环境变量 开发 开发环境 生产 生产环境 \
    测试 本地 远程 外部 外网 内网 公网 访问 通信 连接 转发 流量 会话 保持 地址 名字 \
    版本 标签 大小 体积 优化 区别 不同 关系 原理 流程 底层 作用 好处 优点 缺点 \
    方式 类型 模式 策略 规则 原因 办法 步骤 顺序 每次 第一次 一次 多个 两个 一个 \
    重新 失败 成功 报错 错误 异常 超时 卡住 崩溃 掉线 连不上 不通 找不到 起不来 \
    应用 程序 系统 平台 工具 插件 接口 文件系统 写时复制 生命周期 有状态 无状态 \
    定时 任务 定时任务 脚本 面试 入门 基础 概念 通俗 为什么 为啥 怎么 如何 什么 \
    拉取 推送 下载 上传 拷贝 复制 打包 编译 安装 升级 迁移 备份 恢复 监控 告警 \
    进入 查看 显示 输出 写入 读取 修改 设置 指定 使用 选择 替换 覆盖 继承 共享 \
    静态 动态 默认 自定义 内置 官方 私有 公共 离线 在线 实时 同时 一起 互相 之间";

static DICT: LazyLock<std::collections::HashSet<&'static str>> =
    LazyLock::new(|| WORDS.split_whitespace().collect());

/// Longest listed word in characters.
const MAX_WORD_CHARS: usize = 4;

fn han_run(run: &[char], out: &mut Vec<Tok>) {
    // Word boundaries from the list: `cut[j]` is true when a listed word starts or ends
    // between characters j-1 and j.
    let mut cut = vec![false; run.len() + 1];
    let mut buf = String::new();
    let mut i = 0;
    while i < run.len() {
        let mut len = 0;
        for l in (2..=MAX_WORD_CHARS.min(run.len() - i)).rev() {
            buf.clear();
            buf.extend(&run[i..i + l]);
            if DICT.contains(buf.as_str()) {
                len = l;
                break;
            }
        }
        if len == 0 {
            i += 1;
            continue;
        }
        cut[i] = true;
        cut[i + len] = true;
        if len > 2 && !run[i..i + len].iter().any(|&c| is_stop_han(c)) {
            out.push(Tok {
                text: run[i..i + len].iter().collect(),
                kind: Kind::HanBi,
            });
        }
        i += len;
    }
    // Characters covered only by filler bigrams are dropped as unigrams too.
    let mut filler = vec![false; run.len()];
    for j in 0..run.len().saturating_sub(1) {
        let bi: String = [run[j], run[j + 1]].iter().collect();
        if STOP_BI.contains(bi.as_str()) {
            filler[j] = true;
            filler[j + 1] = true;
        }
    }
    for (j, &c) in run.iter().enumerate() {
        if filler[j] {
            continue;
        }
        if !is_stop_han(c) {
            out.push(Tok {
                text: c.to_string(),
                kind: Kind::HanUni,
            });
        }
        if let Some(&d) = run.get(j + 1)
            && !filler[j + 1]
            && !cut[j + 1]
            && !is_stop_han(c)
            && !is_stop_han(d)
        {
            out.push(Tok {
                text: [c, d].iter().collect(),
                kind: Kind::HanBi,
            });
        }
    }
}

/// Question-intent markers: "what is X" and "X vs Y" questions are common and their words are
/// otherwise all stop words. Emitted as pseudo-terms on both sides.
const INTENTS: &[(&str, &[&str])] = &[
    (
        "~what",
        &[
            "是什么",
            "是啥",
            "啥是",
            "什么是",
            "是个啥",
            "啥东西",
            "what is",
            "what's",
            "whats",
            "what are",
            "what does",
        ],
    ),
    (
        "~diff",
        &[
            "区别",
            "不同",
            "差异",
            " vs",
            "versus",
            "difference",
            "differ",
            "compare",
            "对比",
        ],
    ),
];

fn intents(normalized: &str, out: &mut Vec<Tok>) {
    for (tok, pats) in INTENTS {
        if pats.iter().any(|p| normalized.contains(p)) {
            out.push(Tok {
                text: (*tok).to_string(),
                kind: Kind::Word,
            });
        }
    }
}

/// Term strings of a text, for indexing.
pub fn terms(text: &str) -> Vec<String> {
    tokenize(text).into_iter().map(|t| t.text).collect()
}

/// Terms that name a subject rather than ask about one: whole words (a compound such as
/// `list-watch` only as a whole, not its generic parts) and Han bigrams.
pub fn subject_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for piece in text.split_whitespace() {
        let toks = tokenize(piece);
        let compound =
            piece.chars().any(|c| matches!(c, '-' | '_' | '.' | '/')) && !piece.chars().any(is_han);
        for (i, t) in toks.into_iter().enumerate() {
            if t.kind == Kind::HanUni || t.text.starts_with('~') || (compound && i > 0) {
                continue;
            }
            out.push(t.text);
        }
    }
    out
}

/// Words only Kubernetes questions use (stemmed as the tokenizer stems them).
static K8S_WORDS: LazyLock<std::collections::HashSet<String>> = LazyLock::new(|| {
    terms(
        "k8s kubernetes kube kubectl pod pods helm cronjob statefulset daemonset ingress svc hpa \
         pvc configmap kubelet deployment replicaset cni calico flannel cilium etcd kubeadm \
         coredns 集群",
    )
    .into_iter()
    .collect()
});

/// Words only Docker questions use.
static DOCKER_WORDS: LazyLock<std::collections::HashSet<String>> = LazyLock::new(|| {
    terms("docker dockerfile dockerd compose docker-compose swarm")
        .into_iter()
        .collect()
});

/// Whether the question reports a recurring problem ("老是失败", "keeps crashing") rather
/// than asking what something is.
pub fn reports_symptom(query: &str) -> bool {
    const HAN: &[&str] = &["老是", "总是", "一直", "经常", "反复", "动不动", "时不时"];
    const EN: &[&str] = &[
        "keeps",
        "keep",
        "always",
        "constantly",
        "repeatedly",
        "again",
    ];
    let q = normalize(query);
    HAN.iter().any(|w| q.contains(w))
        || q.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| EN.contains(&w))
}

pub fn is_k8s_word(term: &str) -> bool {
    K8S_WORDS.contains(term)
}

pub fn is_docker_word(term: &str) -> bool {
    DOCKER_WORDS.contains(term)
}

/// A weighted query term. `alts` are synonyms that satisfy it as well (for confidence).
#[derive(Debug, Clone)]
pub struct QueryTerm {
    pub text: String,
    pub kind: Kind,
    pub weight: f32,
    /// Added by a synonym rather than typed.
    pub expanded: bool,
    pub alts: Vec<String>,
}

/// Weight of a term kind in a query.
pub fn kind_weight(kind: Kind) -> f32 {
    match kind {
        Kind::Word => 1.0,
        Kind::HanBi => 1.0,
        Kind::HanUni => 0.1,
    }
}

/// Most distinct typed terms a query keeps (before synonyms).
pub const MAX_QUERY_TERMS: usize = 64;

/// The query: its own tokens (deduplicated) plus synonym expansions.
pub fn analyze_query(text: &str) -> Vec<QueryTerm> {
    let mut toks = tokenize(text);
    // A pasted log must not turn into a query of thousands of clauses.
    let mut distinct = std::collections::HashSet::new();
    toks.retain(|t| {
        distinct.contains(&t.text)
            || (distinct.len() < MAX_QUERY_TERMS && distinct.insert(t.text.clone()))
    });
    let mut terms: Vec<QueryTerm> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in &toks {
        if seen.contains_key(&t.text) {
            continue;
        }
        seen.insert(t.text.clone(), terms.len());
        terms.push(QueryTerm {
            text: t.text.clone(),
            kind: t.kind,
            weight: kind_weight(t.kind),
            expanded: false,
            alts: Vec::new(),
        });
    }
    let present: std::collections::HashSet<&str> = toks.iter().map(|t| t.text.as_str()).collect();
    let syn = &*SYN;
    let mut expansions: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    // The phrases whose every key token is present, in table order (as a walk over the whole
    // table would find them, so the terms come out in the same order).
    let mut matched: Vec<usize> = present
        .iter()
        .filter_map(|t| syn.by_first.get(*t))
        .flatten()
        .copied()
        .filter(|&i| {
            syn.phrases[i].0[1..]
                .iter()
                .all(|k| present.contains(k.as_str()))
        })
        .collect();
    matched.sort_unstable();
    for (key, g) in matched.into_iter().map(|i| &syn.phrases[i]) {
        for other in &syn.groups[*g] {
            if other != key {
                expansions.push((key.clone(), other.clone()));
            }
        }
    }
    for (key, other) in expansions {
        // The typed tokens of the phrase are satisfied by any token of the synonym.
        for k in &key {
            if let Some(&i) = seen.get(k) {
                for o in &other {
                    if !terms[i].alts.contains(o) {
                        terms[i].alts.push(o.clone());
                    }
                }
            }
        }
        let w = 0.6 / other.len() as f32;
        for o in other {
            match seen.get(&o) {
                Some(&i) => {
                    if terms[i].expanded {
                        terms[i].weight = terms[i].weight.max(w);
                    }
                }
                None => {
                    let kind = if o.chars().any(is_han) {
                        Kind::HanBi
                    } else {
                        Kind::Word
                    };
                    seen.insert(o.clone(), terms.len());
                    terms.push(QueryTerm {
                        text: o,
                        kind,
                        weight: w,
                        expanded: true,
                        alts: Vec::new(),
                    });
                }
            }
        }
    }
    terms
}
