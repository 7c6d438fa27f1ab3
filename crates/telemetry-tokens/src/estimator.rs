//! The output-token estimator: one prediction per call from a coefficient
//! per (category, complexity), and a budget from the prediction with
//! headroom, never below the category-aware base budget. The same code for
//! every provider.
//!
//! | category | complexity | base budget (floor) |
//! | --- | --- | --- |
//! | `docs`, `documentation`, `doc_synthesis`, `doc_sot_update` | `low` | 4096 |
//! | `tests` | `low` | 6144 |
//! | `implementation` | `low` | 8192 |
//! | any other | any | 8192 |
//!
//! The prediction is the group's coefficient, in output tokens: from the
//! coefficients file when it has the group, else [`default_coefficient`]
//! (2000 at `low`, 4000 at `medium`, 8000 at `high`, 4000 otherwise). The
//! budget is `max(base budget, ceil(prediction × 1.2))`.
//!
//! A coefficients file is JSON with a `coefficients` object keyed
//! `category/complexity`; a calibration patch has that object too, so the
//! estimator loads either:
//!
//! ```json
//! {"version": 1, "coefficients": {"implementation/low": 2800, "tests/medium": 4800}}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The budget's headroom over the prediction.
pub const BUDGET_HEADROOM: f64 = 1.2;

/// The floor of every budget not listed in the module's table.
pub const DEFAULT_BASE_BUDGET: u64 = 8192;

/// The categories treated as documentation.
pub const DOCS_CATEGORIES: [&str; 4] = ["docs", "documentation", "doc_synthesis", "doc_sot_update"];

/// The base budget (the floor) of a call of `category` at `complexity`.
///
/// ```
/// use telemetry_tokens::estimator::base_budget;
///
/// assert_eq!(base_budget("doc_synthesis", "low"), 4096);
/// assert_eq!(base_budget("tests", "low"), 6144);
/// assert_eq!(base_budget("docs", "high"), 8192);
/// ```
#[must_use]
pub fn base_budget(category: &str, complexity: &str) -> u64 {
    match (category, complexity) {
        (docs, "low") if DOCS_CATEGORIES.contains(&docs) => 4096,
        ("tests", "low") => 6144,
        _ => DEFAULT_BASE_BUDGET,
    }
}

/// The coefficient of a group no file names: the predicted output tokens
/// by complexity.
#[must_use]
pub fn default_coefficient(complexity: &str) -> f64 {
    match complexity {
        "low" => 2000.0,
        "high" => 8000.0,
        _ => 4000.0,
    }
}

/// `category/complexity`, the key of a group in files and reports.
#[must_use]
pub fn group_key(category: &str, complexity: &str) -> String {
    format!("{category}/{complexity}")
}

/// A coefficients file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoefficientsError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("{path}: not a coefficients file: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why, with line and column.
        source: serde_json::Error,
    },
    /// A key or value that makes no sense.
    #[error("{path}: coefficient {key:?}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Per-(category, complexity) coefficients, in predicted output tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Coefficients {
    /// `category/complexity` → tokens.
    pub coefficients: BTreeMap<String, f64>,
}

/// The file as read: only `coefficients` matters, so a patch loads too.
#[derive(Deserialize)]
struct CoefficientsFile {
    coefficients: BTreeMap<String, f64>,
}

impl Coefficients {
    /// Reads a coefficients file or a calibration patch.
    pub fn load(path: &Path) -> Result<Self, CoefficientsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CoefficientsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses the text of a file named `path` (for errors).
    pub fn parse(text: &str, path: &str) -> Result<Self, CoefficientsError> {
        let file: CoefficientsFile =
            serde_json::from_str(text).map_err(|source| CoefficientsError::Parse {
                path: path.to_owned(),
                source,
            })?;
        for (key, value) in &file.coefficients {
            let invalid = |reason: &str| CoefficientsError::Invalid {
                path: path.to_owned(),
                key: key.clone(),
                reason: reason.to_owned(),
            };
            match key.split_once('/') {
                Some((category, complexity))
                    if !category.is_empty()
                        && !complexity.is_empty()
                        && !complexity.contains('/') => {}
                _ => return Err(invalid("a key is `category/complexity`")),
            }
            if !(value.is_finite() && *value >= 1.0) {
                return Err(invalid("a coefficient is a number of tokens, at least 1"));
            }
        }
        Ok(Self {
            coefficients: file.coefficients,
        })
    }

    /// The coefficient of a group: the file's, else the default.
    #[must_use]
    pub fn get(&self, category: &str, complexity: &str) -> f64 {
        self.coefficients
            .get(&group_key(category, complexity))
            .copied()
            .unwrap_or_else(|| default_coefficient(complexity))
    }

    /// The file's text: pretty JSON with a version, keys sorted.
    #[must_use]
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({"version": 1, "coefficients": self.coefficients});
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// What the estimator says for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    /// Predicted output tokens (record as `estimated_output_tokens`).
    pub output_tokens: u64,
    /// The budget to ask for (record as `selected_budget`).
    pub budget: u64,
}

/// The estimator, with its coefficients.
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    coefficients: Coefficients,
}

impl Estimator {
    /// An estimator using `coefficients` (and the defaults for the rest).
    #[must_use]
    pub fn new(coefficients: Coefficients) -> Self {
        Self { coefficients }
    }

    /// The coefficients in use.
    #[must_use]
    pub fn coefficients(&self) -> &Coefficients {
        &self.coefficients
    }

    /// The prediction and budget of a call of `category` at `complexity`.
    ///
    /// ```
    /// use telemetry_tokens::estimator::{Coefficients, Estimator};
    ///
    /// let defaults = Estimator::default();
    /// let docs = defaults.estimate("docs", "low");
    /// assert_eq!((docs.output_tokens, docs.budget), (2000, 4096));
    /// let file = Coefficients::parse(r#"{"coefficients": {"implementation/low": 8000}}"#, "c.json")?;
    /// let big = Estimator::new(file).estimate("implementation", "low");
    /// assert_eq!((big.output_tokens, big.budget), (8000, 9600));
    /// # Ok::<(), telemetry_tokens::estimator::CoefficientsError>(())
    /// ```
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "coefficients are at least 1 token and far below u64::MAX"
    )]
    pub fn estimate(&self, category: &str, complexity: &str) -> Estimate {
        let predicted = self.coefficients.get(category, complexity).round().max(1.0);
        let with_headroom = (predicted * BUDGET_HEADROOM).ceil() as u64;
        Estimate {
            output_tokens: predicted as u64,
            budget: with_headroom.max(base_budget(category, complexity)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_budgets_follow_the_category_table() {
        for docs in DOCS_CATEGORIES {
            assert_eq!(base_budget(docs, "low"), 4096, "{docs}");
            assert_eq!(base_budget(docs, "medium"), 8192, "{docs}");
        }
        assert_eq!(base_budget("tests", "low"), 6144);
        assert_eq!(base_budget("tests", "medium"), 8192);
        assert_eq!(base_budget("implementation", "low"), 8192);
        assert_eq!(base_budget("refactor", "high"), 8192);
        assert_eq!(base_budget("Docs", "low"), 8192, "categories are exact");
    }

    #[test]
    fn a_budget_is_the_prediction_with_headroom_above_the_floor() {
        let estimator = Estimator::default();
        assert_eq!(
            estimator.estimate("tests", "high"),
            Estimate {
                output_tokens: 8000,
                budget: 9600
            }
        );
        assert_eq!(estimator.estimate("tests", "low").budget, 6144);
    }

    #[test]
    fn malformed_files_say_what_and_where() {
        let error = Coefficients::parse("{", "c.json").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("c.json: not a coefficients file"),
            "{error}"
        );
        let error = Coefficients::parse(r#"{"coefficients": {"docs": 10}}"#, "c.json").unwrap_err();
        assert_eq!(
            error.to_string(),
            "c.json: coefficient \"docs\": a key is `category/complexity`"
        );
        let error =
            Coefficients::parse(r#"{"coefficients": {"docs/low": 0}}"#, "c.json").unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
    }

    #[test]
    fn files_round_trip() {
        let mut coefficients = Coefficients::default();
        coefficients.coefficients.insert("docs/low".into(), 1500.0);
        let text = coefficients.to_json();
        assert_eq!(Coefficients::parse(&text, "x").unwrap(), coefficients);
        assert_eq!(coefficients.get("docs", "low"), 1500.0);
        assert_eq!(coefficients.get("docs", "medium"), 4000.0);
    }
}
