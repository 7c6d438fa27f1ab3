//! The user's persisted choice and the installation's identity: a random
//! client id (UUID v4) and a 32-byte hashing key.
//!
//! Both live in one small JSON file, `settings.json`, in the telemetry data
//! directory, readable only by the user (0600 on Unix, the directory 0700),
//! written atomically (a temporary file, `fsync`, then a rename), under an
//! advisory lock so two processes of the application never lose each other's
//! change. A corrupt or truncated file is reported and replaced, never a
//! panic.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::HashKey;
use crate::consent::Mode;

/// The name of the settings file in the data directory.
pub const SETTINGS_FILE: &str = "settings.json";
const LOCK_FILE: &str = "settings.lock";

/// One installation's identity. Created when telemetry is first enabled,
/// discarded when it is turned off, replaced by `reset-id`.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// The `distinct_id` of every event: a random UUID v4, not derived from
    /// anything about the user or the machine.
    pub client_id: Uuid,
    /// The per-installation hashing key; never leaves the machine.
    pub hashing_key: HashKey,
}

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Result<Self, crate::KeyGenerationError> {
        Ok(Self {
            client_id: Uuid::new_v4(),
            hashing_key: HashKey::generate()?,
        })
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("client_id", &self.client_id)
            .field("hashing_key", &self.hashing_key)
            .finish()
    }
}

/// What `settings.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The user's choice, if they made one.
    pub choice: Option<Mode>,
    /// The installation's identity, while telemetry is not off.
    pub identity: Option<Identity>,
}

/// The file format, versioned so a later format can read this one.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    choice: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hashing_key: Option<String>,
}

const VERSION: u32 = 1;

/// Settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file or directory operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`writing`, `locking`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// No hashing key could be drawn from the OS random number generator.
    #[error(transparent)]
    Key(#[from] crate::KeyGenerationError),
}

/// Why the settings file was not used as it was; it is replaced on the next
/// save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

impl std::fmt::Display for SettingsProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is unreadable ({}); it will be replaced with fresh settings",
            self.path.display(),
            self.reason
        )
    }
}

/// The settings file of one application, in its telemetry data directory.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    dir: PathBuf,
}

impl SettingsStore {
    /// The store in `dir`, the telemetry data directory (created on first save).
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The platform's data directory for `app_name`, with a `telemetry`
    /// folder inside: `~/.local/share/{app}/telemetry` on Linux,
    /// `~/Library/Application Support/{app}/telemetry` on macOS,
    /// `%APPDATA%\{app}\data\telemetry` on Windows. `None` when the platform
    /// has no home directory.
    #[must_use]
    pub fn default_dir(app_name: &str) -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", app_name)
            .map(|dirs| dirs.data_dir().join("telemetry"))
    }

    /// The telemetry data directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings file.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.join(SETTINGS_FILE)
    }

    /// Reads the settings: defaults when there is no file yet, defaults and
    /// the problem when the file is corrupt or unreadable.
    #[must_use]
    pub fn load(&self) -> (Settings, Option<SettingsProblem>) {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return (Settings::default(), None);
            }
            Err(error) => {
                return (
                    Settings::default(),
                    Some(SettingsProblem {
                        path,
                        reason: error.to_string(),
                    }),
                );
            }
        };
        match parse(&bytes) {
            Ok(settings) => (settings, None),
            Err(reason) => (Settings::default(), Some(SettingsProblem { path, reason })),
        }
    }

    /// Reads, changes and writes the settings under the lock, so that
    /// concurrent updates from two processes are applied one after the
    /// other. Returns the settings as written and any problem met reading
    /// the old file.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<R, SettingsError>,
    ) -> Result<(R, Settings, Option<SettingsProblem>), SettingsError> {
        self.update_within(None, change)
    }

    /// Like [`update`](Self::update), waiting at most `wait` for another
    /// holder of the lock (when set).
    pub(crate) fn update_within<R>(
        &self,
        wait: Option<std::time::Duration>,
        change: impl FnOnce(&mut Settings) -> Result<R, SettingsError>,
    ) -> Result<(R, Settings, Option<SettingsProblem>), SettingsError> {
        create_private_dir(&self.dir)?;
        let lock_path = self.dir.join(LOCK_FILE);
        let lock = crate::fs::private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .and_then(|lock| crate::fs::make_private(&lock).map(|()| lock))
            .map_err(|source| SettingsError::Io {
                action: "creating",
                path: lock_path.clone(),
                source,
            })?;
        crate::fs::lock(&lock, true, wait).map_err(|source| SettingsError::Io {
            action: "locking",
            path: lock_path,
            source,
        })?;
        let (mut settings, problem) = self.load();
        let result = change(&mut settings)?;
        self.write(&settings)?;
        Ok((result, settings, problem))
    }

    /// Writes atomically: temporary file (0600), `fsync`, rename, `fsync` of
    /// the directory.
    fn write(&self, settings: &Settings) -> Result<(), SettingsError> {
        let path = self.path();
        let temporary = self
            .dir
            .join(format!(".{SETTINGS_FILE}.{}.tmp", std::process::id()));
        let file = SettingsFile {
            version: VERSION,
            choice: settings.choice,
            client_id: settings
                .identity
                .as_ref()
                .map(|identity| identity.client_id),
            hashing_key: settings
                .identity
                .as_ref()
                .map(|identity| identity.hashing_key.to_hex()),
        };
        let mut json = serde_json::to_vec_pretty(&file).unwrap_or_default();
        json.push(b'\n');
        match crate::fs::replace(&path, &temporary, &json, true) {
            // The new settings are in place; syncing their directory is best
            // effort (not every platform can), as a lost rename after a power
            // cut only brings back the previous choice.
            Ok(()) => {}
            Err(error) if error.action == crate::fs::SYNC_DIR => {}
            Err(error) => {
                return Err(SettingsError::Io {
                    action: error.action,
                    path: error.path,
                    source: error.source,
                });
            }
        }
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> Result<Settings, String> {
    let file: SettingsFile = serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    if file.version != VERSION {
        return Err(format!("unsupported settings version {}", file.version));
    }
    let identity = match (file.client_id, file.hashing_key) {
        (Some(client_id), Some(key)) => Some(Identity {
            client_id,
            hashing_key: HashKey::from_hex(&key)
                .ok_or_else(|| format!("hashing_key must be {} hex digits", HashKey::LEN * 2))?,
        }),
        (None, None) => None,
        _ => return Err("client_id and hashing_key must be present together".to_owned()),
    };
    Ok(Settings {
        choice: file.choice,
        identity,
    })
}

/// Creates `dir` and its parents, private (0700).
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), SettingsError> {
    crate::fs::create_private_dir(dir).map_err(|source| SettingsError::Io {
        action: "creating directory",
        path: dir.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, SettingsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SettingsStore::new(dir.path().join("app").join("telemetry"));
        (dir, store)
    }

    #[test]
    fn missing_file_means_defaults_without_a_problem() {
        let (_dir, store) = temp_store();
        assert_eq!(store.load(), (Settings::default(), None));
    }

    #[test]
    fn round_trips_choice_and_identity() {
        let (_dir, store) = temp_store();
        let identity = Identity::generate().unwrap();
        let saved = identity.clone();
        store
            .update(|settings| {
                settings.choice = Some(Mode::On);
                settings.identity = Some(saved);
                Ok(())
            })
            .unwrap();
        let (settings, problem) = store.load();
        assert_eq!(problem, None);
        assert_eq!(settings.choice, Some(Mode::On));
        assert_eq!(settings.identity, Some(identity));
    }

    #[cfg(unix)]
    #[test]
    fn file_is_0600_and_directory_0700() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, store) = temp_store();
        store
            .update(|settings| {
                settings.choice = Some(Mode::Local);
                Ok(())
            })
            .unwrap();
        let file_mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        let dir_mode = fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
    }

    #[test]
    fn corrupt_or_truncated_files_are_reported_and_replaced() {
        let (_dir, store) = temp_store();
        store
            .update(|settings| {
                settings.choice = Some(Mode::On);
                settings.identity = Some(Identity::generate()?);
                Ok(())
            })
            .unwrap();
        let good = fs::read(store.path()).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() / 2].to_vec(), "EOF while parsing"),
            (b"not json".to_vec(), "expected ident"),
            (b"{\"version\": 9}".to_vec(), "unsupported settings version 9"),
            (
                br#"{"version": 1, "client_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427", "hashing_key": "zz"}"#.to_vec(),
                "hashing_key must be 64 hex digits",
            ),
            (
                br#"{"version": 1, "client_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427"}"#.to_vec(),
                "present together",
            ),
            (vec![0xff, 0xfe, 0x00], "expected value"),
        ];
        for (content, reason) in cases {
            fs::write(store.path(), &content).unwrap();
            let (settings, problem) = store.load();
            assert_eq!(settings, Settings::default());
            let problem = problem.expect("a problem is reported");
            assert!(
                problem.reason.contains(reason),
                "{reason:?} not in {:?}",
                problem.reason
            );
            assert!(problem.to_string().contains(SETTINGS_FILE), "{problem}");

            let ((), written, seen) = store
                .update(|settings| {
                    settings.choice = Some(Mode::Off);
                    Ok(())
                })
                .unwrap();
            assert!(seen.is_some());
            assert_eq!(written.choice, Some(Mode::Off));
            assert_eq!(
                store.load(),
                (written, None),
                "the corrupt file was replaced"
            );
        }
    }

    #[test]
    fn concurrent_updates_from_many_threads_all_apply() {
        // Each update reads, changes and writes under the lock; without it,
        // some toggles would be lost.
        let (_dir, store) = temp_store();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        store
                            .update(|settings| {
                                settings.choice = Some(match settings.choice {
                                    None | Some(Mode::Off) => Mode::Local,
                                    Some(Mode::Local) => Mode::On,
                                    Some(Mode::On) => Mode::Off,
                                });
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        // 80 steps through a cycle of three from None: 80 % 3 == 2 → On.
        assert_eq!(store.load().0.choice, Some(Mode::On));
    }

    #[test]
    fn write_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").unwrap();
        let store = SettingsStore::new(blocker.join("telemetry"));
        let error = store.update(|_| Ok(())).unwrap_err().to_string();
        assert!(error.contains(&blocker.display().to_string()), "{error}");
    }
}
