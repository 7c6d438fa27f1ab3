//! The `telemetry` command run as a user would, against a temporary data dir.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn telemetry(dir: &tempfile::TempDir) -> Command {
    let mut command = Command::cargo_bin("telemetry").unwrap();
    command
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DO_NOT_TRACK")
        .env_remove("TELEMETRY_TELEMETRY_ENABLED")
        .env_remove("TELEMETRY_TELEMETRY_DEBUG")
        .env_remove("TELEMETRY_TELEMETRY_CONFIG")
        .env_remove("TELEMETRY_TELEMETRY_POSTHOG_API_KEY")
        .env_remove("TELEMETRY_TELEMETRY_COLLECTOR_URL")
        .env_remove("TELEMETRY_TELEMETRY_COLLECTOR_API_KEY");
    command
}

#[test]
fn a_broken_configuration_still_lets_the_user_see_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_BATCH_SIZE", "ten")
        .arg("disable")
        .assert()
        .success()
        .stderr(contains(
            "`batch_size` (environment variable TELEMETRY_TELEMETRY_BATCH_SIZE)",
        ));
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("your saved choice"));
}

#[test]
fn status_names_the_posthog_sink_when_a_key_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("myapp.toml");
    std::fs::write(
        &config,
        "[telemetry]\nposthog_host = \"https://eu.i.posthog.com\"\n",
    )
    .unwrap();
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_POSTHOG_API_KEY", "phc_abcdefgh1234")
        .arg("--config")
        .arg(&config)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("posthog https://eu.i.posthog.com"))
        .stdout(contains("phc_").not());
}

#[test]
fn an_opt_in_app_starts_local_with_an_empty_queue() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: local"))
        .stdout(contains("queue:       0 events"));
}

#[test]
fn demo_records_locally_and_disable_purges_and_forgets_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let tree = demo_tree();
    telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .assert()
        .success()
        .stdout(contains("telemetry_performance_benchmark"))
        .stdout(contains("telemetry_session_summary"));
    let preview = telemetry(&dir)
        .args(["preview", "--json"])
        .output()
        .unwrap();
    let envelopes: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(envelopes.as_array().unwrap().len(), 3);
    let text = String::from_utf8(preview.stdout).unwrap();
    assert!(
        !text.contains(&tree.path().display().to_string()),
        "no path is recorded"
    );

    telemetry(&dir)
        .arg("disable")
        .assert()
        .success()
        .stdout(contains("purged 3 queued events"));
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: off"))
        .stdout(contains("client id:   none"))
        .stdout(contains("queue:       0 events"));
}

/// A directory with one file for `demo` to search.
fn demo_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    std::fs::write(tree.path().join("config.rs"), "fn parse_config() {}\n").unwrap();
    tree
}

/// The envelopes `{PREFIX}TELEMETRY_DEBUG` printed to stderr, parsed.
fn debug_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| line.strip_prefix("telemetry: "))
        .filter(|rest| rest.starts_with('{'))
        .map(|json| serde_json::from_str(json).unwrap())
        .collect()
}

#[test]
fn debug_prints_each_event_as_it_would_be_sent_and_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tree = demo_tree();
    let debugged = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_DEBUG", "1")
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .output()
        .unwrap();
    assert!(debugged.status.success());
    let printed = debug_lines(&debugged.stderr);
    let preview = telemetry(&dir)
        .args(["preview", "--json"])
        .output()
        .unwrap();
    let queued: Vec<serde_json::Value> = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(
        printed.len(),
        3,
        "{}",
        String::from_utf8_lossy(&debugged.stderr)
    );
    assert_eq!(
        printed, queued,
        "stderr shows the envelopes exactly as queued"
    );

    let quiet = telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .output()
        .unwrap();
    assert!(quiet.status.success());
    assert_eq!(
        debug_lines(&quiet.stderr),
        Vec::<serde_json::Value>::new(),
        "nothing is printed without the variable"
    );
    assert!(
        String::from_utf8_lossy(&quiet.stdout).contains("recorded 3 events"),
        "the quiet run recorded its events all the same"
    );
}

#[test]
fn do_not_track_wins_over_a_saved_choice() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir).arg("enable").assert().success();
    telemetry(&dir)
        .env("DO_NOT_TRACK", "1")
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: off"))
        .stdout(contains("DO_NOT_TRACK=1 is set"));
}

#[test]
fn exit_codes_distinguish_usage_from_failure() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .arg("reset-id")
        .assert()
        .code(2)
        .stderr(contains("--yes"));
    telemetry(&dir).arg("no-such-command").assert().code(2);
    for command in ["status", "demo"] {
        telemetry(&dir)
            .args(["--app", "9 lives", command])
            .assert()
            .code(2)
            .stderr(contains("application name \"9 lives\""));
    }
    // Local (the default of an opt-in app) never sends.
    telemetry(&dir)
        .arg("send")
        .assert()
        .code(1)
        .stderr(contains("telemetry is local"));
    telemetry(&dir).arg("enable").assert().success();
    telemetry(&dir)
        .arg("send")
        .assert()
        .code(1)
        .stderr(contains("no sink is configured"));
    telemetry(&dir)
        .args(["reset-id", "--yes"])
        .assert()
        .success()
        .stdout(contains("new client id"));
}

#[cfg(unix)]
#[test]
fn settings_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir).arg("enable").assert().success();
    let mode = std::fs::metadata(dir.path().join("settings.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Every entry under `root` with the bytes of each file, so that a
/// comparison shows any file created, removed or rewritten.
fn snapshot(root: &std::path::Path) -> Vec<(std::path::PathBuf, Option<Vec<u8>>)> {
    let mut entries = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                entries.push((relative, None));
                pending.push(path);
            } else {
                entries.push((relative, Some(std::fs::read(&path).unwrap())));
            }
        }
    }
    entries.sort();
    entries
}

#[test]
fn looking_at_a_new_data_dir_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["preview"],
        &["preview", "--json"],
        &["queue", "show"],
    ] {
        telemetry(&dir).args(args).assert().success();
        assert_eq!(snapshot(dir.path()), Vec::new(), "after {args:?}");
    }
}

/// Makes a tree read-only (directories 0500, files 0400) until dropped.
#[cfg(unix)]
struct ReadOnly<'a>(&'a std::path::Path);

#[cfg(unix)]
impl<'a> ReadOnly<'a> {
    fn new(root: &'a std::path::Path) -> Self {
        Self::chmod(root, 0o500, 0o400);
        Self(root)
    }

    fn chmod(path: &std::path::Path, dir_mode: u32, file_mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        if path.is_dir() {
            // Children first while the directory can still be listed.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
            for entry in std::fs::read_dir(path).unwrap() {
                Self::chmod(&entry.unwrap().path(), dir_mode, file_mode);
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(dir_mode)).unwrap();
        } else {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(file_mode)).unwrap();
        }
    }

    /// Whether the permissions stop this user (they do not stop root).
    fn is_enforced(&self) -> bool {
        let probe = self.0.join("probe");
        let created = std::fs::File::create(&probe).is_ok();
        if created {
            std::fs::remove_file(probe).unwrap();
        }
        !created
    }
}

#[cfg(unix)]
impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        Self::chmod(self.0, 0o700, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn status_and_preview_work_on_a_read_only_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let tree = demo_tree();
    telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .assert()
        .success();
    let before = snapshot(dir.path());
    let read_only = ReadOnly::new(dir.path());
    if !read_only.is_enforced() {
        eprintln!(
            "permissions are not enforced for this user: only checking that nothing is written"
        );
    }
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("queue:       3 events"));
    telemetry(&dir)
        .arg("preview")
        .assert()
        .success()
        .stdout(contains("3 events queued"));
    drop(read_only);
    assert_eq!(snapshot(dir.path()), before, "looking wrote nothing");
}

#[test]
fn status_counts_the_corrupt_queue_lines_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let tree = demo_tree();
    telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .assert()
        .success();
    let segment = std::fs::read_dir(dir.path().join("queue"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "jsonl")
        })
        .unwrap();
    let mut lines = std::fs::read(&segment).unwrap();
    lines.extend_from_slice(b"{\"not\": \"an envelope\"}\n");
    std::fs::write(&segment, lines).unwrap();
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("queue:       3 events"))
        .stdout(contains("1 corrupt line skipped"));
    let json = telemetry(&dir).args(["status", "--json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(status["queue"]["skipped_lines"], 1);
}

#[test]
fn a_config_file_named_on_the_command_line_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    for command in ["status", "send", "disable"] {
        telemetry(&dir)
            .arg("--config")
            .arg(&missing)
            .arg(command)
            .assert()
            .code(2)
            .stderr(contains(missing.display().to_string()));
    }
}

#[test]
fn an_explicit_config_file_wins_over_the_config_variable() {
    let dir = tempfile::tempdir().unwrap();
    let from_variable = dir.path().join("variable.toml");
    let explicit = dir.path().join("explicit.toml");
    std::fs::write(
        &from_variable,
        "[telemetry]\nposthog_host = \"https://variable.example.com\"\n",
    )
    .unwrap();
    std::fs::write(
        &explicit,
        "[telemetry]\nposthog_host = \"https://explicit.example.com\"\n",
    )
    .unwrap();
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_POSTHOG_API_KEY", "phc_abcdefgh1234")
        .env("TELEMETRY_TELEMETRY_CONFIG", &from_variable)
        .arg("--config")
        .arg(&explicit)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("posthog https://explicit.example.com"));
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_POSTHOG_API_KEY", "phc_abcdefgh1234")
        .env("TELEMETRY_TELEMETRY_CONFIG", &from_variable)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("posthog https://variable.example.com"));
}

#[test]
fn status_json_carries_every_problem_the_text_shows() {
    let dir = tempfile::tempdir().unwrap();
    let text = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_BATCH_SIZE", "ten")
        .arg("status")
        .output()
        .unwrap();
    assert!(text.status.success());
    let shown: Vec<String> = String::from_utf8(text.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("  problem:     "))
        .map(str::to_owned)
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(
        shown[0].contains("TELEMETRY_TELEMETRY_BATCH_SIZE"),
        "{shown:?}"
    );
    let json = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_BATCH_SIZE", "ten")
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(status["problems"], serde_json::json!(shown));
}

#[test]
fn send_without_a_sink_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .arg("enable")
        .assert()
        .success()
        .stdout(contains("set TELEMETRY_TELEMETRY_POSTHOG_API_KEY"));
    telemetry(&dir)
        .arg("send")
        .assert()
        .code(1)
        .stderr(contains("no sink is configured"))
        .stderr(contains("TELEMETRY_TELEMETRY_POSTHOG_API_KEY"))
        .stderr(contains("`posthog_api_key`"));
}

#[test]
fn status_shows_the_enabled_variable_and_when_a_saved_disable_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_ENABLED", "yes")
        .arg("status")
        .assert()
        .success()
        .stdout(contains(
            "decided by:  TELEMETRY_TELEMETRY_ENABLED=yes is set",
        ));
    telemetry(&dir).arg("disable").assert().success();
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_ENABLED", "true")
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: off"))
        .stdout(contains(
            "TELEMETRY_TELEMETRY_ENABLED=true is set, but your saved `disable` wins",
        ));
    let json = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_ENABLED", "true")
        .args(["status", "--json"])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        status["notes"][0]
            .as_str()
            .unwrap()
            .contains("TELEMETRY_TELEMETRY_ENABLED=true"),
        "{status}"
    );
}

#[test]
fn off_never_says_events_stay_in_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .env("DO_NOT_TRACK", "1")
        .arg("enable")
        .assert()
        .success()
        .stdout(contains("telemetry stays off"))
        .stdout(contains("local queue").not());
    telemetry(&dir)
        .env("DO_NOT_TRACK", "1")
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: off"))
        .stdout(contains("local queue").not());
}

#[test]
fn configuration_errors_are_one_line_each_without_doubled_backticks() {
    let dir = tempfile::tempdir().unwrap();
    let unknown_key = dir.path().join("unknown-key.toml");
    let syntax_error = dir.path().join("syntax-error.toml");
    std::fs::write(&unknown_key, "[telemetry]\nbatch_sise = 5\n").unwrap();
    std::fs::write(&syntax_error, "[telemetry]\nbatch_size = \n").unwrap();
    for (file, expected) in [
        (
            &unknown_key,
            "unknown key, expected one of `enabled`, `posthog_api_key`",
        ),
        (
            &syntax_error,
            ", line 2, column 14: invalid TOML: invalid string",
        ),
    ] {
        let output = telemetry(&dir)
            .arg("--config")
            .arg(file)
            .arg("disable")
            .output()
            .unwrap();
        assert!(output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("``"), "{stderr}");
        for line in stderr.lines() {
            assert!(line.starts_with("telemetry: warning: "), "{stderr}");
        }
    }
}

/// The envelopes `demo` printed, parsed.
fn demo_envelopes(stdout: &str) -> Vec<serde_json::Value> {
    let start = stdout.find("\n{\n").unwrap() + 1;
    let end = stdout.find(" events queued").unwrap();
    let end = stdout[..end].rfind('\n').unwrap();
    serde_json::Deserializer::from_str(&stdout[start..end])
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// Every number in `value`, with its path.
fn numbers(value: &serde_json::Value, path: &str, found: &mut Vec<(String, f64)>) {
    match value {
        serde_json::Value::Number(number) => {
            found.push((path.to_owned(), number.as_f64().unwrap()));
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                numbers(item, &format!("{path}[{index}]"), found);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                numbers(item, &format!("{path}.{key}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn demo_shows_every_part_of_the_pipeline_readably_and_queues_exact_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let tree = demo_tree();
    let demo = telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .output()
        .unwrap();
    assert!(demo.status.success());
    let stdout = String::from_utf8(demo.stdout).unwrap();
    for line in stdout
        .lines()
        .filter(|line| line.starts_with([' ', '{', '}']))
    {
        assert!(line.len() <= 100, "one value per line: {line}");
    }
    let shown = demo_envelopes(&stdout);
    let summary = &shown[2]["properties"];
    assert_eq!(summary["languages"], serde_json::json!({"rust": 1}));
    assert_eq!(
        summary["semantic_categories"],
        serde_json::json!({"function": 1.0})
    );

    let preview = telemetry(&dir)
        .args(["preview", "--json"])
        .output()
        .unwrap();
    let queued: Vec<serde_json::Value> = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(queued[2]["properties"]["languages"], summary["languages"]);
    let mut long_fractions = 0;
    for (shown, queued) in shown.iter().zip(&queued) {
        let (mut shown_numbers, mut queued_numbers) = (Vec::new(), Vec::new());
        numbers(shown, "", &mut shown_numbers);
        numbers(queued, "", &mut queued_numbers);
        assert_eq!(shown_numbers.len(), queued_numbers.len());
        for ((path, shown), (_, queued)) in shown_numbers.iter().zip(&queued_numbers) {
            // Two decimals from 1 up, three significant digits below.
            let rounded = if queued.abs() >= 1.0 {
                format!("{queued:.2}")
            } else {
                format!("{queued:.2e}")
            };
            assert_eq!(
                *shown,
                rounded.parse::<f64>().unwrap(),
                "{path} rounded for display"
            );
            if queued
                .to_string()
                .split('.')
                .nth(1)
                .is_some_and(|fraction| fraction.len() > 6)
            {
                long_fractions += 1;
            }
        }
    }
    assert!(long_fractions > 0, "the queue keeps every digit");
}

/// A host application that embeds the subcommand, as docs/cli.md shows.
#[derive(clap::Parser)]
#[command(name = "myapp")]
enum Host {
    /// See and control what myapp records.
    #[command(subcommand)]
    Telemetry(telemetry_cli::TelemetryCommand),
}

#[test]
fn a_host_embeds_the_controls_without_demo_and_the_binary_keeps_it() {
    use clap::{CommandFactory, Parser};
    let Host::Telemetry(command) = Host::try_parse_from(["myapp", "telemetry", "status"]).unwrap();
    assert!(matches!(
        command,
        telemetry_cli::TelemetryCommand::Status(_)
    ));
    let error = Host::try_parse_from(["myapp", "telemetry", "demo"])
        .err()
        .unwrap();
    assert_eq!(error.kind(), clap::error::ErrorKind::InvalidSubcommand);
    let mut host = Host::command();
    let help = host
        .find_subcommand_mut("telemetry")
        .unwrap()
        .render_help()
        .to_string();
    assert!(help.contains("status") && !help.contains("demo"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("demo"));
}

/// The examples of docs/cli.md: each command line of a `console` block
/// with the lines it printed, in order.
fn documented_examples() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut examples: Vec<(String, String)> = Vec::new();
    let mut in_console = false;
    for line in text.lines() {
        if line == "```console" {
            in_console = true;
        } else if line.starts_with("```") {
            in_console = false;
        } else if in_console {
            if let Some(command) = line.strip_prefix("$ ") {
                examples.push((command.to_owned(), String::new()));
            } else if let Some((_, printed)) = examples.last_mut() {
                printed.push_str(line);
                printed.push('\n');
            }
        }
    }
    for (_, printed) in &mut examples {
        *printed = printed.trim_end().to_owned();
    }
    examples
}

/// `text` with every UUID replaced, so that runs compare.
fn without_uuids(text: &str) -> String {
    let is_uuid = |word: &str| {
        word.len() == 36
            && word.char_indices().all(|(index, c)| {
                if [8, 13, 18, 23].contains(&index) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            })
    };
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if rest.len() >= 36 && rest.is_char_boundary(36) && is_uuid(&rest[..36]) {
            out.push_str("<uuid>");
            rest = &rest[36..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn docs_cli_md_shows_what_the_commands_print() {
    let examples = documented_examples();
    // Each with what runs before it on a new data dir; the docs' first
    // occurrence of the command line is the one checked.
    let checked: [(&str, &[&str]); 7] = [
        ("telemetry status", &[]),
        ("telemetry status --json", &[]),
        ("DO_NOT_TRACK=1 telemetry enable", &[]),
        (
            "MYAPP_TELEMETRY_ENABLED=true telemetry status",
            &["disable"],
        ),
        ("telemetry send", &[]),
        ("telemetry reset-id", &[]),
        ("telemetry queue show", &[]),
    ];
    for (command_line, setup) in checked {
        let (_, documented) = examples
            .iter()
            .find(|(command, _)| command == command_line)
            .unwrap_or_else(|| panic!("docs/cli.md shows `{command_line}`"));
        let dir = tempfile::tempdir().unwrap();
        let myapp = || {
            let mut command = Command::cargo_bin("telemetry").unwrap();
            command
                .args(["--app", "myapp", "--data-dir"])
                .arg(dir.path())
                .env_remove("DO_NOT_TRACK")
                .env_remove("MYAPP_TELEMETRY_ENABLED")
                .env_remove("MYAPP_TELEMETRY_CONFIG")
                .env_remove("MYAPP_TELEMETRY_POSTHOG_API_KEY")
                .env_remove("MYAPP_TELEMETRY_COLLECTOR_URL")
                .env_remove("MYAPP_TELEMETRY_COLLECTOR_API_KEY");
            command
        };
        for args in setup {
            myapp().arg(args).assert().success();
        }
        let mut words = command_line.split_whitespace();
        let mut command = myapp();
        for word in words.by_ref() {
            match word.split_once('=') {
                Some((name, value)) => command.env(name, value),
                None => break,
            };
        }
        let output = command.args(words).output().unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap()
        )
        .replace(&dir.path().display().to_string(), "/tmp/demo-telemetry");
        assert_eq!(
            without_uuids(printed.trim_end()),
            without_uuids(documented),
            "`{command_line}` as docs/cli.md shows it"
        );
    }
}

#[test]
fn enabling_while_the_environment_keeps_telemetry_off_creates_no_identity() {
    let dir = tempfile::tempdir().unwrap();
    telemetry(&dir)
        .env("DO_NOT_TRACK", "1")
        .arg("enable")
        .assert()
        .success()
        .stdout(contains("client id").not());
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: on"))
        .stdout(contains("client id:   none"));
    // The first run that records draws it.
    let tree = demo_tree();
    telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .assert()
        .success();
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("client id:   none").not());
}

#[cfg(unix)]
#[test]
fn the_first_change_still_makes_an_open_queue_directory_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue");
    std::fs::create_dir(&queue).unwrap();
    std::fs::set_permissions(&queue, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mode = || std::fs::metadata(&queue).unwrap().permissions().mode() & 0o777;
    telemetry(&dir).arg("status").assert().success();
    assert_eq!(mode(), 0o777, "looking changes nothing");
    telemetry(&dir).args(["queue", "purge"]).assert().success();
    assert_eq!(mode(), 0o700);
}

/// One request a [`FakeCollector`] saw: its path and its JSON body.
type Seen = (String, serde_json::Value);

/// A collector on loopback for the commands that reach one: one request
/// per connection, answered by `answer(path)` with a status and a body,
/// recorded.
struct FakeCollector {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>>,
}

impl FakeCollector {
    fn start(answer: impl Fn(&str, &serde_json::Value) -> (u16, String) + Send + 'static) -> Self {
        use std::io::{BufRead, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: std::sync::Arc<std::sync::Mutex<Vec<Seen>>> = std::sync::Arc::default();
        let recorded = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = std::io::BufReader::new(&mut stream);
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let (mut length, mut gzip) = (0, false);
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let Some((name, value)) = line.trim_end().split_once(':') else {
                        break;
                    };
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.trim().parse().unwrap(),
                        "content-encoding" => gzip = value.trim() == "gzip",
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                if gzip {
                    let mut plain = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut plain)
                        .unwrap();
                    body = plain;
                }
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let (status, answer) = answer(&path, &body);
                recorded.lock().unwrap().push((path, body));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Answer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The client id that `enable` printed.
fn enabled_client_id(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find_map(|line| line.strip_prefix("client id: "))
        .unwrap()
        .to_owned()
}

#[test]
fn disable_asks_the_collector_to_delete_the_client_s_records_after_the_local_purge() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    let watched = settings.clone();
    // When the request arrives, the id must be gone from the settings.
    let server = FakeCollector::start(move |path, body| {
        let client_id = body["client_id"].as_str().unwrap_or_default();
        let saved = std::fs::read_to_string(&watched).unwrap_or_default();
        if path == "/api/v1/deletion" && !client_id.is_empty() && !saved.contains(client_id) {
            (200, r#"{"deleted":2}"#.to_owned())
        } else {
            (
                500,
                r#"{"error":"asked before the local purge"}"#.to_owned(),
            )
        }
    });
    let enabled = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &server.url)
        .arg("enable")
        .output()
        .unwrap();
    assert!(enabled.status.success());
    let client_id = enabled_client_id(&enabled.stdout);
    assert!(
        std::fs::read_to_string(&settings)
            .unwrap()
            .contains(&client_id)
    );

    let disabled = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &server.url)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_API_KEY", "ingest-key-1234")
        .arg("disable")
        .output()
        .unwrap();
    let stdout = String::from_utf8(disabled.stdout).unwrap();
    assert_eq!(disabled.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout,
        format!(
            "saved: telemetry off\npurged 0 queued events; the client id and hashing key are deleted\nasked collector {} to delete the records of client id {client_id}: 2 deleted\n",
            server.url
        )
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1, serde_json::json!({ "client_id": client_id }));

    // With the id forgotten, a second disable has nothing to ask.
    telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &server.url)
        .arg("disable")
        .assert()
        .success()
        .stdout(contains("asked").not());
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn an_unreachable_collector_leaves_telemetry_off_and_exits_3_with_the_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let enabled = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &url)
        .arg("enable")
        .output()
        .unwrap();
    let client_id = enabled_client_id(&enabled.stdout);
    let disabled = telemetry(&dir)
        .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &url)
        .arg("disable")
        .output()
        .unwrap();
    assert_eq!(
        disabled.status.code(),
        Some(telemetry_cli::EXIT_REMOTE_DELETION_FAILED)
    );
    let stdout = String::from_utf8(disabled.stdout).unwrap();
    let stderr = String::from_utf8(disabled.stderr).unwrap();
    assert!(
        stdout.starts_with("saved: telemetry off\npurged 0 queued events"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with("telemetry: error: telemetry is off and the local data is deleted, but the deletion request failed: "),
        "{stderr}"
    );
    assert!(stderr.contains("could not be reached"), "{stderr}");
    assert!(stderr.contains(&client_id), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    telemetry(&dir)
        .arg("status")
        .assert()
        .success()
        .stdout(contains("telemetry for telemetry: off"))
        .stdout(contains("client id:   none"));
}

#[test]
fn send_goes_to_the_collector_which_wins_over_posthog() {
    let dir = tempfile::tempdir().unwrap();
    let server = FakeCollector::start(|_, body| {
        let count = body.as_array().map_or(0, Vec::len);
        (
            200,
            format!(r#"{{"accepted":{count},"rejected":0,"errors":[]}}"#),
        )
    });
    let tree = demo_tree();
    telemetry(&dir)
        .args(["demo", "--query", "config"])
        .arg(tree.path())
        .assert()
        .success();
    telemetry(&dir).arg("enable").assert().success();
    let both = |command: &mut Command| {
        command
            .env("TELEMETRY_TELEMETRY_COLLECTOR_URL", &server.url)
            .env("TELEMETRY_TELEMETRY_POSTHOG_API_KEY", "phc_abcdefgh1234");
    };
    let mut status = telemetry(&dir);
    both(&mut status);
    status
        .arg("status")
        .assert()
        .success()
        .stdout(contains(format!("sink:        collector {}", server.url)))
        .stdout(contains(
            "both `collector_url` and `posthog_api_key` are configured: events go to the collector, not to PostHog",
        ));
    let mut send = telemetry(&dir);
    both(&mut send);
    send.arg("send")
        .assert()
        .success()
        .stdout("sent 3 events in 1 request\n")
        .stderr(contains("events go to the collector"));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "/api/v1/telemetry");
    let types: Vec<&str> = seen[0]
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "performance_benchmark",
            "performance_benchmark",
            "session_summary"
        ]
    );
}
