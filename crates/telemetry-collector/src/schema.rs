//! What the collector accepts: each event checked against its schema
//! before anything is stored.
//!
//! - `model_registration`, reference 004's payload, field for field.
//! - Any event type the operator registers in the configuration
//!   (`[event_types.NAME]`, each field `string`, `integer`, `number` or
//!   `boolean`, with `[]` for an array and `?` for optional).
//! - PostHog batch events (`/batch/`), as PostHog's capture takes them.
//!
//! Every string value and object key an event carries runs through the
//! guard's detectors (`telemetry_core::guard`), as on the client: a client
//! may be old or careless. A hit rejects the event with a reason that names
//! the field and the detector, never the value. The fields that are hashes
//! or ids by their schema (`client_id`, `local_path_hash`, `uuid`) are
//! checked for their shape instead, and a client id is never stored.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use telemetry_core::Timestamp;
use telemetry_core::guard::{self, Detector};
use uuid::Uuid;

use crate::keyed::KeyedHasher;
use crate::policy::{MAX_EVENT_BYTES, MAX_EVENTS_PER_REQUEST};
use crate::storage::{Batch, Event, EventSource, Registration};

/// The event type of reference 004.
pub const MODEL_REGISTRATION: &str = "model_registration";

/// Fields every registry event has, whatever its type.
const COMMON_FIELDS: [&str; 4] = ["uuid", "event_type", "timestamp", "client_id"];

/// What kind of value a registered field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, checked by the detectors.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
}

/// A registered field's type: `integer`, `string[]`, `number?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldType {
    /// The value's kind (of each element, for an array).
    pub kind: Kind,
    /// An array of `kind`.
    pub array: bool,
    /// May be missing or `null`.
    pub optional: bool,
}

impl FromStr for FieldType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (rest, optional) = match text.strip_suffix('?') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let (rest, array) = match rest.strip_suffix("[]") {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let kind = match rest {
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "boolean" => Kind::Boolean,
            _ => {
                return Err(format!(
                    "`{text}` is not a field type: expected string, integer, number or boolean, with `[]` for an array and `?` for optional"
                ));
            }
        };
        Ok(Self {
            kind,
            array,
            optional,
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::String => "string",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
        };
        write!(
            f,
            "{kind}{}{}",
            if self.array { "[]" } else { "" },
            if self.optional { "?" } else { "" }
        )
    }
}

/// The event types an operator registered, beside `model_registration`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas {
    types: BTreeMap<String, BTreeMap<String, FieldType>>,
}

impl Schemas {
    /// Registers `name` with `fields`; refuses a name or field the
    /// collector reserves.
    pub fn register(
        &mut self,
        name: &str,
        fields: BTreeMap<String, FieldType>,
    ) -> Result<(), String> {
        if name == MODEL_REGISTRATION {
            return Err(format!(
                "`{name}` is built in and cannot be registered again"
            ));
        }
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "`{name}` is not an event type name: 1 to 64 lowercase letters, digits and `_`"
            ));
        }
        if let Some(field) = fields
            .keys()
            .find(|field| COMMON_FIELDS.contains(&field.as_str()))
        {
            return Err(format!(
                "field `{field}` of `{name}` is one every event has ({})",
                COMMON_FIELDS.join(", ")
            ));
        }
        self.types.insert(name.to_owned(), fields);
        Ok(())
    }
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not what the endpoint takes (400).
    #[error("{0}")]
    Malformed(String),
    /// One event is over [`MAX_EVENT_BYTES`] (413).
    #[error("event {index} is {bytes} bytes; {}", crate::policy::limits_sentence())]
    EventTooLarge {
        /// Its index in the request.
        index: usize,
        /// Its size.
        bytes: usize,
    },
    /// More events than [`MAX_EVENTS_PER_REQUEST`] (413).
    #[error("the request holds {0} events; at most {MAX_EVENTS_PER_REQUEST} are taken at once")]
    TooManyEvents(usize),
}

/// Why one event was rejected; also the `reason` label of the
/// `collector_events_rejected_total` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    /// Not valid against its schema.
    Schema,
    /// A detector fired on one of its strings.
    Pii,
    /// Its `event_type` is not registered.
    UnknownType,
}

impl RejectKind {
    /// The metric label.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "schema",
            Self::Pii => "pii",
            Self::UnknownType => "unknown_type",
        }
    }
}

/// One rejected event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its index in the request.
    pub index: usize,
    /// Why, in words: names the field, never its value.
    pub reason: String,
    /// Why, for the metric.
    pub kind: RejectKind,
}

/// A request's events, checked: what to store and what was rejected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// The valid events.
    pub batch: Batch,
    /// The others, in request order.
    pub rejected: Vec<Rejection>,
}

fn reject(index: usize, kind: RejectKind, reason: impl Into<String>) -> Rejection {
    Rejection {
        index,
        reason: reason.into(),
        kind,
    }
}

fn pii(field: &str, detector: Detector) -> String {
    format!("`{field}` {} ({detector})", detector.description())
}

/// A string field: its length, then the detectors.
fn text(field: &str, value: &str, max_chars: usize) -> Result<(), (RejectKind, String)> {
    if value.is_empty() {
        return Err((RejectKind::Schema, format!("`{field}` is empty")));
    }
    if value.contains('\0') {
        return Err((
            RejectKind::Schema,
            format!("`{field}` holds a NUL character"),
        ));
    }
    if value.chars().count() > max_chars {
        return Err((
            RejectKind::Schema,
            format!("`{field}` is longer than {max_chars} characters"),
        ));
    }
    if let Some(detector) = guard::detect(value) {
        return Err((RejectKind::Pii, pii(field, detector)));
    }
    Ok(())
}

/// A client id: an id, not free text (it is hashed, never stored).
fn client_id(value: &str) -> Result<(), (RejectKind, String)> {
    if value.is_empty()
        || value.len() > 128
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err((
            RejectKind::Schema,
            "`client_id` must be 1 to 128 ASCII letters, digits, `-`, `_` or `.` (a locally generated UUID)"
                .to_owned(),
        ));
    }
    Ok(())
}

fn timestamp(value: &str) -> Result<String, (RejectKind, String)> {
    Timestamp::parse(value)
        .map(|at| at.to_string())
        .map_err(|_| {
            (
                RejectKind::Schema,
                "`timestamp` is not an RFC 3339 time (2026-01-23T12:34:56Z)".to_owned(),
            )
        })
}

fn dedup_key(uuid: Option<&str>, raw: &RawValue) -> Result<String, (RejectKind, String)> {
    match uuid {
        Some(text) => Uuid::parse_str(text)
            .map(|uuid| uuid.hyphenated().to_string())
            .map_err(|_| (RejectKind::Schema, "`uuid` is not a UUID".to_owned())),
        // Without a uuid the event's own bytes identify it: a client that
        // resends the same event is still counted once.
        None => Ok(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(raw.get().as_bytes()))
        )),
    }
}

/// Reference 004's payload, as sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRegistration<'a> {
    #[serde(borrow, default)]
    uuid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    model_name: Cow<'a, str>,
    #[serde(borrow)]
    model_source: Cow<'a, str>,
    #[serde(borrow, default)]
    model_version: Option<Cow<'a, str>>,
    embedding_dimension: u32,
    #[serde(borrow)]
    modalities: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    distance_metric: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    normalization: Option<Cow<'a, str>>,
    load_success: bool,
    inference_success: bool,
    #[serde(borrow)]
    device_type: Cow<'a, str>,
    #[serde(borrow, default)]
    local_path_hash: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    client_id: Cow<'a, str>,
}

/// The most an embedding may have: a bound against nonsense, far above any
/// model's.
const MAX_DIMENSION: u32 = 1 << 20;

fn modalities(modalities: &[Cow<'_, str>]) -> Result<(), (RejectKind, String)> {
    if modalities.is_empty() {
        return Err((RejectKind::Schema, "`modalities` is empty".to_owned()));
    }
    for (at, modality) in modalities.iter().enumerate() {
        if !matches!(modality.as_ref(), "text" | "image") {
            return Err((
                RejectKind::Schema,
                format!("`modalities[{at}]` must be \"text\" or \"image\""),
            ));
        }
        if modalities[..at].contains(modality) {
            return Err((
                RejectKind::Schema,
                format!("`modalities[{at}]` repeats \"{modality}\""),
            ));
        }
    }
    Ok(())
}

fn local_path(source: &str, hash: Option<&str>) -> Result<(), (RejectKind, String)> {
    if let Some(hash) = hash
        && !(matches!(hash.len(), 32 | 64)
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err((
            RejectKind::Schema,
            "`local_path_hash` must be 32 or 64 lowercase hex digits (a hash, never the path)"
                .to_owned(),
        ));
    }
    match (source, hash.is_some()) {
        ("local_path", false) => {
            return Err((
                RejectKind::Schema,
                "`local_path_hash` is missing: a model from a local path is registered by the hash of its path"
                    .to_owned(),
            ));
        }
        (source, true) if source != "local_path" => {
            return Err((
                RejectKind::Schema,
                "`local_path_hash` is set, but `model_source` is not \"local_path\"".to_owned(),
            ));
        }
        _ => {}
    }
    Ok(())
}

fn registration(
    raw: &RawValue,
    hasher: &KeyedHasher,
    received_at: i64,
) -> Result<Registration, (RejectKind, String)> {
    let wire: WireRegistration<'_> = serde_json::from_str(raw.get())
        .map_err(|error| (RejectKind::Schema, serde_message(&error)))?;
    if wire.event_type != MODEL_REGISTRATION {
        return Err((RejectKind::UnknownType, "not a registration".to_owned()));
    }
    match text("model_name", &wire.model_name, 200) {
        Err((RejectKind::Pii, reason)) => {
            return Err((
                RejectKind::Pii,
                format!(
                    "{reason}: a model loaded from disk is registered with model_source \"local_path\" and its local_path_hash, never its path"
                ),
            ));
        }
        checked => checked?,
    }
    text("model_source", &wire.model_source, 64)?;
    if let Some(version) = &wire.model_version {
        text("model_version", version, 64)?;
    }
    if let Some(metric) = &wire.distance_metric {
        text("distance_metric", metric, 32)?;
    }
    if let Some(normalization) = &wire.normalization {
        text("normalization", normalization, 32)?;
    }
    text("device_type", &wire.device_type, 64)?;
    client_id(&wire.client_id)?;
    if wire.embedding_dimension == 0 || wire.embedding_dimension > MAX_DIMENSION {
        return Err((
            RejectKind::Schema,
            format!("`embedding_dimension` must be from 1 to {MAX_DIMENSION}"),
        ));
    }
    modalities(&wire.modalities)?;
    if wire.inference_success && !wire.load_success {
        return Err((
            RejectKind::Schema,
            "`inference_success` is true, but `load_success` is false".to_owned(),
        ));
    }
    local_path(&wire.model_source, wire.local_path_hash.as_deref())?;
    let event_time = timestamp(&wire.timestamp)?;
    let modalities = serde_json::to_string(&wire.modalities).unwrap_or_else(|_| "[]".to_owned());
    Ok(Registration {
        dedup_key: dedup_key(wire.uuid.as_deref(), raw)?,
        registration_hash: hasher.registration(&wire.model_name, &wire.client_id),
        model_name: wire.model_name.into_owned(),
        model_source: wire.model_source.into_owned(),
        model_version: wire.model_version.map(Cow::into_owned),
        embedding_dimension: wire.embedding_dimension,
        modalities,
        distance_metric: wire.distance_metric.map(Cow::into_owned),
        normalization: wire.normalization.map(Cow::into_owned),
        load_success: wire.load_success,
        inference_success: wire.inference_success,
        device_type: wire.device_type.into_owned(),
        local_path_hash: wire.local_path_hash.map(Cow::into_owned),
        event_time,
        received_at,
    })
}

/// serde's message without the line and column, which mean nothing to a
/// client that sent one event of many.
///
/// serde's words can quote what was sent (`invalid type: string "…"`, an
/// unknown key's name), so only what names the schema is kept: a missing
/// field (named by the schema) and what was expected.
pub(crate) fn serde_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |at| &message[..at]);
    if message.starts_with("missing field `") {
        return message.to_owned();
    }
    if message.starts_with("unknown field `") {
        return "an unknown field (not named: a key that is not in the schema may be data)"
            .to_owned();
    }
    match message.rfind(", expected ") {
        Some(at) => format!(
            "a value does not fit the schema: expected {}",
            &message[at + 11..]
        ),
        None => match error.classify() {
            serde_json::error::Category::Data => "a value does not fit the schema".to_owned(),
            _ => "the event is not valid JSON".to_owned(),
        },
    }
}

fn check_value(field: &str, value: &Value, kind: Kind) -> Result<(), (RejectKind, String)> {
    let fits = match kind {
        Kind::String => value.is_string(),
        Kind::Integer => value.is_i64() || value.is_u64(),
        Kind::Number => value.is_number(),
        Kind::Boolean => value.is_boolean(),
    };
    if !fits {
        return Err((RejectKind::Schema, format!("`{field}` is not of its type")));
    }
    if let Value::String(text) = value
        && text.contains('\0')
    {
        return Err((
            RejectKind::Schema,
            format!("`{field}` holds a NUL character"),
        ));
    }
    if let Value::String(text) = value
        && let Some(detector) = guard::detect(text)
    {
        return Err((RejectKind::Pii, pii(field, detector)));
    }
    Ok(())
}

fn custom(
    raw: &RawValue,
    event_type: &str,
    fields: &BTreeMap<String, FieldType>,
    hasher: &KeyedHasher,
    received_at: i64,
) -> Result<Event, (RejectKind, String)> {
    let mut object: Map<String, Value> = serde_json::from_str(raw.get())
        .map_err(|error| (RejectKind::Schema, serde_message(&error)))?;
    let uuid = match object.remove("uuid") {
        None | Some(Value::Null) => None,
        Some(Value::String(uuid)) => Some(uuid),
        Some(_) => return Err((RejectKind::Schema, "`uuid` is not a UUID".to_owned())),
    };
    object.remove("event_type");
    let Some(Value::String(client)) = object.remove("client_id") else {
        return Err((
            RejectKind::Schema,
            "`client_id` is missing or not a string".to_owned(),
        ));
    };
    client_id(&client)?;
    let Some(Value::String(at)) = object.remove("timestamp") else {
        return Err((
            RejectKind::Schema,
            "`timestamp` is missing or not a string".to_owned(),
        ));
    };
    let event_time = timestamp(&at)?;
    if let Some(unknown) = object.keys().find(|key| !fields.contains_key(key.as_str())) {
        // The name of an unknown key is data the operator did not ask for:
        // it is named only when the detectors pass it.
        return Err(match guard::detect(unknown) {
            Some(detector) => (
                RejectKind::Pii,
                format!("a field name {} ({detector})", detector.description()),
            ),
            None => (
                RejectKind::Schema,
                format!("unknown field `{unknown}` for event type `{event_type}`"),
            ),
        });
    }
    for (name, field_type) in fields {
        match object.get(name) {
            None | Some(Value::Null) if field_type.optional => {}
            None | Some(Value::Null) => {
                return Err((RejectKind::Schema, format!("missing field `{name}`")));
            }
            Some(Value::Array(items)) if field_type.array => {
                for (at, item) in items.iter().enumerate() {
                    check_value(&format!("{name}[{at}]"), item, field_type.kind)?;
                }
            }
            Some(_) if field_type.array => {
                return Err((RejectKind::Schema, format!("`{name}` is not an array")));
            }
            Some(value) => check_value(name, value, field_type.kind)?,
        }
    }
    let body = serde_json::to_string(&object).unwrap_or_default();
    if body.len() > MAX_EVENT_BYTES {
        return Err((RejectKind::Schema, "the event is too large".to_owned()));
    }
    Ok(Event {
        dedup_key: dedup_key(uuid.as_deref(), raw)?,
        source: EventSource::Registry,
        event_type: event_type.to_owned(),
        client_hash: Some(hasher.client(&client)),
        event_time,
        received_at,
        body,
    })
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    event_type: Option<Cow<'a, str>>,
}

fn events_array(body: &[u8]) -> Result<Vec<&RawValue>, RequestError> {
    let events: Vec<&RawValue> = serde_json::from_slice(body).map_err(|error| {
        RequestError::Malformed(format!("the body is not a JSON array of events: {error}"))
    })?;
    within_limits(&events)?;
    Ok(events)
}

/// A request's events: at most [`MAX_EVENTS_PER_REQUEST`], each at most
/// [`MAX_EVENT_BYTES`].
fn within_limits(events: &[&RawValue]) -> Result<(), RequestError> {
    if events.len() > MAX_EVENTS_PER_REQUEST {
        return Err(RequestError::TooManyEvents(events.len()));
    }
    if let Some((index, event)) = events
        .iter()
        .enumerate()
        .find(|(_, event)| event.get().len() > MAX_EVENT_BYTES)
    {
        return Err(RequestError::EventTooLarge {
            index,
            bytes: event.get().len(),
        });
    }
    Ok(())
}

/// Checks a `POST /api/v1/telemetry` body.
pub fn registry(
    body: &[u8],
    schemas: &Schemas,
    hasher: &KeyedHasher,
    received_at: i64,
) -> Result<Checked, RequestError> {
    let events = events_array(body)?;
    let mut checked = Checked::default();
    for (index, raw) in events.into_iter().enumerate() {
        if !raw.get().starts_with('{') {
            checked.rejected.push(reject(
                index,
                RejectKind::Schema,
                "the event is not a JSON object",
            ));
            continue;
        }
        // A registration, the common case, is parsed once: its own parse
        // checks `event_type`. Anything else, and a registration that is
        // refused, is routed by its `event_type` first (and a refused
        // registration parsed again, for its reason).
        if memchr::memmem::find(raw.get().as_bytes(), b"\"model_registration\"").is_some()
            && let Ok(row) = registration(raw, hasher, received_at)
        {
            checked.batch.registrations.push(row);
            continue;
        }
        let event_type = match serde_json::from_str::<Head<'_>>(raw.get()) {
            Ok(Head {
                event_type: Some(event_type),
            }) => event_type,
            Ok(Head { event_type: None }) => {
                checked.rejected.push(reject(
                    index,
                    RejectKind::Schema,
                    "missing field `event_type`",
                ));
                continue;
            }
            Err(error) => {
                checked
                    .rejected
                    .push(reject(index, RejectKind::Schema, serde_message(&error)));
                continue;
            }
        };
        let outcome = if event_type == MODEL_REGISTRATION {
            registration(raw, hasher, received_at).map(|row| checked.batch.registrations.push(row))
        } else if let Some(fields) = schemas.types.get(event_type.as_ref()) {
            custom(raw, &event_type, fields, hasher, received_at)
                .map(|row| checked.batch.events.push(row))
        } else {
            let named = if guard::detect(&event_type).is_none() && event_type.len() <= 64 {
                format!("`{event_type}`")
            } else {
                "this".to_owned()
            };
            Err((
                RejectKind::UnknownType,
                format!("event type {named} is not registered with this collector"),
            ))
        };
        if let Err((kind, reason)) = outcome {
            checked.rejected.push(reject(index, kind, reason));
        }
    }
    Ok(checked)
}

/// A PostHog batch request: `{"api_key", "batch", "sent_at"}`.
#[derive(Deserialize)]
pub struct PostHogBatch<'a> {
    /// The project API key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// The events.
    #[serde(borrow)]
    pub batch: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct PostHogEvent {
    event: String,
    #[serde(default)]
    distinct_id: Option<Value>,
    #[serde(default)]
    properties: Map<String, Value>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
}

/// Parses a `/batch/` body: its key, and its events' raw JSON.
pub fn posthog_batch(body: &[u8]) -> Result<PostHogBatch<'_>, RequestError> {
    let batch: PostHogBatch<'_> = serde_json::from_slice(body).map_err(|error| {
        RequestError::Malformed(format!(
            "the body is not a PostHog batch ({{\"api_key\", \"batch\": [...]}}): {error}"
        ))
    })?;
    within_limits(&batch.batch)?;
    Ok(batch)
}

/// Checks a PostHog batch's events.
#[must_use]
pub fn posthog_events(
    events: &[&RawValue],
    hasher: &KeyedHasher,
    received_at: i64,
    now: &str,
) -> Checked {
    let mut checked = Checked::default();
    for (index, raw) in events.iter().enumerate() {
        match posthog_event(raw, hasher, received_at, now) {
            Ok(event) => checked.batch.events.push(event),
            Err((kind, reason)) => checked.rejected.push(reject(index, kind, reason)),
        }
    }
    checked
}

fn posthog_event(
    raw: &RawValue,
    hasher: &KeyedHasher,
    received_at: i64,
    now: &str,
) -> Result<Event, (RejectKind, String)> {
    let mut event: PostHogEvent = serde_json::from_str(raw.get())
        .map_err(|error| (RejectKind::Schema, serde_message(&error)))?;
    // PostHog reads the client address from `$ip`; this collector keeps none.
    event.properties.remove("$ip");
    let in_properties = event
        .properties
        .remove("distinct_id")
        .or_else(|| event.properties.remove("$distinct_id"));
    let distinct_id = match event.distinct_id.take().or(in_properties) {
        Some(Value::String(id)) if !id.is_empty() => id,
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err((RejectKind::Schema, "missing field `distinct_id`".to_owned())),
    };
    text("event", &event.event, 200)?;
    let properties = Value::Object(std::mem::take(&mut event.properties));
    if let Some(violation) = guard::scan_value(&properties).into_iter().next() {
        return Err((RejectKind::Pii, format!("properties {violation}")));
    }
    let event_time = timestamp(event.timestamp.as_deref().unwrap_or(now))?;
    let sent_uuid = match event.uuid.as_deref() {
        Some(text) => Some(
            Uuid::parse_str(text)
                .map_err(|_| (RejectKind::Schema, "`uuid` is not a UUID".to_owned()))?,
        ),
        None => None,
    };
    // PostHog deduplicates on uuid and timestamp together (the time as
    // normalised, so that `…56Z` and `…56.000Z` are one). An event without
    // either is identified by its own bytes, so that a resent one is still
    // counted once.
    let dedup_key = match (sent_uuid, &event.timestamp) {
        (Some(uuid), Some(_)) => format!("{uuid}@{event_time}"),
        _ => format!(
            "sha256:{}",
            hex::encode(Sha256::digest(raw.get().as_bytes()))
        ),
    };
    let uuid = sent_uuid.unwrap_or_else(Uuid::now_v7);
    let body = serde_json::json!({
        "event": event.event,
        "properties": properties,
        "timestamp": event_time,
        "uuid": uuid,
    })
    .to_string();
    Ok(Event {
        dedup_key,
        source: EventSource::PostHog,
        event_type: event.event,
        client_hash: Some(hasher.client(&distinct_id)),
        event_time,
        received_at,
        body,
    })
}
