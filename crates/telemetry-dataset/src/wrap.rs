//! The drop-in wrapper around a module call, as the DSPy telemetry
//! design's `call_module_with_sampling(module_name, version, inputs,
//! request_id)`: it times the call, records success or the error, and logs
//! the record when the sampler keeps it. For a synchronous closure and for
//! any [`Future`] (no runtime needed). While the logger is disabled it
//! costs one branch; while the sampler leaves a call out, one decision
//! (no allocation); the inputs are copied only for a kept call.
//!
//! ```
//! use serde_json::{json, Map, Value};
//! use telemetry_dataset::{InteractionLogger, ModuleCall, ModuleOutput};
//!
//! let logger = InteractionLogger::disabled();
//! let inputs: Map<String, Value> = json!({"user_intent": "Implement user authentication"})
//!     .as_object().unwrap().clone();
//! let call = ModuleCall::new("reviewer", "baseline", "extract_requirements", "req-42");
//! let answer = logger.call_module_with_sampling(&call, &inputs, |inputs| {
//!     let mut output = Map::new();
//!     output.insert("requirements".into(), json!(["JWT token generation"]));
//!     Ok::<_, std::io::Error>(ModuleOutput::from(output).tokens(120).cost_usd(0.0018))
//! })?;
//! assert_eq!(answer.output["requirements"][0], "JWT token generation");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Display;
use std::future::Future;
use std::time::{Instant, SystemTime};

use serde_json::{Map, Value};

use crate::log::{InteractionLogger, record};

/// Which call this is.
#[derive(Debug, Clone, Copy)]
pub struct ModuleCall<'a> {
    /// The module's name (`reviewer`).
    pub module_name: &'a str,
    /// Its version (`baseline`).
    pub module_version: &'a str,
    /// The signature it implements (`extract_requirements`).
    pub signature: &'a str,
    /// The request's id, which decides sampling: a UUID or W3C trace id
    /// gives its own random bits; any other id is hashed under the salt.
    pub request_id: &'a str,
}

impl<'a> ModuleCall<'a> {
    /// A call of `module_name` at `module_version` implementing `signature`
    /// for the request `request_id`.
    #[must_use]
    pub fn new(
        module_name: &'a str,
        module_version: &'a str,
        signature: &'a str,
        request_id: &'a str,
    ) -> Self {
        Self {
            module_name,
            module_version,
            signature,
            request_id,
        }
    }
}

/// What a module returned: its outputs and, when known, what the call cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModuleOutput {
    /// The outputs.
    pub output: Map<String, Value>,
    /// Tokens used, input and output.
    pub tokens: Option<u64>,
    /// Cost in USD.
    pub cost_usd: Option<f64>,
    /// The model that answered.
    pub model: Option<String>,
    /// A quality score in [0, 1], if the module scored itself.
    pub quality_score: Option<f64>,
}

impl From<Map<String, Value>> for ModuleOutput {
    fn from(output: Map<String, Value>) -> Self {
        Self {
            output,
            ..Self::default()
        }
    }
}

impl ModuleOutput {
    /// With the tokens used.
    #[must_use]
    pub fn tokens(mut self, tokens: u64) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// With the cost in USD.
    #[must_use]
    pub fn cost_usd(mut self, cost: f64) -> Self {
        self.cost_usd = Some(cost);
        self
    }

    /// With the model that answered.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

impl InteractionLogger {
    /// Runs `module(inputs)`, and logs the call if it is sampled.
    pub fn call_module_with_sampling<E: Display>(
        &self,
        call: &ModuleCall<'_>,
        inputs: &Map<String, Value>,
        module: impl FnOnce(&Map<String, Value>) -> Result<ModuleOutput, E>,
    ) -> Result<ModuleOutput, E> {
        if !self.is_enabled() {
            return module(inputs);
        }
        let started = Started::now();
        let result = module(inputs);
        self.finish(call, inputs, &started, &result);
        result
    }

    /// Awaits `module`, and logs the call if it is sampled.
    pub async fn call_module_with_sampling_async<E: Display>(
        &self,
        call: &ModuleCall<'_>,
        inputs: &Map<String, Value>,
        module: impl Future<Output = Result<ModuleOutput, E>>,
    ) -> Result<ModuleOutput, E> {
        if !self.is_enabled() {
            return module.await;
        }
        let started = Started::now();
        let result = module.await;
        self.finish(call, inputs, &started, &result);
        result
    }

    fn finish<E: Display>(
        &self,
        call: &ModuleCall<'_>,
        inputs: &Map<String, Value>,
        started: &Started,
        result: &Result<ModuleOutput, E>,
    ) {
        let latency_ms = u64::try_from(started.at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let success = result.is_ok();
        let Some(threshold) = self.keeps(call.module_name, call.request_id, success) else {
            return;
        };
        let mut log = record(
            call.module_name,
            call.module_version,
            call.signature,
            inputs.clone(),
            started.timestamp_ms,
        );
        log.latency_ms = Some(latency_ms);
        log.success = success;
        match result {
            Ok(answer) => {
                log.output.clone_from(&answer.output);
                log.tokens = answer.tokens;
                log.cost_usd = answer.cost_usd;
                log.model.clone_from(&answer.model);
                log.quality_score = answer.quality_score;
            }
            Err(error) => log.error = Some(error.to_string()),
        }
        self.write_kept(log, threshold);
    }
}

struct Started {
    at: Instant,
    timestamp_ms: u64,
}

impl Started {
    fn now() -> Self {
        let timestamp_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
            });
        Self {
            at: Instant::now(),
            timestamp_ms,
        }
    }
}
