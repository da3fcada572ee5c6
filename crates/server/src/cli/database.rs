//! The database as the commands see it: `migrate` (the only command that creates or changes
//! the schema), `backup`, and opening an existing, up-to-date database for the user commands —
//! which refuse to create a missing database or to migrate one behind the times (that is an
//! upgrade, done deliberately with `zeropass migrate`). Both backends go through the same
//! `zeropass-store` API; only `backup` is SQLite's alone (PostgreSQL has `pg_dump`).

use super::Failure;
use crate::config::{Config, ConfigError};
use crate::startup::open_options;
use std::path::Path;
use zeropass_store::postgres::PostgresStore;
use zeropass_store::{
    Database, DatabaseLocation, DatabaseUrl, MaintenanceError, OpenOptions,
    backup as sqlite_backup, schema_status,
};

/// A command does one thing at a time: one connection is enough.
fn one_connection(config: &Config) -> OpenOptions {
    OpenOptions {
        pool_size: Some(1),
        ..open_options(config)
    }
}

fn database_error(error: impl std::fmt::Display) -> Failure {
    ConfigError::new("DATABASE_URL", error.to_string()).into()
}

/// `zeropass migrate`: creates the database if needed and applies the pending migrations.
pub(crate) async fn migrate(config: &Config) -> Result<(), Failure> {
    let pending = match &config.database_url {
        DatabaseUrl::Sqlite(location) => match schema_status(location) {
            Ok(status) => status.pending,
            Err(MaintenanceError::Missing(_) | MaintenanceError::InMemory) => Vec::new(),
            Err(error) => return Err(database_error(error)),
        },
        // PostgreSQL's migrations log each one they apply, under the advisory lock.
        DatabaseUrl::Postgres(_) => Vec::new(),
    };
    Database::open(&config.database_url, &one_connection(config))
        .await
        .map_err(database_error)?;
    for name in &pending {
        tracing::info!(migration = %name, "migration applied");
    }
    println!("schema up to date");
    Ok(())
}

/// `zeropass backup PATH`: SQLite only.
pub(crate) fn backup(config: &Config, target: &Path) -> Result<(), Failure> {
    let location = match &config.database_url {
        DatabaseUrl::Sqlite(location) => location,
        DatabaseUrl::Postgres(_) => {
            return Err(Failure::Usage(
                "backup copies a SQLite file; for PostgreSQL use pg_dump (e.g. pg_dump -Fc \"$DATABASE_URL\" > zeropass.dump)"
                    .into(),
            ));
        }
    };
    sqlite_backup(location, target).map_err(|error| match error {
        MaintenanceError::TargetExists(_) | MaintenanceError::Backup { .. } => {
            Failure::Usage(error.to_string())
        }
        other => database_error(other),
    })?;
    tracing::info!(path = %target.display(), "backup written");
    println!("backup written to {}", target.display());
    Ok(())
}

/// The database of the user and key commands: it must exist and be migrated already.
pub(crate) async fn open_for_users(config: &Config) -> Result<Database, Failure> {
    if let DatabaseUrl::Sqlite(location) = &config.database_url {
        check_sqlite_is_migrated(location)?;
    }
    // An operator at a terminal wants the answer now, not after the server's 30 s start-up wait.
    let options = OpenOptions {
        startup_wait: std::time::Duration::ZERO,
        ..one_connection(config)
    };
    Database::open_migrated(&config.database_url, &options)
        .await
        .map_err(database_error)
}

fn check_sqlite_is_migrated(location: &DatabaseLocation) -> Result<(), Failure> {
    match schema_status(location) {
        Ok(status) if status.is_up_to_date() => Ok(()),
        Ok(status) => Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "the schema lacks {} migration(s) ({}): run `zeropass migrate` first",
                status.pending.len(),
                status.pending.join(", ")
            ),
        )
        .into()),
        // One process's in-memory database is empty and migrated when opened.
        Err(MaintenanceError::InMemory) => Ok(()),
        Err(MaintenanceError::Missing(path)) => Err(ConfigError::new(
            "DATABASE_URL",
            format!("database file '{path}' does not exist (`zeropass migrate` creates it)"),
        )
        .into()),
        Err(error) => Err(database_error(error)),
    }
}

/// What `zeropass check` reports about PostgreSQL: reachable (one attempt), and which
/// migrations are pending.
pub(crate) async fn postgres_status(
    config: &Config,
    url: &zeropass_store::postgres::PostgresUrl,
) -> Result<zeropass_store::SchemaStatus, String> {
    let options = zeropass_store::postgres::PostgresOptions {
        pool_size: 1,
        threads: 1,
        connect_timeout: config.database.connect_timeout,
        statement_timeout: config.database.statement_timeout,
        startup_wait: std::time::Duration::ZERO,
    };
    PostgresStore::schema_status(url, &options)
        .await
        .map_err(|error| error.to_string())
}
