//! The database named by `DATABASE_URL`, whichever backend it is: [`DatabaseUrl`] parses the
//! URL (and prints it without a password), [`Database`] opens it and hands the server the
//! ports and the pool gauge. Nothing outside this crate needs to know which backend runs.

use crate::postgres::{
    InvalidPostgresUrl, Migrate, PostgresOpenError, PostgresOptions, PostgresStore, PostgresUrl,
};
use crate::sqlite::{
    self, DatabaseLocation, OpenError, PoolOptions, SqliteSignInCodes, SqliteSigningKeys,
    SqliteUserRepository,
};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use zeropass_domain::{RepositoryError, SignInCodes, SigningKeyStore, UserRepository};

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` or `sqlite://:memory:`.
    Sqlite(DatabaseLocation),
    /// `postgres://...` or `postgresql://...`.
    Postgres(PostgresUrl),
}

/// Why a `DATABASE_URL` is refused. The messages never repeat the URL.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidDatabaseUrl {
    /// Neither `sqlite://` nor `postgres://` / `postgresql://`.
    #[error(
        "expected sqlite://PATH, sqlite://:memory: or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
    )]
    Scheme,
    /// A `sqlite://` URL of the wrong shape.
    #[error(transparent)]
    Sqlite(#[from] sqlite::InvalidDatabaseUrl),
    /// A `postgres://` URL of the wrong shape.
    #[error(transparent)]
    Postgres(#[from] InvalidPostgresUrl),
}

impl DatabaseUrl {
    /// Parses `DATABASE_URL`.
    ///
    /// # Errors
    /// [`InvalidDatabaseUrl`] for an unknown scheme or a URL of the wrong shape.
    pub fn parse(raw: &str) -> Result<Self, InvalidDatabaseUrl> {
        if raw.starts_with("sqlite://") {
            Ok(Self::Sqlite(DatabaseLocation::parse(raw)?))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self::Postgres(PostgresUrl::parse(raw)?))
        } else {
            Err(InvalidDatabaseUrl::Scheme)
        }
    }
}

/// The URL as an operator may see it: a PostgreSQL password is replaced by `***`.
impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(DatabaseLocation::Memory) => f.write_str("sqlite://:memory:"),
            Self::Sqlite(DatabaseLocation::File(path)) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// How to open the database; what a backend has no use for it ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    /// Connections kept; `None`: the backend's default (PostgreSQL: 8; SQLite: the caller's).
    pub pool_size: Option<u32>,
    /// SQLite's pool size when `pool_size` is unset.
    pub sqlite_default_pool_size: u32,
    /// How many threads serve requests (the HTTP workers): PostgreSQL gives each its own
    /// share of the pool, driven on that thread.
    pub request_threads: u32,
    /// Bound on opening a connection and on waiting for a free one.
    pub connect_timeout: Duration,
    /// PostgreSQL's `statement_timeout`.
    pub statement_timeout: Duration,
    /// How long start-up retries an unreachable PostgreSQL server.
    pub startup_wait: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        let postgres = PostgresOptions::default();
        Self {
            pool_size: None,
            sqlite_default_pool_size: crate::sqlite::DEFAULT_MAX_CONNECTIONS,
            request_threads: postgres.threads,
            connect_timeout: postgres.connect_timeout,
            statement_timeout: postgres.statement_timeout,
            startup_wait: postgres.startup_wait,
        }
    }
}

impl OpenOptions {
    fn sqlite(&self) -> PoolOptions {
        PoolOptions {
            max_connections: self.pool_size.unwrap_or(self.sqlite_default_pool_size),
            connection_timeout: self.connect_timeout,
            ..PoolOptions::default()
        }
    }

    fn postgres(&self) -> PostgresOptions {
        PostgresOptions {
            pool_size: self.pool_size.unwrap_or(crate::postgres::DEFAULT_POOL_SIZE),
            threads: self.request_threads,
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
            startup_wait: self.startup_wait,
        }
    }
}

/// The database could not be opened; one line, no password.
#[derive(Debug, Error)]
pub enum DatabaseOpenError {
    /// SQLite's reason.
    #[error(transparent)]
    Sqlite(#[from] OpenError),
    /// PostgreSQL's reason.
    #[error(transparent)]
    Postgres(#[from] PostgresOpenError),
}

/// An open database of either kind.
#[derive(Debug, Clone)]
pub enum Database {
    /// A SQLite file (or the in-memory database).
    Sqlite(SqliteUserRepository),
    /// A PostgreSQL database, possibly shared with other instances.
    Postgres(PostgresStore),
}

impl Database {
    /// Opens the database and brings its schema up to date (SQLite: creating the file if
    /// needed; PostgreSQL: waiting up to `startup_wait` for the server, migrating under the
    /// advisory lock). SQLite's opening blocks briefly; it is done at start-up.
    ///
    /// # Errors
    /// [`DatabaseOpenError`] with the backend's one-line reason.
    pub async fn open(url: &DatabaseUrl, options: &OpenOptions) -> Result<Self, DatabaseOpenError> {
        Self::open_as(url, options, Migrate::Apply).await
    }

    /// Opens a database whose schema must already be up to date (the user commands), changing
    /// nothing. For SQLite the caller checks the schema first (`schema_status`).
    ///
    /// # Errors
    /// [`DatabaseOpenError`]; for PostgreSQL also when migrations are pending.
    pub async fn open_migrated(
        url: &DatabaseUrl,
        options: &OpenOptions,
    ) -> Result<Self, DatabaseOpenError> {
        Self::open_as(url, options, Migrate::RequireUpToDate).await
    }

    async fn open_as(
        url: &DatabaseUrl,
        options: &OpenOptions,
        migrate: Migrate,
    ) -> Result<Self, DatabaseOpenError> {
        Ok(match url {
            DatabaseUrl::Sqlite(location) => Self::Sqlite(SqliteUserRepository::open_with(
                location,
                &options.sqlite(),
            )?),
            DatabaseUrl::Postgres(url) => {
                Self::Postgres(PostgresStore::open(url, &options.postgres(), migrate).await?)
            }
        })
    }

    /// The users, as the port.
    #[must_use]
    pub fn users(&self) -> Arc<dyn UserRepository> {
        match self {
            Self::Sqlite(repository) => Arc::new(repository.clone()),
            Self::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// The one-time sign-in codes, as the port, on the same database and pool.
    #[must_use]
    pub fn codes(&self) -> Arc<dyn SignInCodes> {
        match self {
            Self::Sqlite(repository) => Arc::new(SqliteSignInCodes::new(repository)),
            Self::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// The signing keys (`JWT_ALGORITHM` ES256 or EdDSA), as the port, on the same database
    /// and pool.
    #[must_use]
    pub fn signing_keys(&self) -> Arc<dyn SigningKeyStore> {
        match self {
            Self::Sqlite(repository) => Arc::new(SqliteSigningKeys::new(repository)),
            Self::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// The pool's connections right now: `(connections, idle)`. No I/O.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        match self {
            Self::Sqlite(repository) => repository.pool_state(),
            Self::Postgres(store) => store.pool_state(),
        }
    }

    /// How many users are stored.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    pub async fn count(&self) -> Result<u64, RepositoryError> {
        match self {
            Self::Sqlite(repository) => repository.count().await,
            Self::Postgres(store) => store.count().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert!(matches!(
            DatabaseUrl::parse("sqlite://zeropass.db"),
            Ok(DatabaseUrl::Sqlite(DatabaseLocation::File(_)))
        ));
        for url in ["postgres://zp@db/zp", "postgresql://zp@db/zp"] {
            assert!(matches!(
                DatabaseUrl::parse(url),
                Ok(DatabaseUrl::Postgres(_))
            ));
        }
        assert_eq!(
            DatabaseUrl::parse("mysql://zp:hunter2@db/zp"),
            Err(InvalidDatabaseUrl::Scheme)
        );
    }

    #[test]
    fn the_url_is_shown_without_its_password() {
        let url = DatabaseUrl::parse("postgres://zp:hunter2@db/zp").unwrap();
        assert!(!url.to_string().contains("hunter2"));
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/z.db")
                .unwrap()
                .to_string(),
            "sqlite://data/z.db"
        );
    }
}
