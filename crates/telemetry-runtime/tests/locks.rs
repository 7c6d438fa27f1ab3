//! `build` never waits on another process for long: a lock held elsewhere
//! turns telemetry off for this run, with the reason in `problems()`; and
//! everything it creates is private, whatever the umask.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use telemetry_runtime::{Telemetry, TelemetrySafe};

const HOLD: &str = "TELEMETRY_RUNTIME_HOLD_LOCK";
const UMASK_CHILD: &str = "TELEMETRY_RUNTIME_UMASK_CHILD";

#[derive(TelemetrySafe)]
#[telemetry(event = "search")]
struct Search {
    hits: u32,
}

/// Not a test on its own: with [`HOLD`] naming a lock file, locks it, says
/// `locked`, and holds it until its standard input closes, or 60 seconds
/// pass, so that a `build` that waits fails the test rather than hangs it.
#[test]
fn lock_holder() {
    let Ok(path) = std::env::var(HOLD) else {
        return;
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    file.lock().unwrap();
    println!("locked");
    std::io::stdout().flush().unwrap();
    let (closed, stdin_closed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = closed.send(());
    });
    let _ = stdin_closed.recv_timeout(std::time::Duration::from_secs(60));
}

/// A second process holding `lock`, once it says so.
fn hold(lock: &Path) -> Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder", "--nocapture", "--test-threads=1"])
        .env(HOLD, lock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("locked") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the holder exited");
    }
    // The rest of its output (the test harness's summary) is read too, so
    // that it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

fn release(mut child: Child) {
    drop(child.stdin.take());
    child.wait().unwrap();
}

fn build(dir: &Path) -> Telemetry {
    Telemetry::builder("myapp")
        .data_dir(dir)
        .env(|_| None)
        .build()
        .unwrap()
}

fn assert_off_because_of(telemetry: &Telemetry, lock: &Path) {
    assert!(!telemetry.is_recording());
    let problems = telemetry.problems().join("\n");
    assert!(
        problems.contains(&lock.display().to_string())
            && problems.contains("held by another process"),
        "{problems}"
    );
    // Capturing while degraded is as cheap and harmless as while off.
    telemetry.capture(&Search { hits: 1 });
}

#[test]
fn a_held_lock_turns_telemetry_off_for_this_run_instead_of_waiting() {
    for lock in ["queue/queue.lock", "settings.lock"] {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(lock);
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        let holder = hold(&lock);
        // The holder keeps the lock until released below: had `build`
        // waited for it, this test would never get past the next line.
        let telemetry = build(dir.path());
        assert_off_because_of(&telemetry, &lock);
        release(holder);
        assert!(build(dir.path()).is_recording());
    }
}

/// Not a test on its own: with [`UMASK_CHILD`] naming a data directory
/// (and a umask of 000 set by its parent's shell), records one event.
#[test]
fn umask_child() {
    let Ok(dir) = std::env::var(UMASK_CHILD) else {
        return;
    };
    let telemetry = build(Path::new(&dir));
    assert!(telemetry.is_recording(), "{:?}", telemetry.problems());
    telemetry.capture(&Search { hits: 1 });
    telemetry.flush(std::time::Duration::from_secs(10)).unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn every_entry(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(every_entry(&path));
        }
        found.push(path);
    }
    found
}

#[cfg(unix)]
#[test]
fn files_are_0600_and_directories_0700_under_any_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" --exact umask_child --nocapture"#)
        .arg(&exe)
        .env(UMASK_CHILD, &data)
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(mode(&data), 0o700, "the 0777 data directory is tightened");
    let entries = every_entry(&data);
    assert!(
        entries.iter().any(|path| path.ends_with("settings.lock")),
        "{entries:?}"
    );
    assert!(
        entries.iter().any(|path| path.ends_with("queue.lock")),
        "{entries:?}"
    );
    for path in entries {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
    }
}

#[cfg(unix)]
#[test]
fn a_shared_directory_is_refused_with_a_clear_reason() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let shared = parent.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let telemetry = build(&shared);
    assert!(!telemetry.is_recording());
    let problems = telemetry.problems().join("\n");
    assert!(problems.contains("shared directory"), "{problems}");
    assert_eq!(mode(&shared), 0o1777, "a shared directory is left as it is");
}
