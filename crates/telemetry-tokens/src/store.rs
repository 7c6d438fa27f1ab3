//! The SQLite store: one table, `token_estimation_v2_events`, with
//! versioned migrations recorded in `PRAGMA user_version`.
//!
//! | version | change |
//! | --- | --- |
//! | 1 | the table, without `actual_max_tokens` (databases written before the ceiling was recorded) |
//! | 2 | `actual_max_tokens`: the ceiling finally sent; `NULL` in rows written before it |
//!
//! Opening a database upgrades it in place, in one transaction per step; a
//! database from a newer version is refused rather than guessed at. A file
//! with the table but `user_version` 0 (written by a tool that did not set
//! it) is read for its columns: with `actual_max_tokens` it is version 2,
//! without it version 1.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use crate::usage::TokenUsage;

/// The table's name, as the reference workflow's queries use it.
pub const TABLE: &str = "token_estimation_v2_events";

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Version 1: everything but `actual_max_tokens`.
const V1: &str = "
CREATE TABLE token_estimation_v2_events (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    run_id TEXT NOT NULL,
    phase_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    category TEXT NOT NULL,
    complexity TEXT NOT NULL,
    deliverable_count INTEGER NOT NULL,
    estimated_output_tokens INTEGER NOT NULL CHECK (estimated_output_tokens > 0),
    selected_budget INTEGER NOT NULL,
    actual_input_tokens INTEGER NOT NULL,
    actual_output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER,
    reasoning_tokens INTEGER,
    counts_source TEXT NOT NULL CHECK (counts_source IN ('provider', 'estimated')),
    success INTEGER NOT NULL,
    truncated INTEGER NOT NULL
);
";

/// Version 2: the ceiling finally sent to the provider.
const V2: &str = "ALTER TABLE token_estimation_v2_events ADD COLUMN actual_max_tokens INTEGER;";

/// Each step, from the version before it.
const MIGRATIONS: [(i64, &str); 2] = [(1, V1), (2, V2)];

/// A store problem, naming the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file does not exist (and was not to be created).
    #[error(
        "{path}: no such database; it is created by the first recorded call (set {{APP}}_TELEMETRY_DB_ENABLED=1 in the environment of the process that calls the LLM)"
    )]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Written by a newer version of this crate.
    #[error(
        "{path}: schema version {found} is newer than this version understands ({SCHEMA_VERSION}); upgrade telemetry-tokens"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// A directory for the file could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Anything SQLite reported.
    #[error("{path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

/// An open token-usage database, at the current schema version.
#[derive(Debug)]
pub struct Store {
    connection: Connection,
    path: PathBuf,
    upgraded_from: Option<i64>,
}

/// Whether [`Store::open`] may create the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Create it when missing (recording).
    IfMissing,
    /// It must exist (check, calibrate).
    MustExist,
}

impl Store {
    /// Opens (or creates) the database at `path` and upgrades its schema.
    pub fn open(path: &Path, create: Create) -> Result<Self, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        if create == Create::MustExist && !path.is_file() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut connection = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        // WAL: the recorder's writer and a `check` may run at once. Reads
        // through a memory map: calibration scans the whole table.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;
                 PRAGMA mmap_size = 1073741824;",
            )
            .map_err(sqlite)?;
        let upgraded_from = migrate(&mut connection, path)?;
        Ok(Self {
            connection,
            path: path.to_owned(),
            upgraded_from,
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version the file had when this open upgraded it, if it did.
    #[must_use]
    pub fn upgraded_from(&self) -> Option<i64> {
        self.upgraded_from
    }

    /// The schema version (always [`SCHEMA_VERSION`] once open).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        user_version(&self.connection).map_err(|source| self.error(source))
    }

    /// The connection, for reading.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Inserts `records` in one transaction. Records are validated by the
    /// caller ([`TokenUsage::validate`]).
    pub fn insert(&mut self, records: &[TokenUsage]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let transaction = self.connection.transaction().map_err(sqlite)?;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT INTO token_estimation_v2_events (
                        timestamp, run_id, phase_id, provider, model, category, complexity,
                        deliverable_count, estimated_output_tokens, selected_budget, actual_max_tokens,
                        actual_input_tokens, actual_output_tokens, cached_input_tokens, reasoning_tokens,
                        counts_source, success, truncated
                    ) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                )
                .map_err(sqlite)?;
            for record in records {
                let counts = &record.counts;
                statement
                    .execute(params![
                        record.timestamp.to_string(),
                        record.run_id,
                        record.phase_id,
                        record.provider,
                        record.model,
                        record.category,
                        record.complexity,
                        record.deliverable_count,
                        clamp(record.estimated_output_tokens),
                        clamp(record.selected_budget),
                        clamp(record.actual_max_tokens),
                        clamp(counts.input),
                        clamp(counts.output),
                        counts.cached_input.map(clamp),
                        counts.reasoning.map(clamp),
                        counts.source.as_str(),
                        record.success,
                        record.truncated,
                    ])
                    .map_err(sqlite)?;
            }
        }
        transaction.commit().map_err(sqlite)
    }
}

/// SQLite integers are signed.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn user_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// The version of a file whose `user_version` is 0: none without the table,
/// else by its columns.
fn inferred_version(connection: &Connection) -> rusqlite::Result<i64> {
    let mut statement = connection.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let columns: Vec<String> = statement
        .query_map([TABLE], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(if columns.is_empty() {
        0
    } else if columns.iter().any(|column| column == "actual_max_tokens") {
        2
    } else {
        1
    })
}

/// Brings the schema to [`SCHEMA_VERSION`]; returns the version it started
/// from when it changed anything on an existing table.
fn migrate(connection: &mut Connection, path: &Path) -> Result<Option<i64>, StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut version = user_version(connection).map_err(sqlite)?;
    if version == 0 {
        version = inferred_version(connection).map_err(sqlite)?;
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: path.to_owned(),
            found: version,
        });
    }
    let started = version;
    for (target, step) in MIGRATIONS {
        if target <= version {
            continue;
        }
        let transaction = connection.transaction().map_err(sqlite)?;
        transaction.execute_batch(step).map_err(sqlite)?;
        transaction
            .pragma_update(None, "user_version", target)
            .map_err(sqlite)?;
        transaction.commit().map_err(sqlite)?;
        version = target;
    }
    // A file with the table but no version number gets one.
    if user_version(connection).map_err(sqlite)? != SCHEMA_VERSION {
        connection
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite)?;
    }
    Ok((started > 0 && started < SCHEMA_VERSION).then_some(started))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/t.db"), Create::IfMissing).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.upgraded_from(), None);
        assert_eq!(inferred_version(store.connection()).unwrap(), 2);
    }

    #[test]
    fn a_missing_file_is_not_created_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.db");
        let error = Store::open(&path, Create::MustExist).unwrap_err();
        assert!(matches!(error, StoreError::Missing { .. }));
        assert!(
            error.to_string().contains("absent.db: no such database"),
            "{error}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 9)
            .unwrap();
        let error = Store::open(&path, Create::MustExist).unwrap_err();
        assert!(
            matches!(error, StoreError::Newer { found: 9, .. }),
            "{error}"
        );
    }
}
