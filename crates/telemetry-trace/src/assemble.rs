//! A trace assembled from its header and its events, as the collector
//! stores it on completion.

use std::collections::BTreeMap;

use crate::chain::GENESIS;
use crate::model::{Event, Integrity, Metrics, Repo, Session, TRACE_VERSION, Task, Trace};
use crate::wire::CreateTrace;

impl CreateTrace {
    /// The trace `trace_id` this header opens, holding `events` (in seq
    /// order): its metrics, the artifacts the events refer to, and the
    /// chain head (the last event's hash, [`GENESIS`] for none), with no
    /// log position and no QA yet.
    #[must_use]
    pub fn into_trace(self, trace_id: impl Into<String>, events: Vec<Event>) -> Trace {
        let artifacts = events
            .iter()
            .filter_map(|event| event.kind.artifact())
            .map(|artifact| (artifact.sha256.clone(), artifact.clone()))
            .collect::<BTreeMap<_, _>>();
        let head = events
            .last()
            .map_or_else(|| GENESIS.to_owned(), |event| event.hash.clone());
        Trace {
            trace_version: TRACE_VERSION.to_owned(),
            trace_id: trace_id.into(),
            session: Session {
                participant_id: self.participant_id,
                consent: self.consent,
            },
            task: Task {
                id: self.task_id,
                title: self.task_title,
                description: self.task_description,
            },
            repo: Repo {
                origin: self.repo_origin,
                start_commit: self.start_commit,
            },
            environment: self.environment,
            metrics: Metrics::from_events(&events),
            events,
            artifacts,
            qa: None,
            integrity: Integrity {
                event_hash_chain: head,
                log: None,
            },
        }
    }
}
