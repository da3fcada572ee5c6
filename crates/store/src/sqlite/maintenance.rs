//! The operator's maintenance of a database file outside of serving it: which of the embedded
//! migrations it lacks — read through a read-only connection, so that looking never creates,
//! migrates or otherwise changes the database — and an online backup (`VACUUM INTO`), a
//! consistent copy taken while servers keep reading and writing the file.

use crate::sqlite::location::DatabaseLocation;
use crate::sqlite::migrations::MIGRATIONS;
use crate::sqlite::pool::{Access, DEFAULT_BUSY_TIMEOUT, file_uri};
use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use diesel::sqlite::Sqlite;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Which of the migrations this build carries a database has had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// How many of this build's migrations have been applied.
    pub applied: usize,
    /// The names of this build's migrations not applied yet, oldest first.
    pub pending: Vec<String>,
}

impl SchemaStatus {
    /// Whether the schema is the one this build expects.
    #[must_use]
    pub fn is_up_to_date(&self) -> bool {
        self.pending.is_empty()
    }
}

/// A maintenance operation could not be done. The messages are one line naming the file.
#[derive(Debug, Error)]
pub enum MaintenanceError {
    /// The database file is not there (and was not created).
    #[error("database file '{0}' does not exist")]
    Missing(String),
    /// An in-memory database exists only inside the process that opened it.
    #[error("an in-memory database lives only inside the process that serves it")]
    InMemory,
    /// The file could not be opened, or is not a SQLite database.
    #[error("cannot open database file '{path}': {reason}")]
    Open {
        /// The path as given.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// The backup's target exists already.
    #[error("'{0}' already exists: a backup never overwrites a file")]
    TargetExists(String),
    /// The backup could not be written.
    #[error("cannot write the backup '{path}': {reason}")]
    Backup {
        /// The target as given.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
}

/// Reports which of this build's migrations the database lacks, without creating, migrating or
/// writing anything.
///
/// # Errors
/// [`MaintenanceError::Missing`] for a missing file, [`MaintenanceError::InMemory`] for
/// `:memory:`, [`MaintenanceError::Open`] when the file cannot be read as a database.
pub fn schema_status(location: &DatabaseLocation) -> Result<SchemaStatus, MaintenanceError> {
    let path = file_path(location)?;
    let mut conn = open_existing(path, Access::ReadOnly)?;
    let read_error = |error: diesel::result::Error| MaintenanceError::Open {
        path: path.display().to_string(),
        reason: error.to_string(),
    };
    let applied_versions = applied_versions(&mut conn).map_err(read_error)?;
    let known = MigrationSource::<Sqlite>::migrations(&MIGRATIONS).map_err(|error| {
        MaintenanceError::Open {
            path: path.display().to_string(),
            reason: format!("cannot read the embedded migrations: {error}"),
        }
    })?;
    let mut status = SchemaStatus {
        applied: 0,
        pending: Vec::new(),
    };
    for migration in &known {
        let name = migration.name();
        if applied_versions.contains(&name.version().to_string()) {
            status.applied += 1;
        } else {
            status.pending.push(name.to_string());
        }
    }
    Ok(status)
}

/// Writes a consistent copy of the database to `target` with SQLite's `VACUUM INTO`: one read
/// transaction sees a single committed state, so servers may keep writing meanwhile (a WAL
/// reader does not block them). The copy is compact and in rollback-journal mode; a server
/// started on it switches it to WAL. An existing `target` is never overwritten.
///
/// # Errors
/// [`MaintenanceError::TargetExists`], [`MaintenanceError::Missing`] (the source),
/// [`MaintenanceError::InMemory`], [`MaintenanceError::Open`] or [`MaintenanceError::Backup`].
pub fn backup(location: &DatabaseLocation, target: &Path) -> Result<(), MaintenanceError> {
    let shown = target.display().to_string();
    let backup_error = |reason: String| MaintenanceError::Backup {
        path: shown.clone(),
        reason,
    };
    if target
        .try_exists()
        .map_err(|error| backup_error(error.to_string()))?
    {
        return Err(MaintenanceError::TargetExists(shown));
    }
    let path = file_path(location)?;
    let target = std::path::absolute(target).map_err(|error| backup_error(error.to_string()))?;
    let target = target
        .to_str()
        .ok_or_else(|| backup_error("the path is not valid UTF-8".into()))?;
    let mut conn = open_existing(path, Access::ReadOnly)?;
    // SQLite itself refuses a target that exists and is not empty, so a file created between
    // the check above and this statement is not overwritten either.
    diesel::sql_query("VACUUM INTO ?")
        .bind::<Text, _>(target)
        .execute(&mut conn)
        .map_err(|error| backup_error(error.to_string()))?;
    Ok(())
}

fn file_path(location: &DatabaseLocation) -> Result<&Path, MaintenanceError> {
    match location {
        DatabaseLocation::File(path) => Ok(path),
        DatabaseLocation::Memory => Err(MaintenanceError::InMemory),
    }
}

/// A connection to a database file that must exist already (never created here).
fn open_existing(path: &Path, access: Access) -> Result<SqliteConnection, MaintenanceError> {
    let shown = path.display().to_string();
    let open_error = |reason: String| MaintenanceError::Open {
        path: shown.clone(),
        reason,
    };
    if !path
        .try_exists()
        .map_err(|error| open_error(error.to_string()))?
    {
        return Err(MaintenanceError::Missing(shown));
    }
    let absolute: PathBuf =
        std::path::absolute(path).map_err(|error| open_error(error.to_string()))?;
    let mut conn = SqliteConnection::establish(&file_uri(&absolute, access))
        .map_err(|error| open_error(error.to_string()))?;
    let busy_ms = i32::try_from(DEFAULT_BUSY_TIMEOUT.as_millis()).unwrap_or(i32::MAX);
    // The first statement that reads the file: it fails here for a file that is not a database.
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {busy_ms}; SELECT count(*) FROM sqlite_master;"
    ))
    .map_err(|error| open_error(error.to_string()))?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    count: i32,
}

/// The versions in Diesel's bookkeeping table; none when the table does not exist yet (a
/// database no zeropass has migrated).
fn applied_versions(conn: &mut SqliteConnection) -> QueryResult<HashSet<String>> {
    let table: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM sqlite_master \
         WHERE type = 'table' AND name = '__diesel_schema_migrations'",
    )
    .get_result(conn)?;
    if table.count == 0 {
        return Ok(HashSet::new());
    }
    let versions: Vec<Version> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
    Ok(versions.into_iter().map(|row| row.version).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteUserRepository;
    use zeropass_domain::{Email, Provider, Subject, UserRepository, VerifiedIdentity};

    fn migrated_file(dir: &tempfile::TempDir) -> (DatabaseLocation, SqliteUserRepository) {
        let location = DatabaseLocation::File(dir.path().join("z.db"));
        let repo = SqliteUserRepository::open(&location).unwrap();
        (location, repo)
    }

    fn all_migrations() -> usize {
        MigrationSource::<Sqlite>::migrations(&MIGRATIONS)
            .unwrap()
            .len()
    }

    #[test]
    fn a_freshly_opened_database_has_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        let (location, _repo) = migrated_file(&dir);
        let status = schema_status(&location).unwrap();
        assert!(status.is_up_to_date(), "{status:?}");
        assert_eq!(status.applied, all_migrations());
    }

    #[test]
    fn a_database_one_migration_behind_names_the_pending_one() {
        let dir = tempfile::tempdir().unwrap();
        let (location, repo) = migrated_file(&dir);
        let newest = MigrationSource::<Sqlite>::migrations(&MIGRATIONS)
            .unwrap()
            .iter()
            .map(|migration| migration.name().to_string())
            .max()
            .unwrap();
        repo.connection()
            .batch_execute(
                "DELETE FROM __diesel_schema_migrations \
                 WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
            )
            .unwrap();
        let status = schema_status(&location).unwrap();
        assert_eq!(status.pending, vec![newest]);
        assert_eq!(status.applied, all_migrations() - 1);
    }

    #[test]
    fn a_database_nobody_migrated_lacks_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.db");
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        conn.batch_execute("CREATE TABLE other (x INTEGER);")
            .unwrap();
        drop(conn);
        let status = schema_status(&DatabaseLocation::File(path)).unwrap();
        assert_eq!(status.applied, 0);
        assert_eq!(status.pending.len(), all_migrations());
    }

    #[test]
    fn looking_at_a_missing_file_does_not_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        let error = schema_status(&DatabaseLocation::File(path.clone())).unwrap_err();
        assert!(matches!(error, MaintenanceError::Missing(_)), "{error}");
        assert!(!path.exists());
        assert!(matches!(
            schema_status(&DatabaseLocation::Memory),
            Err(MaintenanceError::InMemory)
        ));
    }

    #[test]
    fn a_file_that_is_not_a_database_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.db");
        std::fs::write(
            &path,
            "this is not a database, it is a text file of some length",
        )
        .unwrap();
        let error = schema_status(&DatabaseLocation::File(path)).unwrap_err();
        assert!(matches!(error, MaintenanceError::Open { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_backup_holds_the_users_and_never_overwrites_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (location, repo) = migrated_file(&dir);
        let user = repo
            .resolve_or_create(&VerifiedIdentity {
                provider: Provider::Google,
                subject: Subject::parse("sub-1").unwrap(),
                email: Email::parse("ada@example.com").unwrap(),
            })
            .await
            .unwrap();
        let target = dir.path().join("backup.db");
        backup(&location, &target).unwrap();

        let copy = SqliteUserRepository::open(&DatabaseLocation::File(target.clone())).unwrap();
        assert_eq!(copy.find_by_id(user.id).await.unwrap(), Some(user));

        let error = backup(&location, &target).unwrap_err();
        assert!(
            matches!(error, MaintenanceError::TargetExists(_)),
            "{error}"
        );
    }
}
