//! The interaction record: one call of an LLM or ML module, as one JSON
//! Lines line of the log and one input of the dataset builder.
//!
//! The required and optional fields are the DSPy telemetry design's
//! `InteractionLog`; the sampling fields (`th`, `adjusted_count`) and the
//! number of redacted spans (`redactions`) are ours. Unknown fields are
//! ignored on reading, so logs of other tools and later versions still load.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One module call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InteractionLog {
    /// The module's name (`reviewer`).
    pub module_name: String,
    /// The module's version (`baseline`, `optimized_v1`).
    pub module_version: String,
    /// The signature the module implements (`extract_requirements`).
    pub signature: String,
    /// The call's inputs, redacted.
    pub input: Map<String, Value>,
    /// The call's outputs, redacted; empty when the call failed.
    pub output: Map<String, Value>,
    /// When the call started, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Whether the call completed.
    pub success: bool,
    /// How long the call took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Tokens consumed, input and output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// Estimated cost in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The model used (`claude-haiku-4-5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The error's message when `success` is false, redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A quality score in [0, 1], when something scored the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_score: Option<f64>,
    /// The sampling threshold the record was kept at, as OpenTelemetry's
    /// `th` encodes it (`"0"` keeps everything, `"8"` half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub th: Option<String>,
    /// How many calls this record stands for: 1 / the sampling probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusted_count: Option<f64>,
    /// How many spans of `input`, `output` and `error` were redacted.
    #[serde(default)]
    pub redactions: u32,
}
