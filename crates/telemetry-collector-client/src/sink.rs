//! The registry sink: one attempt per call, over `ureq`, classified for the
//! delivery rules of `telemetry-runtime` by its shared HTTP rules
//! ([`telemetry_runtime::sink::http`]).

use telemetry_runtime::names::EventPrefix;
use telemetry_runtime::policy::DeliveryConfig;
use telemetry_runtime::queue::Envelope;
use telemetry_runtime::sink::http::{classify, shown_answer};
use telemetry_runtime::sink::{Rejection, Sent, Sink, SinkError, SinkErrorKind};

use crate::config::{ApiKey, CollectorConfig};
use crate::deletion::DeletionError;
use crate::http::{MissingCollectorUrl, agent, post, read_answer};
use crate::wire::{Encoder, IngestAnswer, MAX_REQUEST_BYTES, Refusal, TELEMETRY_PATH};

/// Sends batches to a collector's `/api/v1/telemetry` endpoint.
#[derive(Clone)]
pub struct RegistrySink {
    config: CollectorConfig,
    base: String,
    url: String,
    api_key: Option<ApiKey>,
    agent: ureq::Agent,
    encoder: Encoder,
}

impl std::fmt::Debug for RegistrySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySink")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .finish_non_exhaustive()
    }
}

impl RegistrySink {
    /// A sink for `config`, which must have a collector URL, for the
    /// application whose event prefix is `prefix` (its events are sent
    /// without it: `myapp_model_registration` as `model_registration`).
    pub fn new(config: CollectorConfig, prefix: &EventPrefix) -> Result<Self, MissingCollectorUrl> {
        let base = config.collector_url.clone().ok_or(MissingCollectorUrl)?;
        Ok(Self {
            url: format!("{base}{TELEMETRY_PATH}"),
            base,
            api_key: config.collector_api_key.clone(),
            agent: agent(&config),
            encoder: Encoder::new(prefix),
            config,
        })
    }

    fn secret(&self) -> &str {
        self.api_key.as_ref().map_or("", ApiKey::expose)
    }

    /// Posts one array of `count` already encoded, comma-joined events;
    /// returns the events the collector rejected, by their position in
    /// the array, with its reasons.
    fn post(&self, events: &[u8], count: usize) -> Result<Vec<(usize, String)>, SinkError> {
        let mut body = Vec::with_capacity(events.len() + 2);
        body.push(b'[');
        body.extend_from_slice(events);
        body.push(b']');
        let mut response = post(
            &self.agent,
            &self.url,
            self.api_key.as_ref(),
            self.config.gzip,
            &body,
        )
        .map_err(|reason| SinkError::new(self.name(), SinkErrorKind::TRANSIENT, reason))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let answer = read_answer(&mut response);
        if !(200..300).contains(&status) {
            return Err(SinkError::from_status(
                self.name(),
                status,
                retry_after.as_deref(),
                &answer,
                self.secret(),
            ));
        }
        Ok(self.rejections(&answer, count))
    }

    /// The rejected events of a 2xx answer. An answer that cannot be read
    /// is taken as accepting everything: the collector stored the batch,
    /// and sending it again would change nothing.
    fn rejections(&self, answer: &str, count: usize) -> Vec<(usize, String)> {
        let answer: IngestAnswer = match serde_json::from_str(answer) {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(
                    sink = %self.name(),
                    %error,
                    "the collector's answer could not be read; the batch counts as accepted"
                );
                return Vec::new();
            }
        };
        if answer.rejected > answer.errors.len() as u64
            || answer.accepted + answer.rejected != count as u64
        {
            tracing::warn!(
                sink = %self.name(),
                events = count,
                accepted = answer.accepted,
                rejected = answer.rejected,
                errors = answer.errors.len(),
                "the collector's counts do not match the batch; only the listed errors are dead-lettered"
            );
        }
        answer
            .errors
            .into_iter()
            .map(|error| {
                let reason = shown_answer(&error.reason, self.secret());
                let reason = if reason.is_empty() {
                    "rejected by the collector".to_owned()
                } else {
                    reason
                };
                (error.index, reason)
            })
            .collect()
    }
}

impl Sink for RegistrySink {
    fn name(&self) -> String {
        format!("collector {}", self.base)
    }

    fn delivery(&self) -> DeliveryConfig {
        self.config.delivery()
    }

    /// The same sink, sharing the connection pool: a second request in
    /// flight while two full batches are queued (the collector counts an
    /// event it already holds, by its `uuid`, as accepted).
    fn second_lane(&self) -> Option<Box<dyn Sink>> {
        Some(Box::new(self.clone()))
    }

    /// Sends a deletion request ([`send_deletion_request`](crate::send_deletion_request))
    /// for `client_id` to the collector.
    fn request_deletion(&mut self, client_id: &str) -> Option<Result<u64, SinkError>> {
        Some(
            crate::send_deletion_request(&self.config, client_id).map_err(|error| {
                let kind = match &error {
                    DeletionError::Refused { status, .. } => classify(*status, None),
                    DeletionError::BadAnswer { .. } => SinkErrorKind::Rejected,
                    _ => SinkErrorKind::TRANSIENT,
                };
                SinkError::new(self.name(), kind, error.to_string())
            }),
        )
    }

    /// Encodes the batch and posts it, in as many requests as keep each body
    /// under 5 MiB. An event over 1 MiB is refused and counted; events the
    /// collector rejects are reported with its reasons.
    fn send(&mut self, batch: &[Envelope]) -> Result<Sent, SinkError> {
        // Room for the brackets around the array.
        let limit = MAX_REQUEST_BYTES - 2;
        let mut events = Vec::with_capacity(batch.len() * 512);
        // The batch position of each event in `events`.
        let mut positions: Vec<usize> = Vec::with_capacity(batch.len());
        let mut refused = 0;
        let mut requests = 0;
        let mut rejected = Vec::new();
        for (index, envelope) in batch.iter().enumerate() {
            let mark = events.len();
            if !positions.is_empty() {
                events.push(b',');
            }
            match self.encoder.event(envelope, &mut events) {
                Ok(()) if events.len() > limit && !positions.is_empty() => {
                    let next = events.split_off(mark + 1);
                    events.truncate(mark);
                    let refusals = self.post(&events, positions.len())?;
                    requests += 1;
                    rejected.extend(at_positions(refusals, &positions));
                    events = next;
                    positions.clear();
                    positions.push(index);
                }
                Ok(()) => positions.push(index),
                Err(refusal) => {
                    events.truncate(mark);
                    refused += 1;
                    match refusal {
                        Refusal::TooLarge { event, bytes } => tracing::warn!(
                            event,
                            bytes,
                            "telemetry event dropped: larger than the collector accepts"
                        ),
                        Refusal::NotAnObject { event } => tracing::warn!(
                            event,
                            "telemetry event dropped: its properties are not a JSON object"
                        ),
                    }
                }
            }
        }
        if !positions.is_empty() {
            let refusals = self.post(&events, positions.len())?;
            requests += 1;
            rejected.extend(at_positions(refusals, &positions));
        }
        Ok(Sent::requests(requests)
            .with_refused(refused)
            .with_rejected(rejected))
    }
}

/// The rejections of one request, by their position in the batch; an index
/// outside the request is left out (and logged).
fn at_positions(
    refusals: Vec<(usize, String)>,
    positions: &[usize],
) -> impl Iterator<Item = Rejection> + '_ {
    refusals.into_iter().filter_map(|(index, reason)| {
        let position = positions.get(index).copied();
        if position.is_none() {
            tracing::warn!(
                index,
                events = positions.len(),
                "the collector rejected an event the request does not hold; ignored"
            );
        }
        position.map(|position| Rejection::new(position, reason))
    })
}
