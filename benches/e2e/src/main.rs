//! End to end: events captured in one process, delivered to a fake PostHog
//! capture server in another, through this workspace's pipeline and through
//! the official `posthog-rs` client; and a million captures while the server
//! is down.
//!
//! `cargo xtask bench` runs `telemetry-e2e-bench all`, which starts each part
//! as a child process of this binary, so that every number belongs to one
//! process:
//!
//! - `serve` runs the fake server (`telemetry_test_support::posthog`)
//!   and answers `count` on its standard input with the events it accepted
//!   and how many distinct uuids they carry. Its CPU time is never counted.
//! - `ours URL N`, `posthog-rs URL N` and `posthog-rs-immediate URL N` send
//!   `N` events and print one `result` line: wall seconds from before the
//!   client is built to the last event accepted, and the CPU seconds of the
//!   client process over the same span (`/proc/self/stat` utime + stime,
//!   every thread included), and for ours the writer thread's CPU seconds;
//!   each thread's CPU goes to standard error. `all` runs each client three
//!   times and reports the median and the best run.
//! - `offline N [PER_SECOND]` captures `N` events while nothing listens (as
//!   fast as it can, or paced), waits for the writer, and prints its peak
//!   RSS (`VmHWM` of `/proc/self/status`), what the queue holds against
//!   its bounds, and the writer thread's CPU seconds.
//!
//! Our client runs with the shipped defaults (queue bound, channel, gzip,
//! two requests in flight) but for: telemetry on, the fake server's URL and
//! key, batches of [`BATCH`] (the largest `batch_size`, as posthog-rs gets
//! the same `flush_at`), a channel with room for every event of the burst
//! (as posthog-rs gets a `max_queue_size` of every event), and short retry
//! backoffs, which a healthy server never makes it use.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use telemetry_runtime::Telemetry;
use telemetry_runtime::queue::{Counters, Queue, QueueConfig};
use telemetry_test_support::events::SearchCompleted;
use telemetry_test_support::posthog as fake;

const API_KEY: &str = "phc_benchkey0123456789";
/// Events per request for both clients: our largest `batch_size`, and the
/// same `flush_at` and `max_batch_size` for posthog-rs.
const BATCH: usize = 1000;
/// The paced offline run: a quarter of a million captures a second, still
/// far above what telemetry sees, leaves the writer thread a share of the
/// second core.
const OFFLINE_RATE: usize = 250_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let number = |i: usize| -> anyhow::Result<usize> {
        arg(i)
            .context("missing number")?
            .parse()
            .context("not a number")
    };
    match arg(0) {
        Some("serve") => serve(),
        Some("ours") => ours(arg(1).context("missing URL")?, number(2)?),
        Some("posthog-rs") => posthog_rs(arg(1).context("missing URL")?, number(2)?, false),
        Some("posthog-rs-immediate") => {
            posthog_rs(arg(1).context("missing URL")?, number(2)?, true)
        }
        Some("offline") => offline(number(1)?, number(2).ok()),
        Some("all") => all(number(1).unwrap_or(100_000), number(2).unwrap_or(1_000_000)),
        _ => bail!(
            "usage: telemetry-e2e-bench all [EVENTS] [OFFLINE_EVENTS] | serve | ours URL N | posthog-rs[-immediate] URL N | offline N [PER_SECOND]"
        ),
    }
}

/// The fake server, until its standard input closes.
fn serve() -> anyhow::Result<()> {
    let server = fake::FakePostHog::start(API_KEY);
    server.accept_any_client();
    println!("{}", server.url());
    std::io::stdout().flush()?;
    for line in std::io::stdin().lock().lines() {
        match line?.trim() {
            "count" => {
                let accepted = server.accepted();
                let uuids: std::collections::HashSet<&str> = accepted
                    .iter()
                    .filter_map(|event| event["uuid"].as_str())
                    .collect();
                if let Some(error) = server.wire_errors().first() {
                    eprintln!(
                        "fake server: {} wire errors, the first: {error:.300}",
                        server.wire_errors().len()
                    );
                }
                println!(
                    "{} {} {}",
                    accepted.len(),
                    uuids.len(),
                    server.wire_errors().len()
                );
                std::io::stdout().flush()?;
                server.clear();
            }
            other => bail!("unknown server command {other:?}"),
        }
    }
    Ok(())
}

/// CPU seconds of this process so far, every thread included.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').context("no ) in /proc/self/stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    #[allow(clippy::cast_precision_loss, reason = "CPU ticks")]
    Ok(ticks as f64 / clock_ticks_per_second()?)
}

fn clock_ticks_per_second() -> anyhow::Result<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

/// CPU seconds of each live thread of this process, by name.
fn thread_cpu_seconds() -> anyhow::Result<Vec<(String, f64)>> {
    let ticks = clock_ticks_per_second()?;
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")? {
        let stat = std::fs::read_to_string(task?.path().join("stat"))?;
        let (head, rest) = stat.rsplit_once(')').context("no ) in stat")?;
        let name = head
            .split_once('(')
            .map_or("?", |(_, name)| name)
            .to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        #[allow(clippy::cast_precision_loss, reason = "CPU ticks")]
        threads.push((name, used as f64 / ticks));
    }
    Ok(threads)
}

/// A line in `/proc/self/status`, in KiB.
fn status_kib(key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|line| line.starts_with(key))
        .with_context(|| format!("no {key} in /proc/self/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("no value")?
        .parse()?)
}

/// The environment our client reads: on, the fake server, batches of
/// [`BATCH`], gzip on (the default).
fn our_env(url: &str) -> HashMap<String, String> {
    [
        ("BENCH_TELEMETRY_ENABLED", "1"),
        ("BENCH_TELEMETRY_POSTHOG_API_KEY", API_KEY),
        ("BENCH_TELEMETRY_POSTHOG_HOST", url),
        ("BENCH_TELEMETRY_BATCH_SIZE", &BATCH.to_string()),
        ("BENCH_TELEMETRY_GZIP", "true"),
        ("BENCH_TELEMETRY_RETRY_INITIAL_BACKOFF_MS", "50"),
        ("BENCH_TELEMETRY_RETRY_MAX_BACKOFF_SECONDS", "1"),
        ("BENCH_TELEMETRY_REQUEST_TIMEOUT_SECONDS", "10"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect()
}

fn our_telemetry(dir: &std::path::Path, url: &str, capacity: usize) -> anyhow::Result<Telemetry> {
    let env = our_env(url);
    let builder = Telemetry::builder("bench")
        .data_dir(dir)
        .channel_capacity(capacity)
        .env(move |name| env.get(name).cloned());
    let telemetry = telemetry_posthog::configure(builder, None)?.build()?;
    ensure!(
        telemetry.is_recording(),
        "telemetry is off: {:?}",
        telemetry.problems()
    );
    Ok(telemetry)
}

/// This workspace: `capture` each event, then `flush` until all are sent.
fn ours(url: &str, n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cpu = process_cpu_seconds()?;
    let started = Instant::now();
    // Room for every event, as for posthog-rs below: the comparison is of
    // throughput, not of what each drops when the application outruns it.
    let telemetry = our_telemetry(dir.path(), url, n)?;
    for i in 0..n {
        telemetry.capture(&SearchCompleted::sample(i as u64));
    }
    telemetry
        .flush(Duration::from_secs(300))
        .map_err(|error| anyhow::anyhow!("flush: {error}"))?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()? - cpu;
    let counters = telemetry.counters();
    ensure!(
        counters.captured == n as u64,
        "captured {} of {n}: {counters:?}",
        counters.captured
    );
    let mut writer_cpu = 0.0;
    for (thread, seconds) in thread_cpu_seconds()? {
        eprintln!("ours: thread {thread}: {seconds:.3} CPU s");
        if thread.starts_with("telemetry-write") {
            writer_cpu = seconds;
        }
    }
    println!("result {wall:.3} {cpu:.3} {writer_cpu:.3}");
    telemetry.shutdown(Duration::from_secs(5)).ok();
    Ok(())
}

/// The same events as `properties`, built by hand as an application using
/// posthog-rs would: the filtered values, one `insert_prop` each.
fn posthog_event(event: &SearchCompleted, distinct_id: &str) -> anyhow::Result<posthog_rs::Event> {
    let mut out = posthog_rs::Event::new("bench_search_completed", distinct_id);
    out.insert_prop("backend", &event.backend)?;
    out.insert_prop("mode", event.mode)?;
    out.insert_prop("language", &event.language)?;
    out.insert_prop("model", &event.model)?;
    out.insert_prop("results", event.results)?;
    out.insert_prop("tokens_delivered", event.tokens_delivered)?;
    out.insert_prop("tokens_saved", event.tokens_saved)?;
    out.insert_prop("latency_ms", event.latency_ms)?;
    out.insert_prop("cache_hit", event.cache_hit)?;
    out.insert_prop("query", event.query.chars().count())?;
    out.insert_prop("files", event.files.len())?;
    out.insert_prop("config", event.config.is_some())?;
    out.set_timestamp(chrono::Utc::now())?;
    Ok(out)
}

/// posthog-rs: [`BATCH`] events at a time on the blocking client, gzip on,
/// then `flush` and `shutdown`, which return once the worker has sent
/// everything. `immediate` sends each batch with `capture_batch_immediate`
/// (one request, inline) instead of `capture_batch` (queued for its worker
/// thread): both are its documented batch modes, and the table compares
/// with the faster.
fn posthog_rs(url: &str, n: usize, immediate: bool) -> anyhow::Result<()> {
    let send = |client: &posthog_rs::Client, batch| -> anyhow::Result<()> {
        if immediate {
            let summary = client.capture_batch_immediate(batch, false)?;
            ensure!(summary.all_persisted(), "not all persisted: {summary:?}");
        } else {
            client.capture_batch(batch, false);
        }
        Ok(())
    };
    let distinct_id = uuid::Uuid::new_v4().to_string();
    let cpu = process_cpu_seconds()?;
    let started = Instant::now();
    let options = posthog_rs::ClientOptionsBuilder::default()
        .api_key(API_KEY.to_owned())
        .host(url)
        .capture_compression(posthog_rs::CaptureCompression::Gzip)
        .flush_at(BATCH)
        .max_batch_size(BATCH)
        .max_queue_size(n)
        .disable_geoip(true)
        .is_server(false)
        .build()?;
    let client = posthog_rs::client(options);
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..n {
        batch.push(posthog_event(
            &SearchCompleted::sample(i as u64),
            &distinct_id,
        )?);
        if batch.len() == BATCH {
            send(&client, std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        send(&client, batch)?;
    }
    client.flush();
    client.shutdown();
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()? - cpu;
    println!("result {wall:.3} {cpu:.3}");
    Ok(())
}

/// `n` captures with the server down: nothing listens on the port. With a
/// `rate`, the captures are spread to that many per second; without, they
/// come as fast as one thread can make them.
fn offline(n: usize, rate: Option<usize>) -> anyhow::Result<()> {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", closed.local_addr()?);
    drop(closed);
    let dir = tempfile::tempdir()?;
    // The default channel: what an application gets.
    let telemetry = our_telemetry(
        dir.path(),
        &url,
        telemetry_runtime::policy::CHANNEL_CAPACITY,
    )?;
    let started = Instant::now();
    for i in 0..n {
        telemetry.capture(&SearchCompleted::sample(i as u64));
        if let Some(rate) = rate.filter(|_| i % 1000 == 999) {
            #[allow(clippy::cast_precision_loss, reason = "event counts")]
            let due = Duration::from_secs_f64((i + 1) as f64 / rate as f64);
            std::thread::sleep(due.saturating_sub(started.elapsed()));
        }
    }
    let capture_seconds = started.elapsed().as_secs_f64();
    // The writer's flush; delivery fails, as it must with the server down.
    let _ = telemetry.flush(Duration::from_secs(120));
    let counters = telemetry.counters();
    let mut writer_cpu = 0.0;
    for (thread, seconds) in thread_cpu_seconds()? {
        eprintln!("offline: thread {thread}: {seconds:.3} CPU s");
        if thread.starts_with("telemetry-write") {
            writer_cpu = seconds;
        }
    }
    let queue = Queue::open(QueueConfig::new(dir.path().join("queue")))?;
    let stats = queue.stats()?;
    let max_bytes = telemetry_posthog::PostHogConfig::default().max_queue_bytes;
    println!(
        "result {} {} {} {} {} {} {} {:.3} {} {writer_cpu:.3}",
        status_kib("VmHWM:")?,
        counters.captured,
        counters.dropped_channel_full,
        stats.events,
        stats.counters.get(Counters::DROPPED_BY_BOUNDS),
        stats.bytes,
        max_bytes,
        capture_seconds,
        counters.written,
    );
    telemetry.shutdown(Duration::from_millis(100)).ok();
    Ok(())
}

/// A child process of this binary.
fn child(args: &[&str]) -> anyhow::Result<(Child, ChildStdin, BufReader<ChildStdout>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdin = child.stdin.take().context("stdin")?;
    let stdout = BufReader::new(child.stdout.take().context("stdout")?);
    Ok((child, stdin, stdout))
}

/// Runs `args` in a child and returns the numbers of its `result` line.
fn measure(args: &[&str]) -> anyhow::Result<Vec<f64>> {
    let (mut process, _stdin, stdout) = child(args)?;
    let mut numbers = None;
    for line in stdout.lines() {
        let line = line?;
        match line.strip_prefix("result ") {
            Some(rest) => {
                numbers = Some(
                    rest.split_whitespace()
                        .map(str::parse)
                        .collect::<Result<Vec<f64>, _>>()?,
                );
            }
            None => eprintln!("{line}"),
        }
    }
    let status = process.wait()?;
    ensure!(status.success(), "{args:?} failed: {status}");
    numbers.with_context(|| format!("{args:?} printed no result"))
}

/// Runs of each client: the table shows the best and the median.
const RUNS: usize = 3;

/// Runs every part, each client [`RUNS`] times, and prints one `e2e` line per
/// client (the best and the median run by wall time) and one line per
/// offline run. Fails, naming the client and the run, when the server did
/// not get every event exactly once.
fn all(events: usize, offline_events: usize) -> anyhow::Result<()> {
    let (mut server, mut commands, mut answers) = child(&["serve"])?;
    let mut url = String::new();
    answers.read_line(&mut url)?;
    let url = url.trim().to_owned();
    let n = events.to_string();
    for client in ["ours", "posthog-rs", "posthog-rs-immediate"] {
        // (wall, cpu, writer cpu) of each run.
        let mut runs: Vec<(f64, f64, f64)> = Vec::new();
        for run in 1..=RUNS {
            let numbers = measure(&[client, &url, &n])?;
            writeln!(commands, "count")?;
            let mut counts = String::new();
            answers.read_line(&mut counts)?;
            let counts: Vec<usize> = counts
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()?;
            ensure!(
                counts == [events, events, 0],
                "{client}, run {run}: the server accepted {} events with {} distinct uuids and {} wire errors, of {events}",
                counts[0],
                counts[1],
                counts[2]
            );
            runs.push((
                numbers[0],
                numbers[1],
                numbers.get(2).copied().unwrap_or(0.0),
            ));
        }
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (best, median) = (runs[0], runs[runs.len() / 2]);
        #[allow(clippy::cast_precision_loss, reason = "an event count")]
        let rate = |wall: f64| events as f64 / wall;
        println!(
            "e2e {client} events={events} runs={RUNS} wall_s={:.3} events_per_s={:.0} cpu_s={:.3} writer_cpu_s={:.3} best_wall_s={:.3} best_events_per_s={:.0} best_cpu_s={:.3}",
            median.0,
            rate(median.0),
            median.1,
            median.2,
            best.0,
            rate(best.0),
            best.1,
        );
    }
    drop(commands);
    server.wait()?;
    let offline = offline_events.to_string();
    for (name, rate) in [("offline", None), ("offline_paced", Some(OFFLINE_RATE))] {
        let mut args = vec!["offline", &offline];
        let rate_text = rate.map(|rate| rate.to_string());
        args.extend(rate_text.as_deref());
        let numbers = measure(&args)?;
        println!(
            "{name} events={offline_events} per_second={} peak_rss_kib={} captured={} dropped_channel_full={} queued={} dropped_by_bounds={} queue_bytes={} max_bytes={} capture_s={} written={} writer_cpu_s={}",
            rate.unwrap_or(0),
            numbers[0],
            numbers[1],
            numbers[2],
            numbers[3],
            numbers[4],
            numbers[5],
            numbers[6],
            numbers[7],
            numbers[8],
            numbers[9]
        );
    }
    Ok(())
}
