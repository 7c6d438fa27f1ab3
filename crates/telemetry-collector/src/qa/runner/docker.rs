//! The Docker runner: the test command in a container of `qa.docker_image`
//! with the reference design's settings: no network, a non-root user, a
//! process limit, memory and CPU limits, `no-new-privileges`, and besides
//! those every capability dropped and a read-only root file system.
//!
//! The image is never pulled: it must be present (`docker pull` it once).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{RunError, RunOutput, RunRequest, Runner, base_env, on_path, supervise};
use crate::qa::runner::sandbox::NOBODY;

/// Where the workspace is mounted in the container.
const WORKSPACE: &str = "/workspace";

/// The Docker runner.
#[derive(Debug, Clone)]
pub struct Docker {
    docker: PathBuf,
    image: String,
}

impl Docker {
    /// The runner on `image`, once Docker answers and holds the image;
    /// [`RunError::Unavailable`] says which is missing.
    pub fn new(image: &str) -> Result<Self, RunError> {
        let docker = on_path("docker").ok_or_else(|| {
            RunError::Unavailable("the docker runner needs `docker` on PATH".to_owned())
        })?;
        let inspect = Command::new(&docker)
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .stdin(Stdio::null())
            .output()
            .map_err(|error| RunError::Unavailable(format!("running docker: {error}")))?;
        if !inspect.status.success() {
            let said = String::from_utf8_lossy(&inspect.stderr);
            let said = said.trim();
            return Err(RunError::Unavailable(if said.contains("Cannot connect") {
                format!("the Docker daemon does not answer: {said}")
            } else {
                format!("the image `{image}` is not present (docker pull {image}): {said}")
            }));
        }
        Ok(Self {
            docker,
            image: image.to_owned(),
        })
    }

    fn container_name() -> String {
        format!("telemetry-qa-{}", uuid::Uuid::new_v4().simple())
    }
}

impl Runner for Docker {
    fn name(&self) -> String {
        "docker".to_owned()
    }

    fn run(&self, request: &RunRequest<'_>) -> Result<RunOutput, RunError> {
        let limits = request.limits;
        let name = Self::container_name();
        let parent = request
            .workspace
            .parent()
            .ok_or_else(|| RunError::Failed("the workspace has no parent directory".to_owned()))?;
        // The container's user must be able to write its workspace.
        if super::sandbox::is_root() {
            super::sandbox::keep_traversable(parent)
                .and_then(|()| super::sandbox::hand_over(request.workspace, NOBODY))
                .map_err(|error| {
                    RunError::Failed(format!("handing over the workspace: {error}"))
                })?;
        }
        let mut command = Command::new(&self.docker);
        command
            .env_clear()
            .args(["run", "--rm", "--init", "--name", &name]);
        command.args([
            "--network=none".to_owned(),
            format!("--user={NOBODY}:{NOBODY}"),
            format!("--pids-limit={}", limits.processes),
            format!("--memory={}m", limits.memory_mb),
            format!("--memory-swap={}m", limits.memory_mb),
            format!("--cpus={}", limits.cpus),
            "--security-opt=no-new-privileges".to_owned(),
            "--cap-drop=ALL".to_owned(),
            "--read-only".to_owned(),
            "--tmpfs=/tmp:rw,nosuid,nodev,size=256m".to_owned(),
            format!(
                "--ulimit=cpu={}:{}",
                limits.cpu_seconds,
                limits.cpu_seconds.saturating_add(super::CPU_GRACE_SECONDS)
            ),
            format!(
                "--ulimit=fsize={0}:{0}",
                limits.file_size_mb.saturating_mul(1024 * 1024)
            ),
            "--ulimit=core=0:0".to_owned(),
            format!("--volume={}:{WORKSPACE}:rw", request.workspace.display()),
            format!("--workdir={WORKSPACE}"),
        ]);
        for (key, value) in base_env(WORKSPACE, "/tmp")
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .chain(request.env.iter().map(|(k, v)| (k.clone(), v.clone())))
        {
            command.arg("--env").arg(format!("{key}={value}"));
        }
        command.arg(&self.image).args(request.command);
        let docker = self.docker.clone();
        let output = supervise(command, limits, request.cancel, move || {
            // Killing `docker run` leaves the container running.
            let _ = Command::new(docker)
                .args(["kill", &name])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        })?;
        // 125: Docker itself failed (the daemon, the image, the options),
        // not the tests.
        if output.exit_code == Some(125) && output.killed_by.is_none() {
            let said = String::from_utf8_lossy(&output.log);
            return Err(RunError::Unavailable(format!(
                "docker run failed: {}",
                said.trim().lines().last().unwrap_or("exit code 125")
            )));
        }
        Ok(output)
    }
}
