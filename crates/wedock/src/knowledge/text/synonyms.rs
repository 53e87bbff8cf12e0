//! Synonym groups across zh and en (and their common misspellings): a query term also finds
//! documents that use another word of its group.

use super::*;

/// Groups of phrases that mean the same thing. A query that contains one phrase of a group also
/// searches for the others.
pub(super) const SYNONYMS: &[&[&str]] = &[
    &["k8s", "kubernetes", "kube"],
    &["svc", "service", "服务"],
    &["容器", "container", "ctr"],
    &["镜像", "image", "img"],
    &["探针", "probe", "健康检查", "healthcheck", "health check"],
    &["部署", "deployment", "deploy"],
    &["网络", "network", "net", "networking"],
    &["端口", "port"],
    &["退出码", "exit code", "退出状态", "返回码"],
    &["内存", "memory", "mem", "ram"],
    &["oom", "内存不足", "内存溢出", "out of memory", "oomkilled"],
    &["pod", "容器组"],
    &["卷", "volume", "volumn", "数据卷"],
    &["挂载", "mount", "bind mount"],
    &["节点", "node"],
    &["集群", "cluster"],
    &["调度", "schedule", "scheduler"],
    &["日志", "log", "logs"],
    &["重启", "restart", "reboot"],
    &["虚拟机", "vm", "virtual machine"],
    &["仓库", "registry", "repo"],
    &["命名空间", "namespace", "ns"],
    &["污点", "taint"],
    &["容忍", "toleration"],
    &["亲和", "affinity"],
    &["入口", "ingress"],
    &["副本", "replica", "replicaset", "rs"],
    &[
        "扩容",
        "scale",
        "scaling",
        "扩缩容",
        "autoscale",
        "autoscaling",
    ],
    &["自动扩缩", "hpa", "horizontal pod autoscaler"],
    &["滚动更新", "rolling update", "rollout"],
    &["回滚", "rollback", "undo"],
    &["磁盘", "disk", "storage", "存储"],
    &["权限", "permission", "denied", "拒绝"],
    &["负载均衡", "load balancer", "loadbalancer", "lb"],
    &["域名解析", "dns", "域名"],
    &["编排", "orchestration", "orchestrator"],
    &["构建", "build", "打包"],
    &["缓存", "cache"],
    &["多阶段", "multi stage", "multistage", "multi-stage"],
    &["守护进程", "daemon", "dockerd"],
    &["控制平面", "control plane", "master"],
    &["密钥", "secret", "secrets"],
    &["配置", "config", "configmap"],
    &["环境变量", "env", "environment variable"],
    &["信号", "signal", "sigterm", "sigkill"],
    &["僵尸进程", "zombie"],
    &["健康", "health", "healthy", "unhealthy"],
    &["拉取", "pull"],
    &["推送", "push"],
    &["卡住", "stuck", "hang"],
    &["待定", "pending"],
    &["驱逐", "evict", "evicted", "eviction"],
    &["有状态", "stateful", "statefulset"],
    &["守护", "daemonset"],
    &["定时任务", "cronjob", "cron"],
    &["任务", "job"],
    &["隔离", "isolation", "isolate"],
    &["进程", "process"],
    &["内核", "kernel"],
    &["分层", "layer", "layers", "镜像层"],
    &["启动", "start", "startup", "boot"],
    &["停止", "stop"],
    &["删除", "remove", "delete", "rm"],
    &[
        "连不上",
        "cannot connect",
        "connection refused",
        "连接不上",
        "不通",
        "unreachable",
    ],
    &["访问", "access", "reach"],
    &["外部", "external", "outside", "外网"],
    &["区别", "difference", "vs", "different"],
    // "What's the point of X" asks what X is for.
    &["用途", "purpose", "point", "用处"],
    &["大小", "size", "体积"],
    &["安全", "security", "secure"],
    &["资源", "resource", "resources"],
    &["限制", "limit", "limits"],
    &["请求", "request", "requests"],
    &["段错误", "segfault", "segmentation fault"],
    &["超时", "timeout"],
    &["存活", "liveness"],
    &["就绪", "readiness", "ready"],
    &["生命周期", "lifecycle"],
    &["静态", "static"],
    &["架构", "architecture", "组件", "component", "components"],
    &["通信", "communicate", "communication", "talk"],
    &["开发环境", "dev environment", "development"],
    &["交换机", "switch"],
    &["网桥", "bridge", "docker0"],
    &[
        "调度",
        "分配到",
        "decide which node",
        "assign",
        "placement",
        "schedul",
    ],
    &[
        "机器",
        "服务器",
        "主机",
        "宿主机",
        "host",
        "server",
        "machine",
    ],
    &["回退", "回滚", "rollback", "roll back", "revert"],
    &["掉线", "notready", "not ready", "失联"],
    &["赶走", "驱逐", "evict", "kicked"],
    &["定时", "每天", "凌晨", "cron", "periodic"],
    &["脚本", "script", "job"],
    &["清理", "prune", "clean", "cleanup", "清除"],
    &["轮转", "rotate", "rotation", "max-size"],
    &[
        "自启",
        "开机启动",
        "restart policy",
        "always",
        "unless-stopped",
    ],
    &["多个容器", "multiple containers", "compose"],
    &["compose", "compsoe", "docker-compose"],
    &["kubernetes", "kubernets", "kubernate", "kubernates"],
    &["pod", "podd", "pods"],
    &["缩小", "减小", "瘦身", "shrink", "smaller", "reduce"],
    &[
        "跨平台",
        "arm64",
        "amd64",
        "multi-platform",
        "buildx",
        "platform",
    ],
    &[
        "传到另一台",
        "another machine",
        "without a registry",
        "save",
        "load",
        "离线",
    ],
    &["root", "特权", "privileged", "rootless"],
    &["隔离", "namespace", "namespaces", "cgroup", "cgroups"],
    &["通信", "连接", "connect", "talk"],
    &["容器名", "container name", "hostname", "主机名", "dns"],
    &["回收", "gc", "garbage"],
    &["稳定地址", "stable address", "service", "clusterip"],
    &["后端", "backend", "endpoints", "endpoint"],
    &["外网", "internet", "outbound", "出网"],
    &["权限", "rbac", "role", "rolebinding", "授权"],
    &["日志", "logs", "log"],
    &[
        "密码",
        "api key",
        "api keys",
        "credential",
        "credentials",
        "secret",
    ],
    &["立刻", "马上", "immediately", "force", "强制"],
    &["停掉", "停止", "stop", "kill"],
    &["阶段", "phase", "phases", "lifecycle", "状态"],
    &[
        "组件",
        "component",
        "components",
        "pieces",
        "core components",
    ],
];

/// Tokens of one synonym phrase: words, Han bigrams, and Han characters no bigram covers
/// (so "多个容器" needs both 多 and 容器, not just 容器).
pub(super) fn phrase_key(p: &str) -> Vec<String> {
    let toks = tokenize(p);
    let in_bigram: std::collections::HashSet<char> = toks
        .iter()
        .filter(|t| t.kind == Kind::HanBi)
        .flat_map(|t| t.text.chars())
        .collect();
    toks.into_iter()
        .filter(|t| !t.text.starts_with('~'))
        .filter(|t| t.kind != Kind::HanUni || !t.text.chars().all(|c| in_bigram.contains(&c)))
        .map(|t| t.text)
        .collect()
}

pub(super) struct SynonymTable {
    /// Every phrase as its key tokens, with the group it belongs to.
    pub(super) phrases: Vec<(Vec<String>, usize)>,
    pub(super) groups: Vec<Vec<Vec<String>>>,
    /// Per first key token, the phrases (indices into `phrases`) that start with it: a query
    /// looks up its own tokens here instead of testing every phrase of the table.
    pub(super) by_first: HashMap<String, Vec<usize>>,
}

pub(super) static SYN: LazyLock<SynonymTable> = LazyLock::new(|| {
    let mut phrases = Vec::new();
    let mut groups = Vec::new();
    for (g, group) in SYNONYMS.iter().enumerate() {
        let mut keys = Vec::new();
        for p in group.iter() {
            let k = phrase_key(p);
            if !k.is_empty() {
                phrases.push((k.clone(), g));
                keys.push(k);
            }
        }
        groups.push(keys);
    }
    let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (k, _)) in phrases.iter().enumerate() {
        by_first.entry(k[0].clone()).or_default().push(i);
    }
    SynonymTable {
        phrases,
        groups,
        by_first,
    }
});

/// Every term of the synonym table: words the base is about, whatever the topic.
pub fn synonym_terms() -> impl Iterator<Item = &'static String> {
    SYN.phrases.iter().flat_map(|(k, _)| k.iter())
}
