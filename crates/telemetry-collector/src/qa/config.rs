//! The `[qa]` section of the collector's configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which runner runs a trace's tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunnerKind {
    /// Linux namespaces, through `bwrap` when installed (the default: needs
    /// nothing else).
    Sandbox,
    /// A Docker container from `docker_image`.
    Docker,
}

/// How the sandbox runner isolates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// `bwrap` when it is on `PATH`, namespaces otherwise.
    Auto,
    /// `bwrap` (bubblewrap); an error when it is missing.
    Bwrap,
    /// util-linux `unshare` and `prlimit`.
    Namespaces,
}

/// Which judge scores a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgeKind {
    /// The deterministic heuristic judge (the default).
    Heuristic,
    /// An OpenAI-compatible chat-completions model (`[qa.openai]`).
    Openai,
}

/// The QA pipeline's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QaConfig {
    /// Whether completing a trace enqueues its QA job.
    pub enabled: bool,
    /// Workers `serve` runs (0: leave the jobs to `telemetry-collector
    /// worker` processes).
    pub workers: usize,
    /// Attempts a job may take in all.
    pub max_attempts: u32,
    /// The wait before the first retry, seconds; it doubles with each
    /// attempt, up to 10 minutes.
    pub backoff_seconds: u64,
    /// The longest one attempt may take, seconds (unpacking, tests, judge).
    pub timeout_seconds: u64,
    /// How long a claim holds without renewal, seconds; a worker renews it
    /// every third of that, so a job whose worker died is claimed again
    /// after at most this long.
    pub lease_seconds: u64,
    /// How often an idle worker looks for a job, milliseconds.
    pub poll_interval_ms: u64,
    /// The runner.
    pub runner: RunnerKind,
    /// The sandbox runner's isolation.
    pub sandbox: SandboxMode,
    /// Host paths the sandbox may read, mounted at the same place in bwrap
    /// mode (a toolchain outside `/usr`, say).
    pub read_only_paths: Vec<std::path::PathBuf>,
    /// The test command's limits (`[qa.limits]`).
    pub limits: crate::qa::runner::Limits,
    /// The Docker runner's image (never pulled: it must be present).
    pub docker_image: String,
    /// Variables passed to the test command, besides `PATH`, `HOME`,
    /// `TMPDIR` and `LANG`.
    pub env: BTreeMap<String, String>,
    /// The largest workspace snapshot, unpacked, in MiB.
    pub max_workspace_mb: u64,
    /// The judge.
    pub judge: JudgeKind,
    /// The OpenAI-compatible judge's settings (`judge = "openai"`).
    pub openai: crate::qa::judge::openai::OpenAiConfig,
}

impl Default for QaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            workers: 1,
            max_attempts: 3,
            backoff_seconds: 10,
            timeout_seconds: 900,
            lease_seconds: 60,
            poll_interval_ms: 1000,
            runner: RunnerKind::Sandbox,
            sandbox: SandboxMode::Auto,
            read_only_paths: Vec::new(),
            limits: crate::qa::runner::Limits::default(),
            docker_image: "python:3.11-slim".to_owned(),
            env: BTreeMap::new(),
            max_workspace_mb: 256,
            judge: JudgeKind::Heuristic,
            openai: crate::qa::judge::openai::OpenAiConfig::default(),
        }
    }
}

/// The longest backoff between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

impl QaConfig {
    /// Problems with the values, each naming its key.
    #[must_use]
    pub fn issues(&self) -> Vec<String> {
        let mut issues = Vec::new();
        if !(1..=20).contains(&self.max_attempts) {
            issues.push("`qa.max_attempts`: must be from 1 to 20".to_owned());
        }
        if self.workers > 64 {
            issues.push("`qa.workers`: must be at most 64".to_owned());
        }
        if self.lease_seconds < 3 {
            issues.push("`qa.lease_seconds`: must be at least 3".to_owned());
        }
        if self.timeout_seconds == 0 {
            issues.push("`qa.timeout_seconds`: must be at least 1".to_owned());
        }
        if self.poll_interval_ms == 0 {
            issues.push("`qa.poll_interval_ms`: must be at least 1".to_owned());
        }
        issues.extend(self.limits.issues());
        if self.judge == JudgeKind::Openai {
            issues.extend(self.openai.issues());
        }
        for path in &self.read_only_paths {
            if !path.is_absolute() {
                issues.push(format!(
                    "`qa.read_only_paths`: `{}` is not an absolute path",
                    path.display()
                ));
            }
        }
        if self.max_workspace_mb == 0 {
            issues.push("`qa.max_workspace_mb`: must be at least 1".to_owned());
        }
        for name in self.env.keys() {
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                issues.push(format!(
                    "`qa.env.{name}`: a variable name is letters, digits and `_`, not starting with a digit"
                ));
            }
        }
        issues
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failed.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(16);
        Duration::from_secs(self.backoff_seconds)
            .saturating_mul(1 << doublings)
            .min(MAX_BACKOFF)
    }

    /// How long a claim holds.
    #[must_use]
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        let config = QaConfig::default();
        let waits: Vec<u64> = (1..=8).map(|n| config.backoff(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 600, 600]);
    }

    #[test]
    fn bad_values_are_named() {
        let config = QaConfig {
            max_attempts: 0,
            lease_seconds: 1,
            env: [("1BAD".to_owned(), String::new())].into(),
            ..QaConfig::default()
        };
        let issues = config.issues().join("\n");
        assert!(issues.contains("`qa.max_attempts`"), "{issues}");
        assert!(issues.contains("`qa.lease_seconds`"), "{issues}");
        assert!(issues.contains("`qa.env.1BAD`"), "{issues}");
    }
}
