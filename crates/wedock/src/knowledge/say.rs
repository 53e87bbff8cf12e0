//! The fixed sentences of `/diagnose` and of the answer to a pasted error, named: each
//! [`Say`] is a key of the catalog's `[diagnose]` section. `{name}` slots are filled by
//! [`Say::fill`].

use crate::i18n::{Lang, catalog};

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
    /// The sentence in `lang`, from the catalog's `[diagnose]` section.
    pub fn get(self, lang: Lang) -> &'static str {
        use Say::*;
        match self {
            Recognised => catalog::get(lang, "diagnose.recognised"),
            FixSteps => catalog::get(lang, "diagnose.fix_steps"),
            Evidence => catalog::get(lang, "diagnose.evidence"),
            AlsoPossible => catalog::get(lang, "diagnose.also_possible"),
            Background => catalog::get(lang, "diagnose.background"),
            NextCommands => catalog::get(lang, "diagnose.next_commands"),
            Healthy => catalog::get(lang, "diagnose.healthy"),
            HealthyNote => catalog::get(lang, "diagnose.healthy_note"),
            NoVerdict => catalog::get(lang, "diagnose.no_verdict"),
            UnknownTarget => catalog::get(lang, "diagnose.unknown_target"),
            Closest => catalog::get(lang, "diagnose.closest"),
            LikelyCause => catalog::get(lang, "diagnose.likely_cause"),
            ReplyForDetails => catalog::get(lang, "diagnose.reply_for_details"),
            StateLine => catalog::get(lang, "diagnose.state_line"),
            ExitLine => catalog::get(lang, "diagnose.exit_line"),
            OomLine => catalog::get(lang, "diagnose.oom_line"),
            ErrorLine => catalog::get(lang, "diagnose.error_line"),
            RestartLine => catalog::get(lang, "diagnose.restart_line"),
            HealthLine => catalog::get(lang, "diagnose.health_line"),
            LogLine => catalog::get(lang, "diagnose.log_line"),
            EventLine => catalog::get(lang, "diagnose.event_line"),
            MemoryLine => catalog::get(lang, "diagnose.memory_line"),
            PlatformLine => catalog::get(lang, "diagnose.platform_line"),
            PortHeldBy => catalog::get(lang, "diagnose.port_held_by"),
            ReadOnlyRoot => catalog::get(lang, "diagnose.read_only_root"),
            DiskLine => catalog::get(lang, "diagnose.disk_line"),
            UnknownKind => catalog::get(lang, "diagnose.unknown_kind"),
            PodPhaseLine => catalog::get(lang, "diagnose.pod_phase_line"),
            ContainerStateLine => catalog::get(lang, "diagnose.container_state_line"),
            ConditionLine => catalog::get(lang, "diagnose.condition_line"),
            NodeLine => catalog::get(lang, "diagnose.node_line"),
            PvcLine => catalog::get(lang, "diagnose.pvc_line"),
            PullSecretLine => catalog::get(lang, "diagnose.pull_secret_line"),
            RolloutLine => catalog::get(lang, "diagnose.rollout_line"),
            ProbeLine => catalog::get(lang, "diagnose.probe_line"),
            JobLine => catalog::get(lang, "diagnose.job_line"),
            HpaLine => catalog::get(lang, "diagnose.hpa_line"),
            ResourcesLine => catalog::get(lang, "diagnose.resources_line"),
        }
    }

    /// The sentence with `{key}` slots filled.
    pub fn fill(self, lang: Lang, vars: &[(&str, &str)]) -> String {
        catalog::fill_text(self.get(lang), vars)
    }
}

/// "是" / "yes".
pub fn yes_no(lang: Lang, b: bool) -> &'static str {
    if b {
        t!(lang, "diagnose.yes")
    } else {
        t!(lang, "diagnose.no")
    }
}

/// Names joined the way each language lists them ("a、b" / "a, b").
pub fn join_names(lang: Lang, names: &[String]) -> String {
    names.join(t!(lang, "diagnose.name_separator"))
}
