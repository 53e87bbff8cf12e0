//! The catalogue's text patterns, compiled only when a text may match them.
//!
//! Compiling all 398 failure-signature patterns took 11–16 MB and every chat question ran
//! each of them (docs/performance.md). Instead, each pattern is checked for syntax at load
//! and reduced to the literals every match must contain ("no space left on device", "exec
//! format error"); one Aho–Corasick automaton over all of them says which patterns a text
//! could match, and only those are compiled (once) and run. A pattern without a usable
//! literal is always a candidate, so the answer is the same as running every pattern.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};
use regex_syntax::hir::{Class, Hir, HirKind};
use std::sync::OnceLock;

/// Longest compiled pattern (bytes of the regex program): the catalogue is trusted but a
/// typo like `(a+)+{1000}` should fail, not the host.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// A literal shorter than this says too little to skip a pattern by.
const MIN_LITERAL: usize = 3;
/// More alternatives than this and the pattern is simply always a candidate.
const MAX_ALTERNATIVES: usize = 32;
/// Characters that fold to an ASCII letter under Unicode case-insensitivity (KELVIN SIGN →
/// k, LATIN SMALL LETTER LONG S → s). A text holding one skips the prefilter, so the
/// ASCII-folding automaton never hides a match the regex would find.
const NON_ASCII_FOLDS: [char; 2] = ['\u{212A}', '\u{17F}'];

/// One pattern: checked at load, compiled on first use.
#[derive(Debug)]
pub struct Pattern {
    /// Index in the catalogue's prefilter.
    id: usize,
    /// The pattern as compiled (ASCII `\w`, `\d`, `\b`; see [`ascii_classes`]).
    source: String,
    names: Vec<String>,
    /// At least one of these is in every match (ASCII case-insensitive); `None`: no literal
    /// worth filtering by.
    literals: Option<Vec<Vec<u8>>>,
    compiled: OnceLock<Option<Regex>>,
}

impl Pattern {
    /// Checks a catalogue pattern (case-insensitive, with ASCII classes, as it will be
    /// compiled) and finds its literals.
    pub fn new(id: usize, written: &str) -> Result<Pattern, String> {
        let source = ascii_classes(written);
        let hir = regex_syntax::ParserBuilder::new()
            .case_insensitive(true)
            .build()
            .parse(&source)
            .map_err(|e| e.to_string())?;
        let mut names = Vec::new();
        capture_names(&hir, &mut names);
        let literals = info(&hir)
            .required()
            .filter(|set| set.iter().all(|l| l.len() >= MIN_LITERAL));
        Ok(Pattern {
            id,
            source,
            names,
            literals,
            compiled: OnceLock::new(),
        })
    }

    /// Named groups, in pattern order.
    pub fn capture_names(&self) -> &[String] {
        &self.names
    }

    /// The compiled regex (compiled now if this is its first use); `None` when it is too big
    /// to compile, which is logged once.
    pub fn regex(&self) -> Option<&Regex> {
        self.compiled
            .get_or_init(|| {
                let built = RegexBuilder::new(&self.source)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build();
                match built {
                    Ok(re) => Some(re),
                    Err(e) => {
                        tracing::error!(pattern = %self.source, error = %e, "signature pattern does not compile");
                        metrics::counter!("wedock_errors_total", "reason" => "signature_pattern")
                            .increment(1);
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Whether the pattern has been compiled (tests: laziness is what saves the memory).
    #[cfg(test)]
    pub fn is_compiled(&self) -> bool {
        self.compiled.get().is_some()
    }
}

/// Which patterns a text may match.
#[derive(Debug)]
pub struct Prefilter {
    automaton: Option<AhoCorasick>,
    /// For each literal of the automaton, the patterns that need it.
    owners: Vec<Vec<usize>>,
    /// Patterns without literals: candidates for every text.
    always: Vec<usize>,
    patterns: usize,
}

/// The candidate patterns for some texts, by pattern id.
pub struct Candidates(Vec<bool>);

impl Candidates {
    pub fn has(&self, p: &Pattern) -> bool {
        self.0.get(p.id).copied().unwrap_or(true)
    }
}

impl Prefilter {
    /// The prefilter over `patterns` (their ids must be 0..n).
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a Pattern>) -> Prefilter {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        let mut count = 0;
        for p in patterns {
            count = count.max(p.id + 1);
            match &p.literals {
                None => always.push(p.id),
                Some(set) => {
                    for l in set {
                        match literals.iter().position(|x| x == l) {
                            Some(i) => owners[i].push(p.id),
                            None => {
                                literals.push(l.clone());
                                owners.push(vec![p.id]);
                            }
                        }
                    }
                }
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&literals);
        let automaton = match automaton {
            Ok(a) => Some(a),
            Err(e) => {
                // Every pattern stays a candidate: slower, never wrong.
                tracing::error!(error = %e, "signature prefilter could not be built");
                None
            }
        };
        Prefilter {
            automaton,
            owners,
            always,
            patterns: count,
        }
    }

    /// The patterns any of `texts` may match.
    pub fn candidates<T: AsRef<str>>(&self, texts: &[T]) -> Candidates {
        let Some(ac) = &self.automaton else {
            return Candidates(vec![true; self.patterns]);
        };
        if texts
            .iter()
            .any(|t| t.as_ref().contains(NON_ASCII_FOLDS.as_slice()))
        {
            return Candidates(vec![true; self.patterns]);
        }
        let mut out = vec![false; self.patterns];
        for &id in &self.always {
            out[id] = true;
        }
        for t in texts {
            for m in ac.find_overlapping_iter(t.as_ref()) {
                for &id in &self.owners[m.pattern().as_usize()] {
                    out[id] = true;
                }
            }
        }
        Candidates(out)
    }
}

/// The pattern with ASCII meanings for `\b`, `\w` and `\d`.
///
/// - `\b`: Han characters are word characters to Unicode, so `\bOOMKilled\b` would miss
///   "状态OOMKilled了" in a mixed Chinese paste.
/// - `\w` and `\d`: what they capture in error strings are names, hosts, ports and counts,
///   which are ASCII; their Unicode classes made every pattern that used them compile to
///   hundreds of kilobytes (the 398 patterns took 35 MB of memory, 11 MB with ASCII classes,
///   measured with the built-in catalogue). `\s` stays Unicode: Chinese text has full-width
///   spaces.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside `[…]` a class is written `[:word:]`, outside `[[:word:]]`.
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('b') => out.push_str("(?-u:\\b)"),
                Some(n @ ('w' | 'd')) => {
                    let name = if n == 'w' { "word" } else { "digit" };
                    if in_class {
                        out.push_str(&format!("[:{name}:]"));
                    } else {
                        out.push_str(&format!("[[:{name}:]]"));
                    }
                }
                Some(n) => {
                    out.push(c);
                    out.push(n);
                }
                None => out.push(c),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // `[]…]` and `[^]…]` hold a literal `]`.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn capture_names(hir: &Hir, out: &mut Vec<String>) {
    match hir.kind() {
        HirKind::Capture(c) => {
            if let Some(n) = &c.name {
                out.push(n.to_string());
            }
            capture_names(&c.sub, out);
        }
        HirKind::Repetition(r) => capture_names(&r.sub, out),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            subs.iter().for_each(|s| capture_names(s, out))
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

/// What a piece of pattern says about the text it matches.
#[derive(Default)]
struct Info {
    /// It matches exactly this (ASCII letters lowercased; case-insensitively).
    exact: Option<Vec<u8>>,
    /// Every match contains one of these.
    required: Option<Vec<Vec<u8>>>,
}

impl Info {
    fn exact(bytes: Vec<u8>) -> Info {
        Info {
            exact: Some(bytes),
            required: None,
        }
    }

    fn required(self) -> Option<Vec<Vec<u8>>> {
        match self.exact {
            Some(e) => Some(vec![e]),
            None => self.required,
        }
    }
}

/// How selective a set of required literals is: its shortest literal (longer is rarer).
fn strength(set: &[Vec<u8>]) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if strength(&b) > strength(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn info(hir: &Hir) -> Info {
    match hir.kind() {
        // Zero-width: consumes nothing, so the text around it is contiguous.
        HirKind::Empty | HirKind::Look(_) => Info::exact(Vec::new()),
        HirKind::Literal(l) => Info::exact(l.0.to_ascii_lowercase()),
        HirKind::Class(c) => match one_char(c) {
            Some(b) => Info::exact(b),
            None => Info::default(),
        },
        HirKind::Capture(c) => info(&c.sub),
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return Info::default();
            }
            let sub = info(&r.sub);
            match (sub.exact, r.max) {
                (Some(e), Some(max)) if max == r.min && e.len() * (max as usize) <= 256 => {
                    Info::exact(e.repeat(max as usize))
                }
                (Some(e), _) => Info {
                    exact: None,
                    required: Some(vec![e]),
                },
                (None, _) => Info {
                    exact: None,
                    required: sub.required,
                },
            }
        }
        HirKind::Concat(subs) => {
            // Adjacent exact pieces join into one longer literal; the most selective
            // literal (or child's requirement) stands for the whole.
            let mut run: Vec<u8> = Vec::new();
            let mut all_exact = true;
            let mut best: Option<Vec<Vec<u8>>> = None;
            for s in subs {
                let i = info(s);
                match i.exact {
                    Some(e) => run.extend_from_slice(&e),
                    None => {
                        all_exact = false;
                        if !run.is_empty() {
                            best = better(best, Some(vec![std::mem::take(&mut run)]));
                        }
                        best = better(best, i.required);
                    }
                }
            }
            if all_exact {
                return Info::exact(run);
            }
            if !run.is_empty() {
                best = better(best, Some(vec![run]));
            }
            Info {
                exact: None,
                required: best,
            }
        }
        HirKind::Alternation(subs) => {
            let mut set = Vec::new();
            for s in subs {
                match info(s).required() {
                    Some(r) => set.extend(r),
                    None => return Info::default(),
                }
            }
            if set.len() > MAX_ALTERNATIVES {
                return Info::default();
            }
            set.sort();
            set.dedup();
            Info {
                exact: None,
                required: Some(set),
            }
        }
    }
}

/// The text a class stands for when it is one character (`[.]`, `[磁]`) or one ASCII
/// letter's cases (`[Kk]`, or `[Kk\u{212A}]` under Unicode case folding), lowercased.
fn one_char(c: &Class) -> Option<Vec<u8>> {
    let mut chars: Vec<char> = Vec::new();
    match c {
        Class::Unicode(u) => {
            for r in u.ranges() {
                for ch in r.start()..=r.end() {
                    chars.push(ch);
                    if chars.len() > 3 {
                        return None;
                    }
                }
            }
        }
        // Bytes: only an ASCII byte (with its other case) is text we can name.
        Class::Bytes(b) => {
            for r in b.ranges() {
                for byte in r.start()..=r.end() {
                    if !byte.is_ascii() || chars.len() == 2 {
                        return None;
                    }
                    chars.push(char::from(byte));
                }
            }
        }
    }
    if let [only] = chars.as_slice() {
        return Some(only.to_string().into_bytes().to_ascii_lowercase());
    }
    let mut ascii = chars.iter().filter(|c| c.is_ascii());
    let first = ascii.next()?.to_ascii_lowercase();
    let letter_cases = first.is_ascii_lowercase()
        && ascii.all(|c| c.to_ascii_lowercase() == first)
        && chars
            .iter()
            .filter(|c| !c.is_ascii())
            .all(|c| NON_ASCII_FOLDS.contains(c));
    letter_cases.then(|| vec![first as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &str) -> Option<Vec<String>> {
        Pattern::new(0, p).unwrap().literals.map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        })
    }

    #[test]
    fn backslash_classes_mean_ascii() {
        assert_eq!(ascii_classes(r"\bx\\b\d"), r"(?-u:\b)x\\b[[:digit:]]");
        assert_eq!(
            ascii_classes(r"(?P<h>[\w.\-]+):\d+ [^\s\]]\w"),
            r"(?P<h>[[:word:].\-]+):[[:digit:]]+ [^\s\]][[:word:]]"
        );
        assert_eq!(
            ascii_classes(r"[]\w] \[\w\]"),
            r"[][:word:]] \[[[:word:]]\]"
        );
        for p in [r"[\w.\-]+", r"\d{3}", r"[^\s\w]"] {
            let re = regex::Regex::new(&ascii_classes(p)).unwrap();
            assert!(!re.is_match("镜像") || p.starts_with("[^"), "{p}");
        }
    }

    #[test]
    fn literals_are_what_every_match_must_contain() {
        assert_eq!(
            lits("no space left on device").unwrap(),
            ["no space left on device"]
        );
        assert_eq!(lits(r"(?-u:\b)OOMKilled(?-u:\b)").unwrap(), ["oomkilled"]);
        // The longest piece of a concatenation.
        assert_eq!(
            lits(r"port (?P<port>[[:digit:]]+) is already allocated").unwrap(),
            [" is already allocated"]
        );
        // Alternatives: one of them.
        assert_eq!(
            lits("exec format error|cannot execute binary file").unwrap(),
            ["cannot execute binary file", "exec format error"]
        );
        // Chinese text is literal too.
        assert_eq!(lits("磁盘已满").unwrap(), ["磁盘已满"]);
        // Nothing required: always a candidate.
        assert_eq!(lits(r"(foo)?[[:digit:]]+"), None);
        assert_eq!(
            lits("ab|cdef"),
            None,
            "a two-byte alternative says too little"
        );
    }

    #[test]
    fn candidates_never_hide_a_match() {
        let sources = [
            "no space left on device",
            r"(?P<name>[[:word:]]+) exited with code [[:digit:]]+",
            r"[[:digit:]]+",
            "kill",
        ];
        let patterns: Vec<Pattern> = sources
            .iter()
            .enumerate()
            .map(|(i, s)| Pattern::new(i, s).unwrap())
            .collect();
        let pre = Prefilter::new(&patterns);
        for text in [
            "write /var/lib: NO SPACE LEFT ON DEVICE",
            "api Exited With Code 137",
            "nothing here",
            "OOM \u{212A}ILL", // Kelvin sign: the regex folds it to k
            "",
        ] {
            let c = pre.candidates(&[text]);
            for p in &patterns {
                if p.regex().unwrap().is_match(text) {
                    assert!(c.has(p), "{text:?} matches {:?} but was filtered", p.source);
                }
            }
        }
        let c = pre.candidates(&["nothing here"]);
        assert!(!c.has(&patterns[0]) && !c.has(&patterns[1]) && !c.has(&patterns[3]));
        assert!(c.has(&patterns[2]), "no literal: always a candidate");
    }

    /// Every question and pasted error of the evaluation corpus: the prefilter keeps every
    /// built-in pattern that matches it, and every built-in pattern compiles.
    #[test]
    fn the_builtin_catalogue_loses_no_match_to_the_prefilter() {
        let catalog = crate::knowledge::signatures::Catalog::builtin().unwrap();
        let patterns: Vec<&Pattern> = catalog.all_patterns().collect();
        let eval = [
            include_str!("../../../../knowledge/eval/pasted-errors.toml"),
            include_str!("../../../../knowledge/eval/pasted-everyday.toml"),
            include_str!("../../../../knowledge/eval/pasted-tools-and-platform.toml"),
            include_str!("../../../../knowledge/eval/docker.toml"),
            include_str!("../../../../knowledge/eval/kubernetes.toml"),
            include_str!("../../../../knowledge/eval/troubleshooting.toml"),
            include_str!("../../../../knowledge/eval/offtopic-and-mixed.toml"),
        ];
        let mut texts = Vec::new();
        for file in eval {
            let v: toml::Value = toml::from_str(file).unwrap();
            for case in v["case"].as_array().unwrap() {
                texts.push(case["q"].as_str().unwrap().to_string());
            }
        }
        assert!(texts.len() > 500, "{} texts", texts.len());
        let (mut matched, mut skipped) = (0, 0);
        for text in &texts {
            let c = catalog.prefilter().candidates(&[text]);
            for p in &patterns {
                let re = p
                    .regex()
                    .unwrap_or_else(|| panic!("{:?} does not compile", p.source));
                if re.is_match(text) {
                    matched += 1;
                    assert!(c.has(p), "{text:?} matches {:?} but was filtered", p.source);
                } else if !c.has(p) {
                    skipped += 1;
                }
            }
        }
        assert!(
            matched > 200,
            "only {matched} matches: the corpus no longer exercises this"
        );
        // The point of it: most patterns are never run on a text that cannot match them.
        let runs = texts.len() * patterns.len();
        assert!(skipped * 10 > runs * 9, "skipped {skipped} of {runs}");
        let without = patterns.iter().filter(|p| p.literals.is_none()).count();
        assert!(
            without * 10 < patterns.len(),
            "{without} of {} without a literal",
            patterns.len()
        );
    }

    #[test]
    fn a_question_compiles_no_pattern_that_cannot_match_it() {
        let catalog = crate::knowledge::signatures::Catalog::builtin().unwrap();
        assert_eq!(catalog.compiled_patterns(), 0, "nothing compiled at load");
        assert!(catalog.match_text("docker 镜像怎么瘦身").is_none());
        let always = catalog.prefilter().always.len();
        assert!(catalog.compiled_patterns() <= always);
        let m = catalog
            .match_text("Error response from daemon: driver failed programming external connectivity on endpoint web: Bind for 0.0.0.0:8080 failed: port is already allocated")
            .unwrap();
        assert!(m.signature.id.contains("port"), "{}", m.signature.id);
        assert!(catalog.compiled_patterns() < always + 10);
    }
}
