//! The `telemetry-collector` binary.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use telemetry_collector::blobs::Blobs;
use telemetry_collector::clock::SystemClock;
use telemetry_collector::config::{Config, Overrides};
use telemetry_collector::{App, Postgres, Sqlite, Storage};

/// A self-hosted ingest server for telemetry-safe.
#[derive(Debug, Parser)]
#[command(name = "telemetry-collector", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the ingest and read endpoints until SIGTERM or Ctrl-C.
    Serve {
        /// Address to listen on (port 0 picks a free one and prints it).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Directory of the SQLite database and local blobs.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Run on PostgreSQL (`postgres://user@host:port/db`) instead of SQLite.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// A TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(telemetry_collector::config::LOG_ENV)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Command::Serve {
        listen,
        data_dir,
        database_url,
        config,
    } = Cli::parse().command;
    let overrides = Overrides {
        listen,
        data_dir,
        database_url,
    };
    let config = Config::load(config.as_deref(), std::env::vars(), &overrides)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let blobs = match &config.blob_url {
        Some(url) => Blobs::from_url(url)?,
        None => Blobs::local(&config.data_dir.join("blobs"))?,
    };
    if let Some(url) = &config.database_url {
        let storage = Postgres::connect(url, config.database_pool_size)
            .await
            .context("connecting to PostgreSQL")?;
        serve(config, storage, blobs).await
    } else {
        let storage = Sqlite::open(&config.data_dir)
            .with_context(|| format!("opening the database in {}", config.data_dir.display()))?;
        serve(config, storage, blobs).await
    }
}

async fn serve<S: Storage>(config: Config, storage: S, blobs: Blobs) -> anyhow::Result<()> {
    let app = App::new(&config, Arc::new(storage), blobs, Arc::new(SystemClock))
        .map_err(anyhow::Error::msg)?;
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
        Arc::new(app),
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
