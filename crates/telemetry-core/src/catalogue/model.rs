use std::path::PathBuf;

use super::consent::{self, ConsentField, ConsentPrompt};
use crate::validate::{self, InvalidEvent};
use crate::{TelemetryEvent, TelemetrySafe, TelemetryValue, Timestamp};

/// Where an embedding model came from.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelSource {
    /// The `sentence-transformers` hub.
    #[telemetry(rename = "sentence-transformers")]
    SentenceTransformers,
    /// Nomic's hosted or published models.
    #[telemetry(rename = "nomic")]
    Nomic,
    /// OpenAI's embedding API.
    #[telemetry(rename = "openai")]
    OpenAi,
    /// The Hugging Face hub, other than sentence-transformers.
    #[telemetry(rename = "huggingface")]
    HuggingFace,
    /// A model loaded from a local path; its path is only ever sent hashed.
    #[telemetry(rename = "local_path")]
    LocalPath,
}

/// One kind of input a model embeds; a multimodal model lists several.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[telemetry(rename_all = "snake_case")]
pub enum Modality {
    /// Text.
    Text,
    /// Images.
    Image,
}

/// How embeddings are compared.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[telemetry(rename_all = "snake_case")]
pub enum DistanceMetric {
    /// Cosine similarity.
    Cosine,
    /// Dot product.
    DotProduct,
    /// Euclidean (L2) distance.
    Euclidean,
}

/// How embeddings are normalised.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[telemetry(rename_all = "snake_case")]
pub enum Normalization {
    /// Scaled to unit L2 norm.
    L2,
    /// Left as they are.
    None,
}

/// Where a model ran.
#[derive(TelemetryValue, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[telemetry(rename_all = "snake_case")]
pub enum DeviceType {
    /// A CPU.
    Cpu,
    /// A GPU.
    Gpu,
}

/// An opt-in contribution to a registry of embedding models: which model
/// loaded and ran, where. A local model's path is only ever sent as a keyed
/// hash (`local_path_hash`).
#[derive(TelemetrySafe, Debug, Clone, PartialEq)]
#[telemetry(event = "model_registration")]
pub struct ModelRegistration {
    /// The model's public name (`sentence-transformers/all-MiniLM-L6-v2`).
    model_name: String,
    /// Where the model came from.
    model_source: ModelSource,
    /// The model's version or revision.
    model_version: String,
    /// Length of one embedding.
    embedding_dimension: u32,
    /// What the model embeds, each kind once: `["text"]`, `["image"]`, or
    /// `["text", "image"]` for a multimodal model.
    modalities: Vec<Modality>,
    /// How embeddings are compared.
    distance_metric: DistanceMetric,
    /// How embeddings are normalised.
    normalization: Normalization,
    /// Whether the model loaded.
    load_success: bool,
    /// Whether an embedding was computed.
    inference_success: bool,
    /// Where the model ran.
    device_type: DeviceType,
    /// Keyed hash of a local model's path; `null` for hub models.
    #[telemetry(hash, rename = "local_path_hash")]
    local_path: Option<PathBuf>,
    /// When the registration was made.
    timestamp: Timestamp,
}

/// Everything a [`ModelRegistration`] holds, checked by
/// [`ModelRegistration::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRegistrationInput {
    /// The public name: 1 to 200 characters.
    pub model_name: String,
    /// Where the model came from.
    pub model_source: ModelSource,
    /// Version or revision: 1 to 64 ASCII letters, digits, `_`, `-`, `.`.
    pub model_version: String,
    /// Length of one embedding; at least 1.
    pub embedding_dimension: u32,
    /// What the model embeds: at least one modality, each at most once.
    pub modalities: Vec<Modality>,
    /// How embeddings are compared.
    pub distance_metric: DistanceMetric,
    /// How embeddings are normalised.
    pub normalization: Normalization,
    /// Whether the model loaded.
    pub load_success: bool,
    /// Whether an embedding was computed; needs `load_success`.
    pub inference_success: bool,
    /// Where the model ran.
    pub device_type: DeviceType,
    /// The local path: required for `ModelSource::LocalPath`, absent otherwise.
    pub local_path: Option<PathBuf>,
    /// When the registration was made.
    pub timestamp: Timestamp,
}

impl ModelRegistration {
    /// What to show a user before they enable registry contributions (the
    /// consent dialog of the registry design): every field a
    /// `model_registration` sends, the event's own from its schema, so
    /// that the list is the payload's, then the identifiers that go with
    /// every event (`event_type`, `client_id`, `uuid`).
    ///
    /// ```
    /// use telemetry_core::ModelRegistration;
    ///
    /// let prompt = ModelRegistration::consent_prompt();
    /// let text = prompt.to_string();
    /// assert!(text.contains("  model_name: The model's public name"));
    /// assert!(prompt.fields().iter().any(|field| field.key == "client_id"));
    /// ```
    #[must_use]
    pub fn consent_prompt() -> ConsentPrompt {
        let mut fields = consent::schema_fields(<Self as TelemetrySafe>::SCHEMA);
        fields.extend([
            ConsentField {
                key: "event_type".to_owned(),
                description: format!(
                    "`{}`: what kind of event this is.",
                    <Self as TelemetryEvent>::EVENT
                ),
            },
            ConsentField {
                key: "client_id".to_owned(),
                description: "A random id drawn for this installation, not derived from you or \
                    your machine, so that the registry counts a model once per installation. \
                    Turning this off deletes it."
                    .to_owned(),
            },
            ConsentField {
                key: "uuid".to_owned(),
                description: "A random id of this event, so that an event sent twice is \
                    counted once."
                    .to_owned(),
            },
        ]);
        ConsentPrompt {
            title: "Share the embedding models you register?".to_owned(),
            intro: "If you agree, each custom embedding model you register is sent to the \
                model registry as these fields, and nothing else:"
                .to_owned(),
            fields,
            closing: "No API key, file path (a local model's path only as a keyed hash) or \
                content of yours is ever sent. Events wait in a local queue, where you can view \
                them before they are sent; you can send them now, purge them, or turn sharing \
                off at any time."
                .to_owned(),
        }
    }

    /// Checks every field and builds the event.
    pub fn new(input: ModelRegistrationInput) -> Result<Self, InvalidEvent> {
        validate::text("model_name", &input.model_name, 200)?;
        validate::identifier("model_version", &input.model_version)?;
        if input.embedding_dimension == 0 {
            return Err(InvalidEvent::BelowMinimum {
                field: "embedding_dimension",
                value: 0.0,
                min: 1.0,
            });
        }
        validate::distinct_labels("modalities", &input.modalities)?;
        if input.inference_success && !input.load_success {
            return Err(InvalidEvent::Inconsistent {
                field: "inference_success",
                problem: "is true, but the model did not load (`load_success` is false)".to_owned(),
            });
        }
        match (input.model_source, &input.local_path) {
            (ModelSource::LocalPath, None) => {
                return Err(InvalidEvent::Inconsistent {
                    field: "local_path_hash",
                    problem: "is missing: a model from a local path needs its path (sent hashed)"
                        .to_owned(),
                });
            }
            (source, Some(_)) if source != ModelSource::LocalPath => {
                return Err(InvalidEvent::Inconsistent {
                    field: "local_path_hash",
                    problem: "is set, but the model does not come from a local path".to_owned(),
                });
            }
            _ => {}
        }
        Ok(Self {
            model_name: input.model_name,
            model_source: input.model_source,
            model_version: input.model_version,
            embedding_dimension: input.embedding_dimension,
            modalities: input.modalities,
            distance_metric: input.distance_metric,
            normalization: input.normalization,
            load_success: input.load_success,
            inference_success: input.inference_success,
            device_type: input.device_type,
            local_path: input.local_path,
            timestamp: input.timestamp,
        })
    }
}
