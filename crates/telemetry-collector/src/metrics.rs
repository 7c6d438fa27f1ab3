//! `GET /metrics`: Prometheus text, through `prometheus-client`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// An endpoint, as a label.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabel {
    /// `registry`, `posthog`, `deletion`, `models`, `healthz`, `metrics`.
    pub endpoint: String,
}

/// A rejection, as labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabel {
    /// The endpoint.
    pub endpoint: String,
    /// [`RejectKind`](crate::schema::RejectKind) or a whole-request reason.
    pub reason: String,
}

/// An answered request, as labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabel {
    /// The endpoint.
    pub endpoint: String,
    /// The HTTP status.
    pub status: u16,
}

type Latency = Family<EndpointLabel, Histogram, fn() -> Histogram>;

/// The collector's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    accepted: Family<EndpointLabel, Counter>,
    duplicates: Family<EndpointLabel, Counter>,
    rejected: Family<RejectLabel, Counter>,
    rate_limited: Counter,
    redacted: Counter,
    requests: Family<RequestLabel, Counter>,
    latency: Latency,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("collector");
        let accepted = Family::<EndpointLabel, Counter>::default();
        let duplicates = Family::<EndpointLabel, Counter>::default();
        let rejected = Family::<RejectLabel, Counter>::default();
        let rate_limited = Counter::default();
        let redacted = Counter::default();
        let requests = Family::<RequestLabel, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register(
            "events_accepted",
            "Events accepted (stored or already stored)",
            accepted.clone(),
        );
        registry.register(
            "events_duplicate",
            "Accepted events that were already stored",
            duplicates.clone(),
        );
        registry.register(
            "events_rejected",
            "Events rejected, by reason",
            rejected.clone(),
        );
        registry.register(
            "requests_rate_limited",
            "Requests answered 429",
            rate_limited.clone(),
        );
        registry.register(
            "trace_spans_redacted",
            "Spans of trace text the collector redacted on arrival (a client left them)",
            redacted.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        Self {
            registry,
            accepted,
            duplicates,
            rejected,
            rate_limited,
            redacted,
            requests,
            latency,
        }
    }
}

fn endpoint(name: &str) -> EndpointLabel {
    EndpointLabel {
        endpoint: name.to_owned(),
    }
}

impl Metrics {
    /// Counts accepted events, of which `duplicates` were already stored.
    pub fn accepted(&self, at: &str, events: u64, duplicates: u64) {
        self.accepted.get_or_create(&endpoint(at)).inc_by(events);
        self.duplicates
            .get_or_create(&endpoint(at))
            .inc_by(duplicates);
    }

    /// Counts `events` rejected for `reason`.
    pub fn rejected(&self, at: &str, reason: &str, events: u64) {
        self.rejected
            .get_or_create(&RejectLabel {
                endpoint: at.to_owned(),
                reason: reason.to_owned(),
            })
            .inc_by(events);
    }

    /// Counts one request answered 429.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// Counts spans of trace text redacted on arrival.
    pub fn redacted_on_arrival(&self, spans: u64) {
        self.redacted.inc_by(spans);
    }

    /// Records one answered request.
    pub fn answered(&self, at: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabel {
                endpoint: at.to_owned(),
                status,
            })
            .inc();
        self.latency.get_or_create(&endpoint(at)).observe(seconds);
    }

    /// The text exposition format.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
