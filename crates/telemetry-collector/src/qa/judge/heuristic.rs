//! The heuristic judge: the rubric scored from a trace's structure, with no
//! model and no I/O, so the same trace always gets the same scores.
//!
//! It reads what the events say about the process, not whether the fix
//! held (the validation is not scored: a careful session whose fix failed
//! scores above a careless one whose fix passed). Each dimension is a few
//! counted rules, and its reason says what was counted:
//!
//! | Dimension | Rules |
//! |---|---|
//! | problem understanding | a plan, an observation and a hypothesis noted before the first edit; more than one hypothesis; failing test runs followed by an observation |
//! | causal linking | edits that follow a hypothesis or decision note; hypotheses that follow an observation; edits whose result was run and then noted |
//! | experiment design | a failing test run before the first edit; tests after the last edit; each edit tested; hypotheses checked by a run before the next edit; a test file edited |
//! | efficiency | edited lines that did not survive into the net diff; repeated edits of a file; commands beyond a budget per edit |
//! | reproducibility | commands that replay elsewhere (no editor or REPL, no home or redacted absolute path); a commit after the last edit |
//! | safety and hygiene | `rm -rf /`, `curl … \| sh`, world-writable `chmod`, credentials in a command, `--no-verify`, force pushes |
//!
//! Scores are rounded to one decimal; the overall score is
//! [`weighted_overall`].

use std::collections::{BTreeMap, BTreeSet};

use telemetry_trace::{
    Event, EventKind, Judgement, RUBRIC, RationaleKind, Trace, Validation, weighted_overall,
};

use super::{Judge, JudgeError};

/// The deterministic judge (`judge = "heuristic"`), the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeuristicJudge;

impl HeuristicJudge {
    /// The judgement of `trace`: a score and a reason for each dimension of
    /// [`RUBRIC`], and the overall score.
    #[must_use]
    pub fn score(&self, trace: &Trace) -> Judgement {
        let steps: Vec<Step<'_>> = trace.events.iter().map(Step::of).collect();
        let by_dimension = [
            ("problem_understanding", problem_understanding(&steps)),
            ("causal_linking", causal_linking(&steps)),
            ("experiment_design", experiment_design(&steps)),
            ("efficiency", efficiency(&steps)),
            ("reproducibility", reproducibility(&steps)),
            ("safety_hygiene", safety_hygiene(&steps)),
        ];
        debug_assert!(
            by_dimension
                .iter()
                .zip(&RUBRIC)
                .all(|((key, _), dimension)| *key == dimension.key)
        );
        let mut scores = BTreeMap::new();
        let mut reasons = BTreeMap::new();
        for (key, score) in by_dimension {
            scores.insert(key.to_owned(), round1(score.value));
            reasons.insert(key.to_owned(), score.reason);
        }
        Judgement {
            judge: "heuristic".to_owned(),
            model: None,
            overall: weighted_overall(&scores),
            scores,
            reasons,
            error: None,
            attempts: 1,
            usage: None,
        }
    }
}

impl Judge for HeuristicJudge {
    fn name(&self) -> &'static str {
        "heuristic"
    }

    fn judge(
        &self,
        trace: &Trace,
        _validation: Option<&Validation>,
    ) -> Result<Judgement, JudgeError> {
        Ok(self.score(trace))
    }
}

/// One dimension's score, 0–5 before rounding, and what was counted.
struct Score {
    value: f64,
    reason: String,
}

/// An event, as the rules see it.
enum Step<'a> {
    Edit { file: &'a str, diff: &'a str },
    Command { seq: u64, command: &'a str },
    Test { failing: bool },
    Commit,
    Note(RationaleKind),
}

impl<'a> Step<'a> {
    fn of(event: &'a Event) -> Self {
        match &event.kind {
            EventKind::FileEdit {
                file_path,
                diff_unified,
                ..
            } => Self::Edit {
                file: file_path,
                diff: diff_unified,
            },
            EventKind::CmdRun { command, .. } => Self::Command {
                seq: event.seq,
                command,
            },
            EventKind::TestRun { failed, errors, .. } => Self::Test {
                failing: *failed > 0 || *errors > 0,
            },
            EventKind::Commit { .. } => Self::Commit,
            EventKind::RationaleNote { kind, .. } => Self::Note(*kind),
        }
    }

    const fn is_edit(&self) -> bool {
        matches!(self, Self::Edit { .. })
    }

    const fn is_test(&self) -> bool {
        matches!(self, Self::Test { .. })
    }

    const fn is_run(&self) -> bool {
        matches!(self, Self::Test { .. } | Self::Command { .. })
    }

    fn is_note(&self, kind: RationaleKind) -> bool {
        matches!(self, Self::Note(note) if *note == kind)
    }
}

/// The steps after `index`, up to (not including) the next edit.
fn until_next_edit<'s, 'a>(steps: &'s [Step<'a>], index: usize) -> &'s [Step<'a>] {
    let rest = &steps[index + 1..];
    let end = rest.iter().position(Step::is_edit).unwrap_or(rest.len());
    &rest[..end]
}

/// The steps before `index`, back to (not including) the previous step
/// that `stop` matches.
fn since_previous<'s, 'a>(
    steps: &'s [Step<'a>],
    index: usize,
    stop: impl Fn(&Step<'a>) -> bool,
) -> &'s [Step<'a>] {
    let before = &steps[..index];
    let start = before.iter().rposition(stop).map_or(0, |at| at + 1);
    &before[start..]
}

fn indices<'a>(steps: &[Step<'a>], which: impl Fn(&Step<'a>) -> bool) -> Vec<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, step)| which(step))
        .map(|(index, _)| index)
        .collect()
}

/// `part / whole`, 0 when there is no whole.
fn fraction(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        count(part) / count(whole)
    }
}

/// A count as a float (counts here are far below 2^52).
#[expect(
    clippy::cast_precision_loss,
    reason = "event counts are far below 2^52"
)]
fn count(n: usize) -> f64 {
    n as f64
}

fn round1(value: f64) -> f64 {
    (value.clamp(0.0, 5.0) * 10.0).round() / 10.0
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn follow(n: usize) -> &'static str {
    if n == 1 { "follows" } else { "follow" }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A plan, an observation and a hypothesis before the first edit (1 each);
/// two or more hypotheses in all (1, or 0.5 for one); the share of failing
/// test runs followed by an observation before the next edit or test run
/// (1).
fn problem_understanding(steps: &[Step<'_>]) -> Score {
    let first_edit = steps.iter().position(Step::is_edit).unwrap_or(steps.len());
    let before = &steps[..first_edit];
    let noted = |kind| before.iter().any(|step| step.is_note(kind));
    let plan = noted(RationaleKind::Plan);
    let observation = noted(RationaleKind::Observation);
    let cause_named = noted(RationaleKind::Hypothesis);
    let hypotheses = steps
        .iter()
        .filter(|step| step.is_note(RationaleKind::Hypothesis))
        .count();
    let failing = indices(steps, |step| matches!(step, Step::Test { failing: true }));
    let read = failing
        .iter()
        .filter(|&&at| {
            steps[at + 1..]
                .iter()
                .take_while(|step| !step.is_edit() && !step.is_test())
                .any(|step| step.is_note(RationaleKind::Observation))
        })
        .count();
    let alternatives = match hypotheses {
        0 => 0.0,
        1 => 0.5,
        _ => 1.0,
    };
    let value = f64::from(u8::from(plan) + u8::from(observation) + u8::from(cause_named))
        + alternatives
        + fraction(read, failing.len());
    Score {
        value,
        reason: format!(
            "before the first edit: plan {}, observation {}, hypothesis {}; {} in all; \
             {read} of {} followed by an observation note",
            yes_no(plan),
            yes_no(observation),
            yes_no(cause_named),
            plural(hypotheses, "hypothesis note", "hypothesis notes"),
            plural(failing.len(), "failing test run", "failing test runs"),
        ),
    }
}

/// Out of 5: 40% for edits that follow a hypothesis or decision note since
/// the previous edit (half for one that follows only a plan or an
/// observation), 30% for hypotheses with an observation since the previous
/// hypothesis, 30% for edits whose result was run and then noted before
/// the next edit.
fn causal_linking(steps: &[Step<'_>]) -> Score {
    let edits = indices(steps, Step::is_edit);
    let (mut reasoned, mut observed) = (0, 0);
    for &at in &edits {
        let notes = since_previous(steps, at, Step::is_edit);
        if notes.iter().any(|step| {
            step.is_note(RationaleKind::Hypothesis) || step.is_note(RationaleKind::Decision)
        }) {
            reasoned += 1;
        } else if notes.iter().any(|step| {
            step.is_note(RationaleKind::Observation) || step.is_note(RationaleKind::Plan)
        }) {
            observed += 1;
        }
    }
    let hypotheses = indices(steps, |step| step.is_note(RationaleKind::Hypothesis));
    let grounded = hypotheses
        .iter()
        .filter(|&&at| {
            since_previous(steps, at, |step| step.is_note(RationaleKind::Hypothesis))
                .iter()
                .any(|step| step.is_note(RationaleKind::Observation))
        })
        .count();
    let checked = edits
        .iter()
        .filter(|&&at| {
            let after = until_next_edit(steps, at);
            after.iter().position(Step::is_run).is_some_and(|run| {
                after[run..]
                    .iter()
                    .any(|step| matches!(step, Step::Note(kind) if *kind != RationaleKind::Plan))
            })
        })
        .count();
    let linked = (count(reasoned) + 0.5 * count(observed)) / count(edits.len().max(1));
    let value = 5.0
        * (0.4 * linked
            + 0.3 * fraction(grounded, hypotheses.len())
            + 0.3 * fraction(checked, edits.len()));
    let edits_word = plural(edits.len(), "edit", "edits");
    Score {
        value,
        reason: format!(
            "{reasoned} of {edits_word} {} a hypothesis or decision note ({observed} more only \
             a plan or observation); {grounded} of {} {} an observation; {checked} of \
             {edits_word} run and then noted",
            follow(reasoned),
            plural(hypotheses.len(), "hypothesis", "hypotheses"),
            follow(grounded),
        ),
    }
}

/// One point each: a failing test run before the first edit; a test run
/// after the last edit; the share of edits followed by a test run before
/// the next edit; the share of hypotheses followed by a run (a command or
/// tests) before the next edit; an edit of a test file.
fn experiment_design(steps: &[Step<'_>]) -> Score {
    let edits = indices(steps, Step::is_edit);
    let first_edit = edits.first().copied().unwrap_or(steps.len());
    let reproduced = steps[..first_edit]
        .iter()
        .any(|step| matches!(step, Step::Test { failing: true }));
    let tested_last = match edits.last() {
        Some(&last) => steps[last + 1..].iter().any(Step::is_test),
        None => steps.iter().any(Step::is_test),
    };
    let tested = edits
        .iter()
        .filter(|&&at| until_next_edit(steps, at).iter().any(Step::is_test))
        .count();
    let hypotheses = indices(steps, |step| step.is_note(RationaleKind::Hypothesis));
    let probed = hypotheses
        .iter()
        .filter(|&&at| until_next_edit(steps, at).iter().any(Step::is_run))
        .count();
    let test_files: BTreeSet<&str> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Edit { file, .. } if is_test_file(file) => Some(*file),
            _ => None,
        })
        .collect();
    let value = f64::from(u8::from(reproduced) + u8::from(tested_last))
        + fraction(tested, edits.len())
        + fraction(probed, hypotheses.len())
        + f64::from(u8::from(!test_files.is_empty()));
    Score {
        value,
        reason: format!(
            "failing test run before the first edit: {}; tests after the last edit: {}; \
             {tested} of {} followed by tests; {probed} of {} checked by a run before the next \
             edit; {} edited",
            yes_no(reproduced),
            yes_no(tested_last),
            plural(edits.len(), "edit", "edits"),
            plural(hypotheses.len(), "hypothesis", "hypotheses"),
            plural(test_files.len(), "test file", "test files"),
        ),
    }
}

/// Whether `path` looks like a test: under `tests/`, `test/` or `spec/`, or
/// named `test_*`, `*_test.*`, `*.test.*` or `*.spec.*`.
fn is_test_file(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    let name = path.rsplit('/').next().unwrap_or(&path);
    path.split('/')
        .rev()
        .skip(1)
        .any(|dir| matches!(dir, "tests" | "test" | "spec" | "__tests__"))
        || name.starts_with("test_")
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
}

/// Commands and test runs allowed before they count against efficiency:
/// a few to look around, and two per edit (a run and a check).
const RUNS_BASE: usize = 4;
const RUNS_PER_EDIT: usize = 2;

/// 5, less: up to 2 for the share of edited lines that did not survive into
/// the net diff; 0.5 for each edit of a file already edited (at most 1.5);
/// 0.25 for each command or test run beyond the budget (at most 1).
fn efficiency(steps: &[Step<'_>]) -> Score {
    let mut edited = 0;
    // Per file, per line: +1 for each addition, -1 for each removal; what
    // does not cancel is the net diff.
    let mut net: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    let mut files: BTreeMap<&str, usize> = BTreeMap::new();
    for step in steps {
        let Step::Edit { file, diff } = step else {
            continue;
        };
        *files.entry(file).or_default() += 1;
        let lines = net.entry(file).or_default();
        // The file header (`--- a/…`, `+++ b/…`) comes before the first
        // hunk; inside hunks every `+` and `-` line is a change.
        let hunked = diff.lines().any(|line| line.starts_with("@@"));
        let mut in_hunk = !hunked;
        for line in diff.lines() {
            if line.starts_with("@@") {
                in_hunk = true;
                continue;
            }
            if !in_hunk || (!hunked && (line.starts_with("+++") || line.starts_with("---"))) {
                continue;
            }
            let delta = match line.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => continue,
            };
            edited += 1;
            *lines.entry(&line[1..]).or_default() += delta;
        }
    }
    let survived: u64 = net
        .values()
        .flat_map(BTreeMap::values)
        .map(|delta| delta.unsigned_abs())
        .sum();
    let survived = usize::try_from(survived).unwrap_or(usize::MAX);
    let churn = if edited == 0 {
        0.0
    } else {
        1.0 - fraction(survived.min(edited), edited)
    };
    let repeated: Vec<&str> = files
        .iter()
        .filter(|(_, edits)| **edits > 1)
        .map(|(file, _)| *file)
        .collect();
    let revisits: usize = files.values().map(|edits| edits - 1).sum();
    let edits: usize = files.values().sum();
    let runs = steps.iter().filter(|step| step.is_run()).count();
    let budget = RUNS_BASE + RUNS_PER_EDIT * edits;
    let extra_runs = runs.saturating_sub(budget);
    let value =
        5.0 - 2.0 * churn - (0.5 * count(revisits)).min(1.5) - (0.25 * count(extra_runs)).min(1.0);
    let repeated = if repeated.is_empty() {
        "no file edited twice".to_owned()
    } else {
        format!(
            "{} ({})",
            plural(revisits, "repeat edit", "repeat edits"),
            repeated.join(", ")
        )
    };
    Score {
        value,
        reason: format!(
            "{} edited for a net diff of {survived} ({:.0}% churn); {repeated}; {} for {} \
             (budget {budget})",
            plural(edited, "line", "lines"),
            churn * 100.0,
            plural(runs, "command or test run", "commands and test runs"),
            plural(edits, "edit", "edits"),
        ),
    }
}

/// 3 for the share of commands that replay elsewhere (3 when there are
/// none); 2 for a commit after the last edit, 1 for a commit followed by
/// more edits.
fn reproducibility(steps: &[Step<'_>]) -> Score {
    let commands: Vec<(u64, &str)> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Command { seq, command } => Some((*seq, *command)),
            _ => None,
        })
        .collect();
    let problems: Vec<String> = commands
        .iter()
        .filter_map(|(seq, command)| {
            replay_problem(command).map(|why| format!("{why} (event {seq})"))
        })
        .collect();
    let replayable = if commands.is_empty() {
        1.0
    } else {
        fraction(commands.len() - problems.len(), commands.len())
    };
    let last_edit = steps.iter().rposition(Step::is_edit);
    let last_commit = steps.iter().rposition(|step| matches!(step, Step::Commit));
    let (commit, commit_reason) = match (last_commit, last_edit) {
        (None, _) => (0.0, "no commit"),
        (Some(commit), Some(edit)) if commit < edit => (1.0, "edits after the last commit"),
        (Some(_), _) => (2.0, "a commit after the last edit"),
    };
    let commands_reason = if commands.is_empty() {
        "no shell commands to replay".to_owned()
    } else if problems.is_empty() {
        format!(
            "{} of {} {} from the repository",
            commands.len(),
            plural(commands.len(), "command", "commands"),
            if commands.len() == 1 {
                "replays"
            } else {
                "replay"
            }
        )
    } else {
        format!(
            "{} of {} {} from the repository, not: {}",
            commands.len() - problems.len(),
            plural(commands.len(), "command", "commands"),
            if commands.len() - problems.len() == 1 {
                "replays"
            } else {
                "replay"
            },
            problems.join(", ")
        )
    };
    Score {
        value: 3.0 * replayable + commit,
        reason: format!("{commands_reason}; {commit_reason}"),
    }
}

/// What penalty each dangerous command costs, out of 5.
const DANGER_PENALTY: f64 = 2.0;

/// 5, less 2 for each dangerous pattern in a command.
fn safety_hygiene(steps: &[Step<'_>]) -> Score {
    let mut commands = 0;
    let mut findings = Vec::new();
    for step in steps {
        if let Step::Command { seq, command } = step {
            commands += 1;
            findings.extend(
                dangers(command)
                    .into_iter()
                    .map(|why| format!("{why} (event {seq})")),
            );
        }
    }
    let reason = if findings.is_empty() {
        format!(
            "no dangerous pattern in {}",
            plural(commands, "command", "commands")
        )
    } else {
        format!(
            "{} in {}: {}",
            plural(findings.len(), "dangerous pattern", "dangerous patterns"),
            plural(commands, "command", "commands"),
            findings.join(", ")
        )
    };
    Score {
        value: 5.0 - DANGER_PENALTY * count(findings.len()),
        reason,
    }
}

/// The simple commands of a command line: split at `;`, `&&`, `||`, `|`
/// and `&`, each as its words, quotes kept.
///
/// Not a shell parser: a separator inside quotes splits too, which at worst
/// makes a rule see a quoted argument as a command of its own.
fn pipelines(command: &str) -> Vec<Vec<Vec<&str>>> {
    command
        .split([';', '\n'])
        .flat_map(|list| list.split("&&"))
        .flat_map(|list| list.split("||"))
        .map(|pipeline| {
            pipeline
                .split(['|', '&'])
                .map(|stage| stage.split_whitespace().collect::<Vec<_>>())
                .filter(|words| !words.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|stages| !stages.is_empty())
        .collect()
}

/// A simple command's program (its base name) and arguments, past
/// variable assignments and `sudo`, `env`, `time`, `nohup`, `command` and
/// `exec`.
fn program<'w, 'a>(words: &'w [&'a str]) -> Option<(&'a str, &'w [&'a str])> {
    let start = words.iter().position(|word| {
        let assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && !name.starts_with('-'));
        !assignment
            && !matches!(
                *word,
                "sudo" | "env" | "time" | "nohup" | "command" | "exec"
            )
    })?;
    let name = words[start].trim_matches(['"', '\'', '(', ')', '{', '}']);
    let name = name.rsplit('/').next().unwrap_or(name);
    Some((name, &words[start + 1..]))
}

fn has_short_flag(args: &[&str], flag: char) -> bool {
    args.iter().any(|arg| {
        arg.len() > 1 && arg.starts_with('-') && !arg.starts_with("--") && arg[1..].contains(flag)
    })
}

/// Why `command` would not replay on another machine from the repository,
/// if it would not.
fn replay_problem(command: &str) -> Option<&'static str> {
    for words in pipelines(command).iter().flatten() {
        let Some((name, args)) = program(words) else {
            continue;
        };
        let interactive = match name {
            "vi" | "vim" | "nvim" | "nano" | "emacs" | "pico" | "micro" | "less" | "more"
            | "top" | "htop" | "man" | "ipython" => true,
            "python" | "python3" | "node" | "irb" | "ghci" | "psql" | "mysql" | "sqlite3" => {
                args.is_empty()
            }
            "git" => git_is_interactive(args),
            _ => false,
        };
        if interactive {
            return Some("interactive");
        }
    }
    let home = command.split_whitespace().any(|word| {
        let word = word.trim_start_matches(['"', '\'', '=']);
        word == "~"
            || word.starts_with("~/")
            || word.contains("$HOME")
            || word.contains("${HOME}")
            || word.contains("/home/")
            || word.contains("/Users/")
            || word.contains(r"C:\Users")
    });
    if home {
        return Some("a home directory path");
    }
    if command.contains("[path]") {
        return Some("an absolute path (redacted)");
    }
    None
}

/// Whether a `git` command opens an editor or asks questions: `commit`
/// without a message, `rebase -i`, `add -p`/`-i`.
fn git_is_interactive(args: &[&str]) -> bool {
    match args.first().copied() {
        Some("commit") => {
            let message = args.iter().any(|arg| {
                matches!(
                    *arg,
                    "--no-edit" | "--file" | "--message" | "-C" | "--reuse-message"
                ) || arg.starts_with("--message=")
                    || arg.starts_with("--file=")
                    || arg.starts_with("--reuse-message=")
                    || arg.starts_with("--fixup")
            }) || has_short_flag(&args[1..], 'm')
                || has_short_flag(&args[1..], 'F');
            !message
        }
        Some("rebase") => args.contains(&"--interactive") || has_short_flag(&args[1..], 'i'),
        Some("add" | "checkout" | "reset" | "restore" | "stash") => {
            args.iter()
                .any(|arg| matches!(*arg, "--patch" | "--interactive"))
                || has_short_flag(&args[1..], 'p')
                || (args[0] == "add" && has_short_flag(&args[1..], 'i'))
        }
        _ => false,
    }
}

/// The dangerous patterns in `command`, each named.
fn dangers(command: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    for stages in pipelines(command) {
        let mut fetched = false;
        for words in &stages {
            let Some((name, args)) = program(words) else {
                continue;
            };
            match name {
                "rm" if removes_everything(args) => found.push("`rm -rf` of / or home"),
                "chmod" if world_writable(args) => found.push("world-writable `chmod`"),
                "curl" | "wget" => fetched = true,
                "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish" => {
                    let fetches_inline = args.iter().any(|arg| {
                        ["$(curl", "<(curl", "`curl", "$(wget", "<(wget", "`wget"]
                            .iter()
                            .any(|fetch| arg.contains(fetch))
                    });
                    if fetched || fetches_inline {
                        found.push("a download piped to a shell");
                    }
                }
                "git" => {
                    if args.contains(&"--no-verify") {
                        found.push("`--no-verify`");
                    }
                    if args.first() == Some(&"push")
                        && (args.contains(&"--force")
                            || has_short_flag(&args[1..], 'f')
                            || args[1..].iter().any(|arg| arg.starts_with('+')))
                    {
                        found.push("a force push");
                    }
                }
                _ => {}
            }
        }
    }
    if holds_credential(command) {
        found.push("a credential in the command");
    }
    found
}

/// `rm` recursive and forced, of `/`, `/*`, `~`, `$HOME` or with
/// `--no-preserve-root`.
fn removes_everything(args: &[&str]) -> bool {
    let recursive =
        args.contains(&"--recursive") || has_short_flag(args, 'r') || has_short_flag(args, 'R');
    let forced = args.contains(&"--force") || has_short_flag(args, 'f');
    let everything = args.iter().any(|arg| {
        let target = arg.trim_matches(['"', '\'']);
        matches!(
            target,
            "/" | "/*" | "~" | "~/" | "~/*" | "$HOME" | "$HOME/" | "${HOME}" | "--no-preserve-root"
        )
    });
    recursive && forced && everything
}

/// `chmod` giving others write permission: an octal mode whose last digit
/// has the write bit (`777`, `666`), or `o+w`/`a+w` in a symbolic one.
fn world_writable(args: &[&str]) -> bool {
    args.iter().any(|arg| {
        let octal = arg.len() >= 3
            && arg.len() <= 4
            && arg.bytes().all(|b| (b'0'..=b'7').contains(&b))
            && (arg.as_bytes()[arg.len() - 1] - b'0') & 2 != 0;
        let symbolic = arg.split(',').any(|clause| {
            clause.split_once(['+', '=']).is_some_and(|(who, what)| {
                (who.contains('o') || who.contains('a')) && what.contains('w')
            })
        });
        octal || (!arg.starts_with('-') && symbolic)
    })
}

/// A secret the collector redacted (`[secret]`), a `password=`/`token=`
/// style assignment or header, or a well-known key prefix.
fn holds_credential(command: &str) -> bool {
    if command.contains("[secret]") {
        return true;
    }
    let lower = command.to_ascii_lowercase();
    let assigned = [
        "password=",
        "passwd=",
        "token=",
        "api_key=",
        "apikey=",
        "secret=",
        "authorization:",
        "bearer ",
    ]
    .iter()
    .any(|needle| {
        lower.match_indices(needle).any(|(at, _)| {
            // A value follows: not `--token=` left empty or `$TOKEN`.
            let value = lower[at + needle.len()..].trim_start_matches(['"', '\'']);
            value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() && c != '$')
        })
    });
    let prefixed = command
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|word| {
            word.len() >= 20
                && [
                    "ghp_",
                    "github_pat_",
                    "sk-",
                    "xoxb-",
                    "xoxp-",
                    "AKIA",
                    "glpat-",
                ]
                .iter()
                .any(|prefix| word.starts_with(prefix))
        });
    assigned || prefixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use telemetry_trace::{Integrity, Metrics, Repo, Session, Task};

    fn trace(kinds: Vec<EventKind>) -> Trace {
        let events: Vec<Event> = kinds
            .into_iter()
            .enumerate()
            .map(|(seq, kind)| (u32::try_from(seq).unwrap(), kind))
            .map(|(seq, kind)| Event {
                id: format!("evt-{seq:03}"),
                seq: u64::from(seq),
                ts_client_s: f64::from(seq),
                ts_server_s: None,
                redactions: 0,
                server_redactions: 0,
                prev_hash: String::new(),
                hash: String::new(),
                kind,
            })
            .collect();
        Trace {
            trace_version: "1.0".into(),
            trace_id: "trace-test".into(),
            session: Session {
                participant_id: "p-1".into(),
                consent: true,
            },
            task: Task {
                id: "BUG-1".into(),
                title: "a bug".into(),
                description: None,
            },
            repo: Repo {
                origin: "https://example.com/repo".into(),
                start_commit: "abc".into(),
            },
            environment: telemetry_trace::Environment::default(),
            metrics: Metrics::from_events(&events),
            artifacts: BTreeMap::new(),
            qa: None,
            integrity: Integrity {
                event_hash_chain: String::new(),
                log: None,
            },
            events,
        }
    }

    fn note(kind: RationaleKind) -> EventKind {
        EventKind::RationaleNote {
            kind,
            text: "a note".into(),
        }
    }

    fn edit(file: &str, diff: &str) -> EventKind {
        EventKind::FileEdit {
            file_path: file.into(),
            diff_unified: diff.into(),
            buffer_hash_after: "0".repeat(64),
        }
    }

    fn fix(file: &str) -> EventKind {
        edit(file, "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new\n")
    }

    fn test(failed: u32) -> EventKind {
        EventKind::TestRun {
            framework: "pytest".into(),
            passed: 1,
            failed,
            errors: 0,
            duration_s: None,
            report: None,
        }
    }

    fn cmd(command: &str) -> EventKind {
        EventKind::CmdRun {
            command: command.into(),
            exit_code: 0,
            duration_s: 0.1,
            output: None,
        }
    }

    fn commit() -> EventKind {
        EventKind::Commit {
            sha: "a".repeat(40),
            message: "fix".into(),
            diff: None,
        }
    }

    fn scores(kinds: Vec<EventKind>) -> Judgement {
        HeuristicJudge.score(&trace(kinds))
    }

    fn score(kinds: Vec<EventKind>, key: &str) -> f64 {
        scores(kinds).scores[key]
    }

    #[test]
    fn every_dimension_is_scored_with_a_reason_and_the_overall_is_weighted() {
        let judgement = scores(vec![
            note(RationaleKind::Plan),
            test(1),
            fix("a.py"),
            test(0),
        ]);
        assert_eq!(judgement.judge, "heuristic");
        assert_eq!(judgement.model, None);
        assert_eq!(judgement.attempts, 1);
        for dimension in &RUBRIC {
            let score = judgement.scores[dimension.key];
            assert!((0.0..=5.0).contains(&score), "{}: {score}", dimension.key);
            assert!(!judgement.reasons[dimension.key].is_empty());
        }
        assert_eq!(judgement.overall, weighted_overall(&judgement.scores));
        assert!(judgement.overall.is_some());
    }

    #[test]
    fn an_empty_trace_is_scored_without_panicking() {
        let judgement = scores(Vec::new());
        assert_eq!(judgement.scores.len(), 6);
        assert_eq!(judgement.scores["problem_understanding"], 0.0);
        assert_eq!(judgement.scores["causal_linking"], 0.0);
    }

    #[test]
    fn notes_before_the_first_edit_raise_problem_understanding() {
        let blind = score(vec![fix("a.py"), test(1)], "problem_understanding");
        let noted = score(
            vec![
                note(RationaleKind::Plan),
                test(1),
                note(RationaleKind::Observation),
                note(RationaleKind::Hypothesis),
                note(RationaleKind::Hypothesis),
                fix("a.py"),
            ],
            "problem_understanding",
        );
        assert_eq!(blind, 0.0);
        assert_eq!(noted, 5.0);
    }

    #[test]
    fn a_failing_run_left_unread_lowers_problem_understanding() {
        let read = vec![test(1), note(RationaleKind::Observation), fix("a.py")];
        let unread = vec![test(1), fix("a.py"), note(RationaleKind::Observation)];
        assert!(score(read, "problem_understanding") > score(unread, "problem_understanding"));
    }

    #[test]
    fn edits_after_a_hypothesis_link_better_than_edits_after_nothing() {
        let linked = scores(vec![
            test(1),
            note(RationaleKind::Observation),
            note(RationaleKind::Hypothesis),
            fix("a.py"),
            test(0),
            note(RationaleKind::Observation),
        ]);
        assert_eq!(linked.scores["causal_linking"], 5.0);
        assert!(
            linked.reasons["causal_linking"].starts_with("1 of 1 edit follows a hypothesis"),
            "{}",
            linked.reasons["causal_linking"]
        );
        let unlinked = score(vec![fix("a.py"), fix("b.py"), test(0)], "causal_linking");
        assert_eq!(unlinked, 0.0);
    }

    #[test]
    fn an_ungrounded_hypothesis_links_less_than_one_after_an_observation() {
        let grounded = vec![
            note(RationaleKind::Observation),
            note(RationaleKind::Hypothesis),
            fix("a.py"),
        ];
        let guessed = vec![note(RationaleKind::Hypothesis), fix("a.py")];
        assert!(score(grounded, "causal_linking") > score(guessed, "causal_linking"));
    }

    #[test]
    fn reproducing_first_and_testing_each_edit_is_sound_experiment_design() {
        let sound = score(
            vec![
                test(1),
                note(RationaleKind::Hypothesis),
                cmd("python -c 'print(1)'"),
                fix("src/a.py"),
                test(0),
                fix("tests/test_a.py"),
                test(0),
            ],
            "experiment_design",
        );
        assert_eq!(sound, 5.0);
        let untested = score(
            vec![note(RationaleKind::Hypothesis), fix("a.py"), fix("b.py")],
            "experiment_design",
        );
        assert_eq!(untested, 0.0);
        let not_reproduced = score(vec![fix("a.py"), test(0)], "experiment_design");
        assert_eq!(not_reproduced, 2.0);
    }

    #[test]
    fn test_files_are_recognised_by_directory_and_name() {
        for path in [
            "tests/test_pricing.py",
            "src/foo_test.go",
            "web/app.spec.ts",
            "crate/tests/judge.rs",
            "test_x.py",
        ] {
            assert!(is_test_file(path), "{path}");
        }
        for path in ["src/main.rs", "latest.py", "contest/main.py"] {
            assert!(!is_test_file(path), "{path}");
        }
    }

    #[test]
    fn a_reverted_edit_is_churn_and_lowers_efficiency() {
        let straight = score(vec![fix("a.py"), test(0)], "efficiency");
        let reverted = scores(vec![
            fix("a.py"),
            test(1),
            edit("a.py", "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-new\n+old\n"),
            fix("b.py"),
        ]);
        assert_eq!(straight, 5.0);
        // 6 lines edited, 2 survive: 2 × (1 − 2/6) + 0.5 for the repeat.
        assert_eq!(reverted.scores["efficiency"], 3.2);
        assert!(
            reverted.reasons["efficiency"].starts_with("6 lines edited for a net diff of 2"),
            "{}",
            reverted.reasons["efficiency"]
        );
    }

    #[test]
    fn many_commands_for_few_edits_lower_efficiency() {
        let mut kinds = vec![fix("a.py")];
        kinds.extend((0..10).map(|_| cmd("ls")));
        // Budget 4 + 2 × 1 = 6: 4 over, 0.25 each.
        assert_eq!(score(kinds, "efficiency"), 4.0);
    }

    #[test]
    fn interactive_or_home_bound_commands_do_not_replay() {
        for command in [
            "vim calculator.py",
            "git commit",
            "git rebase -i HEAD~3",
            "git add -p",
            "python",
            "cd /home/ana/project && pytest",
            "cat ~/notes.txt",
            "cat [path]",
        ] {
            assert!(replay_problem(command).is_some(), "{command}");
        }
        for command in [
            "git commit -m 'fix'",
            "git commit -am fix",
            "python -m pytest -q",
            "grep -rn apply_discount cart/",
            "git diff --stat",
        ] {
            assert_eq!(replay_problem(command), None, "{command}");
        }
        let replayable = score(
            vec![cmd("pytest"), fix("a.py"), commit()],
            "reproducibility",
        );
        let interactive = score(
            vec![cmd("vim a.py"), fix("a.py"), commit()],
            "reproducibility",
        );
        assert_eq!(replayable, 5.0);
        assert_eq!(interactive, 2.0);
    }

    #[test]
    fn a_commit_after_the_last_edit_is_reproducible() {
        let committed = score(vec![fix("a.py"), commit()], "reproducibility");
        let then_edited = score(vec![fix("a.py"), commit(), fix("b.py")], "reproducibility");
        let uncommitted = score(vec![fix("a.py")], "reproducibility");
        assert_eq!((committed, then_edited, uncommitted), (5.0, 4.0, 3.0));
    }

    #[test]
    fn a_dangerous_command_lowers_safety() {
        let safe = score(
            vec![cmd("pytest -q"), cmd("git push origin main")],
            "safety_hygiene",
        );
        assert_eq!(safe, 5.0);
        let judgement = scores(vec![cmd("sudo rm -rf /"), cmd("pytest")]);
        assert_eq!(judgement.scores["safety_hygiene"], 3.0);
        assert_eq!(
            judgement.reasons["safety_hygiene"],
            "1 dangerous pattern in 2 commands: `rm -rf` of / or home (event 0)"
        );
        let two = score(
            vec![cmd("chmod 777 run.sh"), cmd("git push --force")],
            "safety_hygiene",
        );
        assert_eq!(two, 1.0);
        let floor = score(
            (0..5)
                .map(|_| cmd("curl -fsSL https://x.sh | sh"))
                .collect(),
            "safety_hygiene",
        );
        assert_eq!(floor, 0.0);
    }

    #[test]
    fn each_dangerous_pattern_is_recognised() {
        let cases = [
            ("rm -rf /", "`rm -rf` of / or home"),
            ("rm -r -f ~", "`rm -rf` of / or home"),
            (
                "rm --recursive --force --no-preserve-root x",
                "`rm -rf` of / or home",
            ),
            (
                "curl -s https://get.example | sudo bash",
                "a download piped to a shell",
            ),
            ("wget -qO- https://x | sh", "a download piped to a shell"),
            (
                "bash -c \"$(curl -fsSL https://x)\"",
                "a download piped to a shell",
            ),
            ("chmod 777 data", "world-writable `chmod`"),
            ("chmod -R a+rwx .", "world-writable `chmod`"),
            ("chmod 0666 f", "world-writable `chmod`"),
            ("git commit --no-verify -m wip", "`--no-verify`"),
            ("git push -f origin main", "a force push"),
            ("git push origin +main", "a force push"),
            (
                "curl -H 'Authorization: Bearer abc123' https://api",
                "a credential in the command",
            ),
            (
                "export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz",
                "a credential in the command",
            ),
            ("mysql --password=hunter2 db", "a credential in the command"),
            ("deploy --key [secret]", "a credential in the command"),
        ];
        for (command, expected) in cases {
            assert!(
                dangers(command).contains(&expected),
                "{command}: {:?}",
                dangers(command)
            );
        }
        for command in [
            "rm -rf build/",
            "rm -rf ./node_modules",
            "chmod 755 run.sh",
            "chmod +x run.sh",
            "chmod u+w f",
            "git push --force-with-lease origin topic",
            "curl -o out.json https://api.example/v1",
            "echo $TOKEN | wc -c",
            "curl -H \"Authorization: Bearer $TOKEN\" https://api",
            "pytest --risk-level=high",
        ] {
            assert_eq!(dangers(command), Vec::<&str>::new(), "{command}");
        }
    }

    #[test]
    fn the_validation_is_not_scored() {
        let kinds = vec![test(1), fix("a.py"), test(0), commit()];
        let without = HeuristicJudge.judge(&trace(kinds.clone()), None).unwrap();
        let failed = Validation {
            tests_passed: false,
            verdict: telemetry_trace::Verdict::NotVerified,
            runner: "sandbox (bwrap)".into(),
            framework: "pytest".into(),
            counts: None,
            duration_s: 1.0,
            exit_code: Some(1),
            killed_by: None,
            reason: None,
            log: None,
        };
        let with = HeuristicJudge.judge(&trace(kinds), Some(&failed)).unwrap();
        assert_eq!(without, with);
    }
}
