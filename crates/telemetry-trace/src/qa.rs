//! What the collector's QA pipeline records about a completed trace, in
//! the trace's `qa` field: where its job stands ([`QaJob`]), whether the fix
//! held when its tests were run again in a clean sandbox ([`Validation`]),
//! and the rubric's scores ([`Judgement`]).
//!
//! The rubric is the reference design's: six dimensions on a 0–5 scale,
//! weighted 20/25/20/15/10/10 ([`RUBRIC`]); the overall score is the
//! weighted mean ([`weighted_overall`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::artifact::ArtifactRef;

/// The QA pipeline's results, filled by the collector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Qa {
    /// Where the trace's QA job stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<QaJob>,
    /// The tests, run again in a clean environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Validation>,
    /// The rubric's scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judgement>,
}

/// A QA job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (again, after a failed attempt, once its backoff
    /// has passed).
    Queued,
    /// Claimed by a worker whose lease has not expired.
    Running,
    /// Validated and judged.
    Done,
    /// Given up on after its last attempt; `reason` says why.
    Failed,
}

impl JobState {
    /// The state's name, as stored and shown.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// The state named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// Where a trace's QA job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QaJob {
    /// Its state.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts it may take in all.
    pub max_attempts: u32,
    /// Why the last attempt failed, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it was enqueued, RFC 3339.
    pub enqueued_at: String,
    /// When its state last changed, RFC 3339.
    pub updated_at: String,
}

/// What a validation concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every test passed in the clean environment (and there was one).
    Verified,
    /// The tests ran and not every one passed, or none was found.
    NotVerified,
    /// The tests could not be judged: killed by a limit, the runner failed,
    /// or the report could not be read. `reason` says which.
    Error,
    /// Nothing to run: the trace has no workspace snapshot.
    Skipped,
}

impl Verdict {
    /// The verdict's name, as stored and shown.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::NotVerified => "not_verified",
            Self::Error => "error",
            Self::Skipped => "skipped",
        }
    }
}

/// Test counts, as a framework's report gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed an assertion.
    pub failed: u32,
    /// Tests that could not run (collection or set-up errors).
    pub errors: u32,
    /// Tests skipped or ignored.
    pub skipped: u32,
}

/// The tests of a trace, run again in a clean environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// The reference design's field: every test passed in the clean
    /// environment.
    pub tests_passed: bool,
    /// What that means, with the cases where it could not be told.
    pub verdict: Verdict,
    /// The runner, as it describes itself (`sandbox (bwrap)`,
    /// `sandbox (namespaces)`, `docker (python:3.11-slim)`).
    pub runner: String,
    /// The framework whose report was read (`pytest`, `cargo`, …).
    pub framework: String,
    /// The counts read from its report, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<TestCounts>,
    /// Wall-clock seconds the command ran.
    pub duration_s: f64,
    /// Its exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The limit that stopped it, when one did (`wall_clock`, `cpu`,
    /// `memory`, `processes`, `output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_by: Option<String>,
    /// Why it is not `verified`, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The command's output (stdout and stderr), stored as an artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<ArtifactRef>,
}

/// One dimension of the rubric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dimension {
    /// Its key in [`Judgement::scores`] (`problem_understanding`, …).
    pub key: &'static str,
    /// Its name, as shown.
    pub title: &'static str,
    /// Its weight in the overall score; the six sum to 1.
    pub weight: f64,
    /// What it rewards, as the reference design says.
    pub description: &'static str,
}

/// The reference design's rubric, in its order.
pub const RUBRIC: [Dimension; 6] = [
    Dimension {
        key: "problem_understanding",
        title: "Problem understanding",
        weight: 0.20,
        description: "Clear grasp of failure modes",
    },
    Dimension {
        key: "causal_linking",
        title: "Causal linking",
        weight: 0.25,
        description: "Connects observations to hypotheses to fixes",
    },
    Dimension {
        key: "experiment_design",
        title: "Experiment design",
        weight: 0.20,
        description: "Sound testing strategy",
    },
    Dimension {
        key: "efficiency",
        title: "Efficiency",
        weight: 0.15,
        description: "Minimal code churn",
    },
    Dimension {
        key: "reproducibility",
        title: "Reproducibility",
        weight: 0.10,
        description: "Actions clearly replayable",
    },
    Dimension {
        key: "safety_hygiene",
        title: "Safety and hygiene",
        weight: 0.10,
        description: "No dangerous commands",
    },
];

/// The weighted mean of `scores` under [`RUBRIC`], rounded to two decimals;
/// `None` unless every dimension has a score.
#[must_use]
pub fn weighted_overall(scores: &BTreeMap<String, f64>) -> Option<f64> {
    let mut total = 0.0;
    for dimension in &RUBRIC {
        total += dimension.weight * scores.get(dimension.key)?;
    }
    Some((total * 100.0).round() / 100.0)
}

/// Tokens a model judge used, and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgeUsage {
    /// Prompt tokens, over every attempt.
    pub prompt_tokens: u64,
    /// Completion tokens, over every attempt.
    pub completion_tokens: u64,
    /// US dollars at the configured prices, when prices are configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// The rubric's scores for a trace, or why there are none.
///
/// A judge that failed (a model that never answered in the rubric's shape)
/// is recorded with `error` and no scores: a score is never made up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Judgement {
    /// The judge: `heuristic` (scored from the trace's structure, not a
    /// model's opinion) or `openai` (a chat-completions model).
    pub judge: String,
    /// The model, for a model judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Scores 0–5 by dimension key ([`RUBRIC`]); empty when `error` is set.
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
    /// A one-line reason for each score, by dimension key.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
    /// The weighted mean of `scores`; `None` when `error` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall: Option<f64>,
    /// Why there are no scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Requests made (1 for the heuristic judge).
    pub attempts: u32,
    /// Tokens and cost, for a model judge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<JudgeUsage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rubric_weights_sum_to_one_in_the_reference_order() {
        let weights: Vec<f64> = RUBRIC.iter().map(|d| d.weight).collect();
        assert_eq!(weights, [0.20, 0.25, 0.20, 0.15, 0.10, 0.10]);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn overall_is_the_weighted_mean_and_needs_every_dimension() {
        let mut scores: BTreeMap<String, f64> =
            RUBRIC.iter().map(|d| (d.key.to_owned(), 3.0)).collect();
        assert_eq!(weighted_overall(&scores), Some(3.0));
        scores.insert("causal_linking".into(), 5.0);
        // 3 + 0.25 × 2
        assert_eq!(weighted_overall(&scores), Some(3.5));
        scores.remove("efficiency");
        assert_eq!(weighted_overall(&scores), None);
    }

    #[test]
    fn states_round_trip_by_name() {
        for state in [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
        ] {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
        assert_eq!(JobState::parse("lost"), None);
    }
}
