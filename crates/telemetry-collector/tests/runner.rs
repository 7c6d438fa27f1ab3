//! The QA runners on real processes: a passing and a failing test suite,
//! and tests that open a network connection, fork without end, outlive the
//! wall clock, read the environment and write outside their workspace.
//!
//! The sandbox runs in each mode this machine has: namespaces always, and
//! bwrap where bubblewrap is installed (CI installs it, so there a missing
//! bwrap fails). The Docker runner is tested where Docker answers and holds
//! its image; otherwise each Docker test says it skipped.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use common::ps_shows;
use telemetry_collector::qa::config::SandboxMode;
use telemetry_collector::qa::runner::docker::Docker;
use telemetry_collector::qa::runner::sandbox::Sandbox;
use telemetry_collector::qa::runner::{
    Framework, Limits, RunOutput, RunRequest, Runner, validation,
};
use telemetry_trace::Verdict;

/// The runners to test: every sandbox mode this machine has.
fn sandboxes() -> Vec<Sandbox> {
    let mut all = vec![Sandbox::new(SandboxMode::Namespaces, &[]).expect("unshare is installed")];
    match Sandbox::new(SandboxMode::Bwrap, &[]) {
        Ok(bwrap) => all.push(bwrap),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("CI installs bubblewrap, yet: {error}")
        }
        Err(error) => say(&format!("skipped the bwrap sandbox: {error}")),
    }
    all
}

/// A line on the real standard error, past the test harness's capture, so
/// that a skip is seen.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn limits() -> Limits {
    Limits {
        wall_seconds: 20,
        cpu_seconds: 20,
        memory_mb: 512,
        processes: 32,
        ..Limits::default()
    }
}

/// A workspace holding `files`, in a directory of its own (the runner
/// puts its scratch space beside it).
fn workspace(files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let job = tempfile::tempdir().unwrap();
    let workspace = job.path().join("workspace");
    for (path, text) in files {
        let path = workspace.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(&workspace).unwrap();
    (job, workspace)
}

fn run(runner: &dyn Runner, workspace: &Path, command: &[&str], limits: &Limits) -> RunOutput {
    run_with(runner, workspace, command, limits, &BTreeMap::new())
}

fn run_with(
    runner: &dyn Runner,
    workspace: &Path,
    command: &[&str],
    limits: &Limits,
    env: &BTreeMap<String, String>,
) -> RunOutput {
    let command: Vec<String> = command.iter().map(|&s| s.to_owned()).collect();
    runner
        .run(&RunRequest {
            workspace,
            command: &command,
            env,
            limits,
            cancel: &AtomicBool::new(false),
        })
        .unwrap_or_else(|error| panic!("{}: {error}", runner.name()))
}

fn log(output: &RunOutput) -> String {
    String::from_utf8_lossy(&output.log).into_owned()
}

/// The example runner, a pytest look-alike that writes JUnit XML.
fn run_tests_py() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/traces/run_tests.py"),
    )
    .unwrap()
}

const PASSING: &str =
    "def test_adds():\n    assert 1 + 1 == 2\n\ndef test_joins():\n    assert 'a' + 'b' == 'ab'\n";
const FAILING: &str =
    "def test_adds():\n    assert 1 + 1 == 2\n\ndef test_wrong():\n    assert 1 + 1 == 3\n";

fn verdict_of(
    runner: &dyn Runner,
    workspace: &Path,
    output: &RunOutput,
) -> telemetry_trace::Validation {
    let report = std::fs::read_to_string(workspace.join("report.xml")).ok();
    let (counts, problem) = match Framework::Pytest.parse(report.as_deref(), &log(output)) {
        Ok(counts) => (Some(counts), None),
        Err(problem) => (None, Some(problem)),
    };
    validation(&runner.name(), Framework::Pytest, output, counts, problem)
}

#[test]
fn a_passing_suite_is_verified_and_a_failing_one_is_not() {
    let script = run_tests_py();
    for sandbox in sandboxes() {
        let name = sandbox.name();
        for (suite, verified) in [(PASSING, true), (FAILING, false)] {
            let (_job, ws) = workspace(&[("run_tests.py", &script), ("tests/test_math.py", suite)]);
            let output = run(
                &sandbox,
                &ws,
                &["python3", "run_tests.py", "--junitxml=report.xml"],
                &limits(),
            );
            let result = verdict_of(&sandbox, &ws, &output);
            assert_eq!(result.tests_passed, verified, "{name}: {}", log(&output));
            let counts = result.counts.expect("the JUnit report is read");
            if verified {
                assert_eq!((counts.passed, counts.failed), (2, 0), "{name}");
                assert_eq!(result.verdict, Verdict::Verified);
                assert_eq!(output.exit_code, Some(0));
            } else {
                assert_eq!((counts.passed, counts.failed), (1, 1), "{name}");
                assert_eq!(result.verdict, Verdict::NotVerified);
                assert_eq!(output.exit_code, Some(1));
                assert!(result.reason.unwrap().contains("1 failed"), "{name}");
            }
            assert_eq!(result.runner, name);
        }
    }
}

#[test]
fn a_test_cannot_open_a_network_connection() {
    let remote = "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n    print('CONNECTED')\nexcept OSError as error:\n    print('REFUSED', error)\n";
    // Loopback too: the namespace has its own, down.
    let local = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=3)\n    print('CONNECTED')\nexcept OSError as error:\n    print('REFUSED', error)\n";
    for sandbox in sandboxes() {
        for script in [remote, local] {
            let (_job, ws) = workspace(&[("net.py", script)]);
            let output = run(&sandbox, &ws, &["python3", "net.py"], &limits());
            let text = log(&output);
            assert!(text.contains("REFUSED"), "{}: {text}", sandbox.name());
            assert!(!text.contains("CONNECTED"), "{}: {text}", sandbox.name());
        }
    }
}

#[test]
fn a_fork_bomb_is_stopped_by_the_process_limit() {
    // Each process starts two more until fork fails; the script reports
    // the failure and the bomb's processes end with the namespace.
    let bomb = "import os, sys, time\nstarted = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n        started += 1\nexcept OSError as error:\n    print('STOPPED after', started, error)\n    sys.stdout.flush()\n    os._exit(3)\n";
    for sandbox in sandboxes() {
        let (_job, ws) = workspace(&[("bomb.py", bomb)]);
        let output = run(&sandbox, &ws, &["python3", "bomb.py"], &limits());
        let text = log(&output);
        assert!(text.contains("STOPPED after"), "{}: {text}", sandbox.name());
        let started: u64 = text
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        assert!(started <= limits().processes, "{}: {text}", sandbox.name());
        assert_eq!(output.exit_code, Some(3), "{}: {text}", sandbox.name());
        // Its sleeping children went with the namespace: none is left.
        assert!(
            !ps_shows(ws.to_str().unwrap()) && !ps_shows("bomb.py"),
            "{}: processes left",
            sandbox.name()
        );
    }
}

#[test]
fn a_test_outliving_the_wall_clock_is_killed_with_its_children() {
    let slow = "import subprocess, time\nsubprocess.Popen(['sleep', '301.25'])\nprint('started', flush=True)\ntime.sleep(300)\n";
    for sandbox in sandboxes() {
        let (_job, ws) = workspace(&[("slow_wall_clock_test.py", slow)]);
        let limits = Limits {
            wall_seconds: 2,
            ..limits()
        };
        let output = run(
            &sandbox,
            &ws,
            &["python3", "slow_wall_clock_test.py"],
            &limits,
        );
        assert_eq!(
            output.killed_by.as_deref(),
            Some("wall_clock"),
            "{}",
            sandbox.name()
        );
        assert!(
            output.duration.as_secs_f64() < 10.0,
            "{:?}",
            output.duration
        );
        assert!(log(&output).contains("started"), "{}", log(&output));
        let result = validation(&sandbox.name(), Framework::Pytest, &output, None, None);
        assert_eq!(result.verdict, Verdict::Error);
        assert!(result.reason.unwrap().contains("wall-clock"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !ps_shows("slow_wall_clock_test.py") && !ps_shows("301.25"),
            "{}: the test or its child outlived its kill",
            sandbox.name()
        );
    }
}

#[test]
fn a_cancelled_run_is_killed_at_once() {
    let sandbox = Sandbox::new(SandboxMode::Namespaces, &[]).unwrap();
    let (_job, ws) = workspace(&[("hang.py", "import time\ntime.sleep(300)\n")]);
    let cancel = AtomicBool::new(false);
    let command = ["python3".to_owned(), "hang.py".to_owned()];
    let output = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(500));
            cancel.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        sandbox
            .run(&RunRequest {
                workspace: &ws,
                command: &command,
                env: &BTreeMap::new(),
                limits: &limits(),
                cancel: &cancel,
            })
            .unwrap()
    });
    assert_eq!(output.killed_by.as_deref(), Some("cancelled"));
    assert!(output.duration.as_secs_f64() < 5.0, "{:?}", output.duration);
    let result = validation(&sandbox.name(), Framework::Pytest, &output, None, None);
    assert_eq!(result.verdict, Verdict::Error);
}

#[test]
fn the_cpu_limit_is_named_when_it_ends_a_run() {
    let spin = "while True:\n    pass\n";
    let limits = Limits {
        cpu_seconds: 1,
        ..limits()
    };
    for sandbox in sandboxes() {
        let (_job, ws) = workspace(&[("spin.py", spin)]);
        let output = run(&sandbox, &ws, &["python3", "spin.py"], &limits);
        assert_eq!(
            output.killed_by.as_deref(),
            Some("cpu"),
            "{}: {output:?}",
            sandbox.name()
        );
        let result = validation(&sandbox.name(), Framework::Pytest, &output, None, None);
        assert_eq!(result.verdict, Verdict::Error);
        assert!(result.reason.unwrap().contains("CPU"));
    }
}

#[test]
fn the_environment_is_empty_but_for_what_is_configured() {
    // A variable of the collector's own must not reach the test.
    let script = "import os\nfor key in sorted(os.environ):\n    print(key)\n";
    let env: BTreeMap<String, String> = [("PYTHONHASHSEED".to_owned(), "0".to_owned())].into();
    for sandbox in sandboxes() {
        let (_job, ws) = workspace(&[("env.py", script)]);
        let output = run_with(&sandbox, &ws, &["python3", "env.py"], &limits(), &env);
        let mut keys: Vec<String> = log(&output)
            .lines()
            .map(str::to_owned)
            .filter(|key| key != "LC_CTYPE" && key != "PWD")
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            ["HOME", "LANG", "PATH", "PYTHONHASHSEED", "TMPDIR"],
            "{}",
            sandbox.name()
        );
    }
}

#[test]
fn a_test_writes_only_its_workspace() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("planted");
    let script = format!(
        "import os\nopen('inside.txt', 'w').write('ok')\ntry:\n    open({:?}, 'w').write('x')\n    print('WROTE')\nexcept OSError as error:\n    print('DENIED', error.errno)\n",
        target.display().to_string()
    );
    for sandbox in sandboxes() {
        if !sandbox.uses_bwrap() && !sandbox.drops_user() {
            // Without bwrap and without root, the test runs as this user
            // and may write what this user may (docs/qa.md says so).
            say(&format!(
                "skipped for {}: the collector is not root",
                sandbox.name()
            ));
            continue;
        }
        let (_job, ws) = workspace(&[("write.py", &script)]);
        let output = run(&sandbox, &ws, &["python3", "write.py"], &limits());
        let text = log(&output);
        assert!(text.contains("DENIED"), "{}: {text}", sandbox.name());
        assert!(!target.exists(), "{}", sandbox.name());
        assert_eq!(
            std::fs::read_to_string(ws.join("inside.txt")).unwrap(),
            "ok"
        );
    }
}

#[test]
fn output_beyond_the_cap_is_counted_and_dropped() {
    let script = "import sys\nsys.stdout.write('x' * 300000)\n";
    let limits = Limits {
        output_kb: 64,
        ..limits()
    };
    let sandbox = Sandbox::new(SandboxMode::Namespaces, &[]).unwrap();
    let (_job, ws) = workspace(&[("loud.py", script)]);
    let output = run(&sandbox, &ws, &["python3", "loud.py"], &limits);
    assert_eq!(output.log.len(), 64 * 1024);
    assert_eq!(output.dropped_bytes, 300_000 - 64 * 1024);
    assert_eq!(output.exit_code, Some(0));
}

/// The Docker runner, where this machine can run it.
fn docker() -> Option<Docker> {
    let image = "python:3.11-slim";
    match Docker::new(image) {
        Ok(docker) => Some(docker),
        Err(error) => {
            say(&format!(
                "skipped: the docker runner cannot run here: {error}"
            ));
            None
        }
    }
}

#[test]
fn docker_runs_a_suite_without_network_as_non_root() {
    let Some(docker) = docker() else { return };
    let script = run_tests_py();
    let net = "import os, socket\nprint('uid', os.getuid())\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n    print('CONNECTED')\nexcept OSError as error:\n    print('REFUSED', error)\n";
    let (_job, ws) = workspace(&[
        ("run_tests.py", &script),
        ("tests/test_math.py", FAILING),
        ("net.py", net),
    ]);
    let output = run(
        &docker,
        &ws,
        &["python3", "run_tests.py", "--junitxml=report.xml"],
        &limits(),
    );
    let result = verdict_of(&docker, &ws, &output);
    assert!(!result.tests_passed, "{}", log(&output));
    assert_eq!(result.counts.map(|c| (c.passed, c.failed)), Some((1, 1)));
    let output = run(&docker, &ws, &["python3", "net.py"], &limits());
    let text = log(&output);
    assert!(
        text.contains("REFUSED") && !text.contains("uid 0"),
        "{text}"
    );
}

#[test]
fn docker_kills_a_container_past_the_wall_clock() {
    let Some(docker) = docker() else { return };
    let (_job, ws) = workspace(&[("slow.py", "import time\ntime.sleep(300)\n")]);
    let limits = Limits {
        wall_seconds: 3,
        ..limits()
    };
    let output = run(&docker, &ws, &["python3", "slow.py"], &limits);
    assert_eq!(output.killed_by.as_deref(), Some("wall_clock"));
}
