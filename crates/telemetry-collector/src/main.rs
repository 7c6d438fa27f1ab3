//! The `telemetry-collector` binary.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use telemetry_collector::blobs::Blobs;
use telemetry_collector::clock::SystemClock;
use telemetry_collector::config::{Config, Overrides};
use telemetry_collector::worker::{self, Engine};
use telemetry_collector::{App, Postgres, Sqlite, Storage};

/// A self-hosted ingest server for telemetry-safe.
#[derive(Debug, Parser)]
#[command(name = "telemetry-collector", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the collector keeps its data and how it is configured: what
/// `serve` and `worker` share.
#[derive(Debug, clap::Args)]
struct Place {
    /// Directory of the SQLite database and local blobs.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run on PostgreSQL (`postgres://user@host:port/db`) instead of SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// A TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the ingest and read endpoints, and runs QA workers, until
    /// SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on (port 0 picks a free one and prints it).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        #[command(flatten)]
        place: Place,
        /// QA workers to run in this process (`qa.workers`; 0: none).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
    },
    /// Runs QA workers only, on the same database as a `serve`, until
    /// SIGTERM or Ctrl-C.
    Worker {
        #[command(flatten)]
        place: Place,
        /// QA workers to run (`qa.workers`, at least 1).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
    },
    /// The reference design's demo: an embedded collector on a free
    /// loopback port, the three example traces submitted, validated in the
    /// sandbox and judged by the heuristic judge, and their comparison
    /// table printed. Needs nothing but this binary (and `python3` for the
    /// examples' tests).
    Demo {
        /// Keep serving after the table, until Ctrl-C, to look at the pages.
        #[arg(long)]
        keep: bool,
        /// Where to keep the demo's data (a temporary directory otherwise).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// What a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The HTTP server, with `qa.workers` workers.
    Serve,
    /// Workers only.
    Worker,
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    // The demo prints its table; its log says only what went wrong.
    let default_level = if matches!(command, Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(telemetry_collector::config::LOG_ENV)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let (role, config) = match command {
        Command::Serve {
            listen,
            place,
            workers,
        } => (Role::Serve, load(place, listen, workers)?),
        Command::Worker { place, workers } => {
            let config = load(place, None, workers)?;
            if config.qa.workers == 0 {
                anyhow::bail!("`worker` needs at least one worker: give --workers N");
            }
            (Role::Worker, config)
        }
        Command::Demo { keep, data_dir } => {
            return telemetry_collector::demo::run(&telemetry_collector::demo::Options {
                keep,
                data_dir,
            });
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(run(config, role));
    // A sandboxed test command still running past the grace period dies
    // with this process (--pdeathsig); a Docker container is left to end.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

fn load(
    place: Place,
    listen: Option<std::net::SocketAddr>,
    workers: Option<usize>,
) -> anyhow::Result<Config> {
    let overrides = Overrides {
        listen,
        data_dir: place.data_dir,
        database_url: place.database_url,
    };
    let mut config = Config::load(place.config.as_deref(), std::env::vars(), &overrides)?;
    if let Some(workers) = workers {
        config.qa.workers = workers;
    }
    Ok(config)
}

async fn run(config: Config, role: Role) -> anyhow::Result<()> {
    let blobs = match &config.blob_url {
        Some(url) => Blobs::from_url(url)?,
        None => Blobs::local(&config.data_dir.join("blobs"))?,
    };
    if let Some(url) = &config.database_url {
        let storage = Postgres::connect(url, config.database_pool_size)
            .await
            .context("connecting to PostgreSQL")?;
        start(config, storage, blobs, role).await
    } else {
        let storage = Sqlite::open(&config.data_dir)
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
        start(config, storage, blobs, role).await
    }
}

/// How long workers may finish the attempt in hand after a stop.
const WORKER_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

async fn start<S: Storage>(
    config: Config,
    storage: S,
    blobs: Blobs,
    role: Role,
) -> anyhow::Result<()> {
    let app = Arc::new(
        App::new(&config, Arc::new(storage), blobs, Arc::new(SystemClock))
            .map_err(anyhow::Error::msg)?,
    );
    let workers = if config.qa.enabled && config.qa.workers > 0 {
        let engine = Engine::from_config(&config.qa).map_err(anyhow::Error::msg)?;
        Some(worker::spawn(&app, &Arc::new(engine), config.qa.workers))
    } else {
        None
    };
    let served = match role {
        Role::Serve => serve(&config, Arc::clone(&app)).await,
        Role::Worker => {
            tracing::info!(
                workers = config.qa.workers,
                storage = app.storage().backend(),
                "QA workers started"
            );
            shutdown_signal().await;
            Ok(())
        }
    };
    if let Some((stop, tasks)) = workers {
        stop.stop();
        let all = futures_join(tasks);
        if tokio::time::timeout(WORKER_GRACE, all).await.is_err() {
            tracing::warn!(
                grace_seconds = WORKER_GRACE.as_secs(),
                "QA attempts still running are abandoned; their jobs are claimed again after their lease"
            );
        }
    }
    served
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

async fn serve<S: Storage>(config: &Config, app: Arc<App<S>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let address = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{address}")?;
        stdout.flush()?;
    }
    tracing::info!(%address, storage = app.storage().backend(), "collector started");
    if !app.ingest_is_keyed() {
        tracing::warn!("no ingest key is configured: ingest is open to loopback clients only");
    }
    if !app.read_is_keyed() {
        tracing::warn!("no read key is configured: reads are open to loopback clients only");
    }
    telemetry_collector::serve(
        app,
        listener,
        config.retention_interval(),
        shutdown_signal(),
    )
    .await?;
    tracing::info!("collector stopped");
    Ok(())
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be listened for");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("stopping: finishing requests in flight");
}
