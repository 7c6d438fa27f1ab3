//! The run-time front door: `Telemetry::builder("myapp")` configures, and
//! [`TelemetryBuilder::build`] decides consent, loads the identity, opens
//! the queue and starts the writer (and, with a sink, the courier) thread.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Config;
use crate::consent::{ConsentPolicy, Mode};
use crate::control::{Control, ControlError};
use crate::counters::{AtomicCounters, CaptureCounters};
use crate::handle::{Inner, Telemetry};
use crate::names::{self, InvalidAppName};
use crate::pace::Pace;
use crate::sink::Sink;
use crate::{Anonymizer, HashKey};
use crate::{policy, worker};

/// Configures telemetry for one application; see [`Telemetry::builder`].
#[must_use]
pub struct TelemetryBuilder {
    config: Config,
}

impl TelemetryBuilder {
    /// Opt-in (the default): telemetry records locally for review and sends
    /// nothing until the user enables it.
    pub fn opt_in(mut self) -> Self {
        self.config.policy = ConsentPolicy::OptIn;
        self
    }

    /// Opt-out: telemetry is on unless the user or the environment turns it off.
    pub fn opt_out(mut self) -> Self {
        self.config.policy = ConsentPolicy::OptOut;
        self
    }

    /// Where settings and the queue live. Default: `{PREFIX}TELEMETRY_DIR` if
    /// set, else the platform's data directory for the application.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// The application-wide key for `#[telemetry(hash(scope = "app"))]`.
    pub fn app_hash_key(mut self, key: HashKey) -> Self {
        self.config.app_key = Some(key);
        self
    }

    /// Reads environment variables through `env` instead of the process
    /// environment.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.config.env = Arc::new(env);
        self
    }

    /// Keeps an event only when `sampler(event_name)` is true. The name is the
    /// unprefixed one (`session_summary`).
    ///
    /// A [`sampling::Sampler`](crate::sampling::Sampler) fits through
    /// [`Sampler::hook`](crate::sampling::Sampler::hook): each event is kept
    /// at its name's probability (a per-name override, else the default),
    /// drawn afresh for every event, without allocating.
    ///
    /// ```
    /// use telemetry_runtime::Telemetry;
    /// use telemetry_runtime::sampling::{Sampler, Threshold};
    ///
    /// let sampler = Sampler::new(b"myapp-sampling-salt", Threshold::from_percent(10.0)?)
    ///     .module("session_summary", Threshold::ALWAYS);
    /// let hook = sampler.hook();
    /// assert!(hook("session_summary"), "kept at probability 1");
    /// let builder = Telemetry::builder("myapp").sampler(hook);
    /// # drop(builder);
    /// # Ok::<(), telemetry_runtime::sampling::SamplingError>(())
    /// ```
    pub fn sampler(mut self, sampler: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.config.sampler = Some(Arc::new(sampler));
        self
    }

    /// The sink that sends queued events when telemetry is on. Without one,
    /// events stay in the local queue.
    pub fn sink(mut self, sink: impl Sink + 'static) -> Self {
        self.config.sink = Some(Box::new(sink));
        self
    }

    /// Bounds of the local queue: oldest events are dropped first, and counted.
    pub fn queue_limits(mut self, max_bytes: u64, max_age: Duration) -> Self {
        self.config.queue_max_bytes = Some(max_bytes);
        self.config.queue_max_age = Some(max_age);
        self
    }

    /// The byte bound of the local queue alone (see [`queue_limits`](Self::queue_limits)).
    pub fn queue_max_bytes(mut self, max_bytes: u64) -> Self {
        self.config.queue_max_bytes = Some(max_bytes);
        self
    }

    /// How many events may wait for the writer thread before new ones are
    /// dropped (default 16,384).
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.config.channel_capacity = capacity.max(1);
        self
    }

    /// Lets [`Telemetry::capture_custom`] queue events without the guard's
    /// scan. Only for events whose every value the application controls.
    pub fn unguarded_custom_events(mut self) -> Self {
        self.config.unguarded_custom_events = true;
        self
    }

    /// Turns telemetry off for this application whatever the user chose, as
    /// configuration asked (`enabled = false` in a config file): `reason`
    /// says where, and is shown by `status`. `DO_NOT_TRACK` and
    /// `{PREFIX}TELEMETRY_ENABLED` still come first.
    pub fn disabled_by(mut self, reason: impl Into<String>) -> Self {
        self.config.disabled_by = Some(reason.into());
        self
    }

    /// Records a problem met while configuring telemetry (a configuration
    /// file that could not be used, say). It stops nothing: it is logged at
    /// `build` and listed by [`Telemetry::problems`] and by `telemetry
    /// status`, with the problems met later.
    pub fn problem(mut self, problem: impl Into<String>) -> Self {
        self.config.problems.push(problem.into());
        self
    }

    /// The application name given to [`Telemetry::builder`].
    #[must_use]
    pub fn app_name(&self) -> &str {
        &self.config.app_name
    }

    /// Reads the environment variable `name` the way this builder does
    /// (through [`env`](Self::env) when one was given).
    #[must_use]
    pub fn env_var(&self, name: &str) -> Option<String> {
        self.config.env_var(name)
    }

    /// The environment prefix: `MYAPP_` for `myapp`.
    #[must_use]
    pub fn env_prefix(&self) -> String {
        self.config.env_prefix()
    }

    /// The user-facing controls (status, enable, disable, preview, purge,
    /// send, reset-id) without starting a writer thread: what the `telemetry`
    /// CLI uses. Nothing is written until a command changes something, so
    /// status and preview work where the data directory cannot be written.
    pub fn control(self) -> Result<Control, ControlError> {
        Control::new(self.config)
    }

    /// Decides consent, loads or creates the identity, opens the queue and,
    /// unless telemetry is off, starts the writer thread.
    ///
    /// Only a bad application name is an error. A problem with the data
    /// directory turns telemetry off for this run, with a warning in the log
    /// and in [`Telemetry::problems`]: telemetry never stops the application.
    pub fn build(self) -> Result<Telemetry, InvalidAppName> {
        let prefix = names::event_prefix(&self.config.app_name)?;
        let debug = self.config.debug();
        let mut problems = Vec::new();
        let configured = self.config.problems.clone();
        let control = match Control::new_checked(self.config, Some(policy::BUILD_LOCK_WAIT)) {
            Ok(control) => control,
            Err((error, decision)) => {
                tracing::warn!(%error, "telemetry is off for this run");
                problems.extend(configured);
                problems.push(error.to_string());
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        problems.extend(control.problems().iter().cloned());
        problems.extend(control.decision().warning());
        for problem in &problems {
            tracing::warn!(problem = %problem, "telemetry");
        }
        let decision = control.decision().clone();
        if !decision.mode.records() {
            return Ok(Telemetry::off(decision, prefix, problems));
        }
        let identity = match control.identity_for_recording() {
            Ok(identity) => identity,
            Err(error) => {
                tracing::warn!(%error, "telemetry is off for this run");
                problems.push(error.to_string());
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        let mut anonymizer = Anonymizer::new(&identity.hashing_key);
        if let Some(key) = &control.config().app_key {
            anonymizer = anonymizer.with_app_key(key);
        }
        let mut control = control;
        let sink = if decision.mode == Mode::On {
            control.take_sink()
        } else {
            None
        };
        let courier = sink.and_then(|sink| {
            let queue = control.queue().clone();
            // Whatever earlier runs left goes out at once. Looked for before
            // this run captures anything, within the bound on lock waits; a
            // queue that cannot be read in time counts as holding some.
            let backlog = queue
                .peek_within(1, Some(policy::BUILD_LOCK_WAIT))
                .map_or(true, |batch| !batch.is_empty());
            let (signals, received) = mpsc::channel();
            let pace = Arc::new(Pace::default());
            let courier_pace = Arc::clone(&pace);
            spawn("telemetry-courier", move || {
                worker::courier_loop(sink, &queue, &received, backlog, &courier_pace);
            })
            .map(|thread| ((signals, pace), thread))
            .map_err(|error| problems.push(error))
            .ok()
        });
        let (sender, receiver) = mpsc::sync_channel(control.config().channel_capacity);
        let counters = Arc::new(AtomicCounters::default());
        let writer = {
            let queue = control.queue().clone();
            let counters = Arc::clone(&counters);
            let courier = courier
                .as_ref()
                .map(|((signals, pace), _)| (signals.clone(), Arc::clone(pace)));
            spawn("telemetry-writer", move || {
                let courier = courier.as_ref().map(|(signals, pace)| (signals, &**pace));
                worker::write_loop(&queue, &receiver, &counters, courier);
            })
        };
        let writer = match writer {
            Ok(writer) => writer,
            Err(problem) => {
                problems.push(problem);
                return Ok(Telemetry::off(decision, prefix, problems));
            }
        };
        let (courier, courier_thread) = courier.unzip();
        let courier = courier.map(|(signals, _)| signals);
        let sampler = control.config().sampler.clone();
        let unguarded_custom = control.config().unguarded_custom_events;
        Ok(Telemetry::new(Inner {
            recording: AtomicBool::new(true),
            decision,
            prefix,
            client_id: identity.client_id.to_string(),
            anonymizer: Some(anonymizer),
            sampler,
            sender: Some(sender),
            courier,
            threads: Mutex::new(vec![writer].into_iter().chain(courier_thread).collect()),
            counters,
            flushed: Mutex::new(CaptureCounters::default()),
            debug,
            unguarded_custom,
            problems,
            control: Some(Mutex::new(control)),
        }))
    }
}

/// Starts a named background thread; the error says which could not start.
fn spawn(name: &str, run: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, String> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(run)
        .map_err(|error| {
            tracing::warn!(%error, thread = name, "telemetry thread could not start; telemetry is off");
            format!("the {name} thread could not start: {error}")
        })
}

impl Telemetry {
    /// Starts configuring telemetry for the application `app_name`
    /// (`myapp`): its events are named `myapp_{event}`, its environment
    /// variables start with `MYAPP_`.
    pub fn builder(app_name: &str) -> TelemetryBuilder {
        TelemetryBuilder {
            config: Config::new(app_name),
        }
    }
}
