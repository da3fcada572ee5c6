//! The database as the commands see it: `migrate` (the only command that creates or changes
//! the schema), `backup`, and opening an existing, up-to-date database for the user commands —
//! which refuse to create a missing database or to migrate one behind the times (that is an
//! upgrade, done deliberately with `zeropass migrate`).

use super::Failure;
use crate::config::{Config, ConfigError};
use std::path::Path;
use zeropass_sqlite::{
    DatabaseLocation, MaintenanceError, PoolOptions, SqliteUserRepository, backup as sqlite_backup,
    schema_status,
};

pub(crate) fn location(config: &Config) -> Result<DatabaseLocation, ConfigError> {
    DatabaseLocation::parse(&config.database_url)
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))
}

/// `zeropass migrate`: creates the database if needed and applies the pending migrations.
pub(crate) fn migrate(config: &Config) -> Result<(), Failure> {
    let location = location(config)?;
    let pending = match schema_status(&location) {
        Ok(status) => status.pending,
        Err(MaintenanceError::Missing(_) | MaintenanceError::InMemory) => Vec::new(),
        Err(error) => return Err(ConfigError::new("DATABASE_URL", error.to_string()).into()),
    };
    SqliteUserRepository::open_with(&location, &one_connection())
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?;
    for name in &pending {
        tracing::info!(migration = %name, "migration applied");
    }
    println!("schema up to date");
    Ok(())
}

/// `zeropass backup PATH`.
pub(crate) fn backup(config: &Config, target: &Path) -> Result<(), Failure> {
    let location = location(config)?;
    sqlite_backup(&location, target).map_err(|error| match error {
        MaintenanceError::TargetExists(_) | MaintenanceError::Backup { .. } => {
            Failure::Usage(error.to_string())
        }
        other => ConfigError::new("DATABASE_URL", other.to_string()).into(),
    })?;
    tracing::info!(path = %target.display(), "backup written");
    println!("backup written to {}", target.display());
    Ok(())
}

/// The database of the user commands: it must exist and be migrated already.
pub(crate) fn open_for_users(config: &Config) -> Result<SqliteUserRepository, Failure> {
    let location = location(config)?;
    match schema_status(&location) {
        Ok(status) if status.is_up_to_date() => {}
        Ok(status) => {
            return Err(ConfigError::new(
                "DATABASE_URL",
                format!(
                    "the schema lacks {} migration(s) ({}): run `zeropass migrate` first",
                    status.pending.len(),
                    status.pending.join(", ")
                ),
            )
            .into());
        }
        // One process's in-memory database is empty and migrated when opened.
        Err(MaintenanceError::InMemory) => {}
        Err(MaintenanceError::Missing(path)) => {
            return Err(ConfigError::new(
                "DATABASE_URL",
                format!("database file '{path}' does not exist (`zeropass migrate` creates it)"),
            )
            .into());
        }
        Err(error) => return Err(ConfigError::new("DATABASE_URL", error.to_string()).into()),
    }
    SqliteUserRepository::open_with(&location, &one_connection())
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()).into())
}

/// A command does one thing at a time: one connection is enough.
fn one_connection() -> PoolOptions {
    PoolOptions {
        max_connections: 1,
        ..PoolOptions::default()
    }
}
