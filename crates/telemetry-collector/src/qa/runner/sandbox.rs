//! The sandbox runner: the test command in new Linux namespaces, as an
//! unprivileged user, under resource limits, with an empty environment.
//!
//! Two ways in, chosen by `qa.sandbox`:
//! - **bwrap** (bubblewrap, when installed): new user, network, PID, IPC,
//!   UTS, cgroup and mount namespaces; a root file system holding only
//!   `/usr` (and its `/bin`, `/lib` links) read-only, a fresh `/proc`,
//!   `/dev` and `/tmp`, the workspace read-write at `/workspace`, and any
//!   `qa.read_only_paths`.
//! - **namespaces** (util-linux `unshare`, always there): new user,
//!   network, PID (with its own `/proc`), IPC and UTS namespaces. The host
//!   file system stays visible, with the unprivileged user's rights only.
//!
//! Either way the command runs under `prlimit` (processes, address space,
//! CPU time, file size, no core files) and the parent's wall clock, and
//! dies with the collector (`--pdeathsig`, `--kill-child`,
//! `--die-with-parent`). When the collector runs as root, each run has an
//! unprivileged user of its own ([`FIRST_RUN_UID`]), to which the
//! workspace is handed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Limits, RunError, RunOutput, RunRequest, Runner, base_env, on_path, supervise};
use crate::qa::config::SandboxMode;

/// The user and group Docker containers run as (`nobody`).
pub const NOBODY: u32 = 65534;

/// The first of the user ids a sandbox run takes when the collector is
/// root: each run has one of its own from this range, so that the process
/// limit (`RLIMIT_NPROC`, counted per user) is the run's alone. None of
/// them is in `/etc/passwd`; on the host's files they have the rights of
/// any other user, as `nobody` has.
pub const FIRST_RUN_UID: u32 = 0x5E00_0000;

/// How many user ids runs take from.
const RUN_UIDS: u32 = 1 << 20;

/// Where the workspace is mounted in bwrap mode.
const BWRAP_WORKSPACE: &str = "/workspace";

/// Which isolation the sandbox uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tool {
    Bwrap(PathBuf),
    Namespaces { unshare: PathBuf },
}

/// The sandbox runner.
#[derive(Debug, Clone)]
pub struct Sandbox {
    tool: Tool,
    setpriv: PathBuf,
    prlimit: PathBuf,
    read_only: Vec<PathBuf>,
    /// Whether each run gets a user of its own (the collector is root).
    own_user: bool,
}

fn needed(program: &str) -> Result<PathBuf, RunError> {
    on_path(program).ok_or_else(|| {
        RunError::Unavailable(format!(
            "the sandbox runner needs `{program}` (util-linux) on PATH"
        ))
    })
}

impl Sandbox {
    /// The sandbox for `mode`: `Auto` takes `bwrap` when it is on `PATH`.
    /// `read_only` are host paths the command may read (a toolchain, say),
    /// mounted at the same place in bwrap mode.
    pub fn new(mode: SandboxMode, read_only: &[PathBuf]) -> Result<Self, RunError> {
        let bwrap = on_path("bwrap");
        let tool = match (mode, bwrap) {
            (SandboxMode::Bwrap | SandboxMode::Auto, Some(path)) => Tool::Bwrap(path),
            (SandboxMode::Bwrap, None) => {
                return Err(RunError::Unavailable(
                    "`qa.sandbox = \"bwrap\"` but `bwrap` (bubblewrap) is not on PATH".to_owned(),
                ));
            }
            (SandboxMode::Namespaces | SandboxMode::Auto, _) => Tool::Namespaces {
                unshare: needed("unshare")?,
            },
        };
        let root = is_root();
        Ok(Self {
            tool,
            setpriv: needed("setpriv")?,
            prlimit: needed("prlimit")?,
            read_only: read_only.to_vec(),
            own_user: root,
        })
    }

    /// Whether this sandbox uses bwrap.
    #[must_use]
    pub fn uses_bwrap(&self) -> bool {
        matches!(self.tool, Tool::Bwrap(_))
    }

    /// Whether each run gets an unprivileged user of its own (from
    /// [`FIRST_RUN_UID`]): when the collector is root. Otherwise the
    /// command runs as the collector's user.
    #[must_use]
    pub fn drops_user(&self) -> bool {
        self.own_user
    }

    fn prlimit_args(&self, limits: &Limits) -> Vec<String> {
        let mib = |n: u64| n.saturating_mul(1024 * 1024);
        // Since Linux 5.14 the kernel counts RLIMIT_NPROC per user
        // namespace, so the run's processes alone count; before, per user,
        // which a run's own user id (as root) makes the same.
        vec![
            self.prlimit.display().to_string(),
            format!("--nproc={}", limits.processes),
            format!("--as={}", mib(limits.memory_mb)),
            format!(
                "--cpu={}:{}",
                limits.cpu_seconds,
                limits.cpu_seconds.saturating_add(super::CPU_GRACE_SECONDS)
            ),
            format!("--fsize={}", mib(limits.file_size_mb)),
            "--core=0".to_owned(),
            "--".to_owned(),
        ]
    }

    fn command(&self, request: &RunRequest<'_>, scratch: &Path, user: Option<u32>) -> Command {
        use std::os::unix::process::CommandExt as _;
        let mut command = Command::new(&self.setpriv);
        command.env_clear().current_dir(request.workspace);
        if let Some(user) = user {
            // std drops the supplementary groups too.
            command.uid(user).gid(user);
        }
        // After the change of user (which clears it), so that the sandbox
        // dies with the collector.
        command.args(["--pdeathsig", "KILL", "--"]);
        let env = |home: &str, tmp: &str| {
            let mut all: Vec<(String, String)> = base_env(home, tmp)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            all.extend(request.env.iter().map(|(k, v)| (k.clone(), v.clone())));
            all
        };
        match &self.tool {
            Tool::Bwrap(bwrap) => {
                command.arg(bwrap).args([
                    "--unshare-all",
                    "--die-with-parent",
                    "--new-session",
                    "--ro-bind",
                    "/usr",
                    "/usr",
                ]);
                for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
                    match std::fs::read_link(top) {
                        Ok(target) => {
                            command.arg("--symlink").arg(target).arg(top);
                        }
                        Err(_) if Path::new(top).is_dir() => {
                            command.args(["--ro-bind", top, top]);
                        }
                        Err(_) => {}
                    }
                }
                for etc in ["/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime"] {
                    command.args(["--ro-bind-try", etc, etc]);
                }
                for path in &self.read_only {
                    command.arg("--ro-bind").arg(path).arg(path);
                }
                command
                    .args([
                        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind",
                    ])
                    .arg(request.workspace)
                    .args([BWRAP_WORKSPACE, "--chdir", BWRAP_WORKSPACE, "--clearenv"]);
                for (key, value) in env(BWRAP_WORKSPACE, "/tmp") {
                    command.arg("--setenv").arg(key).arg(value);
                }
                command.arg("--");
            }
            Tool::Namespaces { unshare } => {
                command.arg(unshare).args([
                    "--user",
                    "--map-root-user",
                    "--net",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc",
                    "--ipc",
                    "--uts",
                    "--",
                ]);
                let home = request.workspace.display().to_string();
                command.envs(env(&home, &scratch.display().to_string()));
            }
        }
        command.args(self.prlimit_args(request.limits));
        if matches!(self.tool, Tool::Namespaces { .. }) {
            // unshare cannot always raise the signal that ended its child
            // (SIGXCPU), and then exits 1; a shell between them reports it
            // as 128 + n, as bwrap does.
            command.args(["/bin/sh", "-c", "\"$@\"; exit $?", "sh"]);
        }
        command.args(request.command);
        command
    }
}

impl Runner for Sandbox {
    fn name(&self) -> String {
        match self.tool {
            Tool::Bwrap(_) => "sandbox/bwrap".to_owned(),
            Tool::Namespaces { .. } => "sandbox/namespaces".to_owned(),
        }
    }

    fn run(&self, request: &RunRequest<'_>) -> Result<RunOutput, RunError> {
        let failed =
            |what: &str, error: std::io::Error| RunError::Failed(format!("{what}: {error}"));
        let parent = request
            .workspace
            .parent()
            .ok_or_else(|| RunError::Failed("the workspace has no parent directory".to_owned()))?;
        let scratch = parent.join("tmp");
        std::fs::create_dir_all(&scratch).map_err(|e| failed("creating the sandbox's tmp", e))?;
        let user = self.own_user.then(run_uid);
        if let Some(user) = user {
            // The job directory stays the collector's (the run may pass
            // through it, not change it: it cannot swap its workspace for
            // a link); what is in it is the run's.
            keep_traversable(parent).map_err(|e| failed("the job directory", e))?;
            for dir in [request.workspace, scratch.as_path()] {
                hand_over(dir, user)
                    .map_err(|e| failed("handing the workspace to the sandbox user", e))?;
            }
        }
        supervise(
            self.command(request, &scratch, user),
            request.limits,
            request.cancel,
            || {},
        )
    }
}

/// A user id for one run, drawn at random from the range: two runs at
/// once (in this process or another) share one only by a 1 in 2^20
/// chance, and then share a process limit.
fn run_uid() -> u32 {
    let random = uuid::Uuid::new_v4().as_u128() % u128::from(RUN_UIDS);
    FIRST_RUN_UID + u32::try_from(random).unwrap_or(0)
}

/// Whether the collector runs as root.
pub(super) fn is_root() -> bool {
    current_uid() == 0
}

/// The real user id of this process, from `/proc/self/status`.
fn current_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(u32::MAX)
}

/// Lets other users pass through `dir` (0711), and nothing more.
pub(super) fn keep_traversable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
}

/// Gives `dir` and everything under it to `user` (its group too).
pub(super) fn hand_over(dir: &Path, user: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(user), Some(user))?;
    if dir.is_dir() && !dir.is_symlink() {
        for entry in std::fs::read_dir(dir)? {
            hand_over(&entry?.path(), user)?;
        }
    }
    Ok(())
}
