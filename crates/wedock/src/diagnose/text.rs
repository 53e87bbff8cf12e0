//! Every fixed sentence of `/diagnose` and of the answer to a pasted error, in zh and en, in
//! one table so the wording stays consistent. `{name}` slots are filled by [`Say::fill`].

use crate::i18n::Lang;

#[derive(Debug, Clone, Copy)]
pub enum Say {
    /// Heading of a pasted-error answer.
    Recognised,
    FixSteps,
    Evidence,
    AlsoPossible,
    Background,
    NextCommands,
    Healthy,
    HealthyNote,
    NoVerdict,
    UnknownTarget,
    Closest,
    LikelyCause,
    ReplyForDetails,
    StateLine,
    ExitLine,
    OomLine,
    ErrorLine,
    RestartLine,
    HealthLine,
    LogLine,
    EventLine,
    MemoryLine,
    PlatformLine,
    PortHeldBy,
    ReadOnlyRoot,
    DiskLine,
    UnknownKind,
    PodPhaseLine,
    ContainerStateLine,
    ConditionLine,
    NodeLine,
    PvcLine,
    PullSecretLine,
    RolloutLine,
    ProbeLine,
    ResourcesLine,
    JobLine,
    HpaLine,
}

impl Say {
    fn pair(self) -> (&'static str, &'static str) {
        use Say::*;
        match self {
            Recognised => ("🔎 识别到的错误：", "🔎 Recognised error: "),
            FixSteps => ("怎么修：", "How to fix:"),
            Evidence => ("证据：", "Evidence:"),
            AlsoPossible => ("也可能相关：", "Also possible: "),
            Background => ("背景知识：", "Background:"),
            NextCommands => ("下一步：", "Next:"),
            Healthy => ("✅ {target} 看起来正常", "✅ {target} looks healthy"),
            HealthyNote => ("没有发现故障迹象。", "No sign of a failure."),
            NoVerdict => (
                "⚠️ {target} 不正常，但没有匹配到已知原因",
                "⚠️ {target} is not well, and no known cause matched",
            ),
            UnknownTarget => ("找不到「{target}」{place}。", "No \"{target}\"{place}."),
            Closest => ("你是不是想找：{names}？", " Did you mean: {names}?"),
            LikelyCause => ("可能原因：{cause}", "Likely cause: {cause}"),
            ReplyForDetails => (
                "回复 /diagnose {name} 查看详情",
                "Reply /diagnose {name} for details",
            ),
            StateLine => ("状态：{state}", "State: {state}"),
            ExitLine => ("退出码：{code}", "Exit code: {code}"),
            OomLine => ("OOMKilled：{oom}", "OOMKilled: {oom}"),
            ErrorLine => ("引擎报错：{error}", "Engine error: {error}"),
            RestartLine => (
                "重启次数：{count}（策略 {policy}）",
                "Restarts: {count} (policy {policy})",
            ),
            HealthLine => ("健康检查：{health}", "Health check: {health}"),
            LogLine => ("日志：{line}", "Log: {line}"),
            EventLine => ("事件：{event}", "Event: {event}"),
            MemoryLine => (
                "内存：{usage} / 限制 {limit}",
                "Memory: {usage} of a {limit} limit",
            ),
            PlatformLine => (
                "镜像平台 {image}，引擎 {engine}",
                "Image platform {image}, engine {engine}",
            ),
            PortHeldBy => (
                "宿主机端口 {port} 被容器 {holder} 占用",
                "Host port {port} is held by container {holder}",
            ),
            ReadOnlyRoot => ("根文件系统只读", "Read-only root file system"),
            DiskLine => ("引擎磁盘占用：{disk}", "Engine disk use: {disk}"),
            UnknownKind => (
                "不认识的目标「{target}」：用容器名，或 pod/NAME、deploy/NAME、node/NAME。",
                "Unknown target \"{target}\": give a container name, or pod/NAME, deploy/NAME, node/NAME.",
            ),
            PodPhaseLine => ("Pod 阶段：{phase}", "Pod phase: {phase}"),
            ContainerStateLine => ("容器 {name}：{state}", "Container {name}: {state}"),
            ConditionLine => ("条件：{conditions}", "Conditions: {conditions}"),
            NodeLine => ("节点 {node}：{state}", "Node {node}: {state}"),
            PvcLine => ("PVC {name}：{phase}", "PVC {name}: {phase}"),
            PullSecretLine => ("imagePullSecrets：{secrets}", "imagePullSecrets: {secrets}"),
            RolloutLine => ("发布：{rollout}", "Rollout: {rollout}"),
            ProbeLine => ("探针：{probes}", "Probes: {probes}"),
            JobLine => ("所属 job/{name}：{state}", "Owned by job/{name}: {state}"),
            HpaLine => ("hpa/{name}：{state}", "hpa/{name}: {state}"),
            ResourcesLine => (
                "资源：requests {requests}，limits {limits}",
                "Resources: requests {requests}, limits {limits}",
            ),
        }
    }

    pub fn get(self, lang: Lang) -> &'static str {
        let (zh, en) = self.pair();
        lang.pick(zh, en)
    }

    /// The sentence with `{key}` slots filled.
    pub fn fill(self, lang: Lang, vars: &[(&str, &str)]) -> String {
        let mut s = self.get(lang).to_string();
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

/// "是" / "yes".
pub fn yes_no(lang: Lang, b: bool) -> &'static str {
    match (lang, b) {
        (Lang::Zh, true) => "是",
        (Lang::Zh, false) => "否",
        (Lang::En, true) => "yes",
        (Lang::En, false) => "no",
    }
}

/// Names joined the way each language lists them ("a、b" / "a, b").
pub fn join_names(lang: Lang, names: &[String]) -> String {
    names.join(lang.pick("、", ", "))
}
