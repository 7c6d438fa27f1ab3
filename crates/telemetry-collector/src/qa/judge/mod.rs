//! Scoring a trace on the rubric ([`telemetry_trace::RUBRIC`]).
//!
//! A [`Judge`] turns a completed trace (and, when it ran, the validation of
//! its tests) into a [`Judgement`]: a 0–5 score and a one-line reason per
//! dimension, and the weighted overall score. Two judges exist:
//!
//! - [`HeuristicJudge`] (the default, `judge = "heuristic"`): deterministic,
//!   no I/O, scored from the trace's structure (which notes precede which
//!   edits, where the tests ran, how much of the edited code survived, which
//!   commands were run);
//! - [`OpenAiJudge`] (`judge = "openai"`, configured by `[qa.openai]`): an
//!   OpenAI-compatible chat-completions model asked for the rubric's shape
//!   through a strict JSON schema, as the reference design's
//!   `gpt-4o-mini` judge.

pub mod heuristic;
pub mod openai;

use std::sync::Arc;

use telemetry_trace::{Judgement, Trace, Validation};

pub use heuristic::HeuristicJudge;
pub use openai::{OpenAiConfig, OpenAiJudge};

use crate::qa::QaConfig;
use crate::qa::config::JudgeKind;

/// Something that scores a trace on the rubric.
pub trait Judge: Send + Sync + std::fmt::Debug {
    /// The name recorded in `Judgement::judge` ("heuristic", "openai").
    fn name(&self) -> &'static str;

    /// Scores `trace` on the rubric. Blocking; called on a blocking thread.
    /// `Ok` with `error: Some(..)` and no scores when a model never answered
    /// in the rubric's shape (never a made-up score); `Err` only for failures
    /// worth retrying the whole job later (connection refused, 5xx/429 after retries).
    fn judge(
        &self,
        trace: &Trace,
        validation: Option<&Validation>,
    ) -> Result<Judgement, JudgeError>;
}

/// A judge failure worth retrying the whole QA job later: the judge could
/// not be reached, or kept answering 5xx or 429.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JudgeError {
    /// What went wrong, in a sentence.
    pub message: String,
}

impl JudgeError {
    /// The error saying `message`.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// The judge `config` names, ready to use; `Err` names the bad key
/// (`` `qa.openai.model`: is empty ``), or the unset variable meant to hold
/// the API key.
pub fn from_config(config: &QaConfig) -> Result<Arc<dyn Judge>, String> {
    Ok(match config.judge {
        JudgeKind::Heuristic => Arc::new(HeuristicJudge),
        JudgeKind::Openai => Arc::new(OpenAiJudge::from_env(&config.openai)?),
    })
}
