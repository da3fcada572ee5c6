//! Opening the database: the connection options, the per-connection pragmas, the r2d2 pool,
//! and the checks that make a bad `DATABASE_URL` fail at start-up with one clear line instead
//! of on the first request.

use crate::sqlite::location::DatabaseLocation;
use crate::sqlite::migrations;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ConnectionManager, CustomizeConnection, HandleError, Pool};
use diesel::{Connection, ConnectionError, SqliteConnection};
use std::path::Path;
use std::time::Duration;
use thiserror::Error;

/// How long a statement waits for another connection's lock (`PRAGMA busy_timeout`) before
/// giving up with "database is locked". Writers queue behind each other within this time.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections kept for a database file by default. SQLite serialises writers anyway; a
/// handful of connections lets WAL readers proceed beside the one writer. Each connection
/// keeps SQLite's page cache (up to 2 MiB), which at a million users is most of the process's
/// memory: with 8 connections the benchmark peaked at 29.6 MiB under `/users/me` load and
/// 32.9 MiB during sign-ins, against a 32 MiB budget (`docs/performance.md`). The server sizes
/// its pool from its worker count (`server::startup`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;

/// How long an operation waits for a free connection before the store is reported unavailable.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Tuning of the connection pool. `Default` gives the `DEFAULT_*` constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Connections kept for a database file (0 is taken as 1). An in-memory database always
    /// has exactly one: see [`DatabaseLocation::Memory`].
    pub max_connections: u32,
    /// How long an operation waits for a free connection (zero is taken as 1 ms).
    pub connection_timeout: Duration,
    /// How long a statement waits for a lock held by another connection or process
    /// (`PRAGMA busy_timeout`, whole milliseconds).
    pub busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// The database could not be opened and prepared. The message is one line naming the
/// database and the reason, meant to be printed after the variable's name.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The `DATABASE_URL` is not one this adapter accepts.
    #[error(transparent)]
    InvalidUrl(#[from] crate::sqlite::location::InvalidDatabaseUrl),
    /// The file could not be opened or created, or is not a SQLite database.
    #[error("cannot open database file '{path}': {reason}")]
    Open {
        /// The path as given.
        path: String,
        /// SQLite's reason.
        reason: String,
    },
    /// The migrations could not be applied (for example, the file is read-only).
    #[error("cannot apply the migrations to database '{path}': {reason}")]
    Migrations {
        /// The path as given, or `:memory:`.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The pool could not open its connections.
    #[error("cannot open connections to database '{path}': {reason}")]
    Pool {
        /// The path as given, or `:memory:`.
        path: String,
        /// What failed.
        reason: String,
    },
}

/// The pool every repository operation draws from.
pub(crate) type SqlitePool = Pool<ConnectionManager<SqliteConnection>>;

/// Whether connections may write. Read-only connections inspect a database without changing it
/// (`zeropass check`), and test how write failures on a read-only database are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadWrite,
    ReadOnly,
}

const MEMORY_NAME: &str = ":memory:";

/// Opens (creating if needed) and migrates the database, and returns its pool.
pub(crate) fn open(
    location: &DatabaseLocation,
    options: &PoolOptions,
) -> Result<SqlitePool, OpenError> {
    match location {
        DatabaseLocation::File(path) => open_file(path, options, Access::ReadWrite),
        DatabaseLocation::Memory => open_memory(options),
    }
}

/// A file database: every connection opens the same file; the file is checked, switched to
/// WAL and migrated once, on a connection of its own, before the pool is built, so a bad path
/// fails immediately with SQLite's reason rather than after the pool's connection timeout.
pub(crate) fn open_file(
    path: &Path,
    options: &PoolOptions,
    access: Access,
) -> Result<SqlitePool, OpenError> {
    let shown = path.display().to_string();
    let open_error = |reason: String| OpenError::Open {
        path: shown.clone(),
        reason,
    };
    // Made absolute now, so that connections the pool opens later find the same file even if
    // the process changes its working directory.
    let absolute = std::path::absolute(path).map_err(|error| open_error(error.to_string()))?;
    // SQLite only says "unable to open database file"; name the directory that is missing.
    if let Some(directory) = absolute.parent()
        && !directory.exists()
    {
        return Err(open_error(format!(
            "the directory '{}' does not exist",
            directory.display()
        )));
    }
    let uri = file_uri(&absolute, access);
    let setup = ConnectionSetup {
        busy_timeout: options.busy_timeout,
        wal: access == Access::ReadWrite,
        migrate: false,
    };

    let mut conn =
        SqliteConnection::establish(&uri).map_err(|error| open_error(error.to_string()))?;
    // The first statement that reads the file: it fails here for a file that is not a database.
    setup
        .apply_pragmas_at_open(&mut conn)
        .map_err(|error| open_error(error.to_string()))?;
    if access == Access::ReadWrite {
        migrations::run_pending_serialised(&mut conn).map_err(|error| OpenError::Migrations {
            path: shown.clone(),
            reason: error.to_string(),
        })?;
    }
    drop(conn);

    Pool::builder()
        .max_size(options.max_connections.max(1))
        .connection_timeout(connection_timeout(options))
        // SQLite connections do not go stale like network ones; skip the `SELECT 1` per checkout.
        .test_on_check_out(false)
        .error_handler(Box::new(LogConnectionErrors))
        .connection_customizer(Box::new(setup))
        .build(ConnectionManager::new(uri))
        .map_err(|error| OpenError::Pool {
            path: shown,
            reason: error.to_string(),
        })
}

/// The in-memory database.
///
/// A `:memory:` connection is a private database that lives as long as the connection: a pool
/// of several would give each its own empty database. So the pool holds exactly one connection
/// and never retires it (no idle timeout, no maximum lifetime), which makes the one database
/// live as long as the process. Should r2d2 still have to replace it (it drops a connection
/// whose transaction state is broken), the new one starts empty: the customizer migrates every
/// new connection so that at least the schema is always there.
fn open_memory(options: &PoolOptions) -> Result<SqlitePool, OpenError> {
    Pool::builder()
        .max_size(1)
        .min_idle(Some(1))
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(connection_timeout(options))
        .test_on_check_out(false)
        .error_handler(Box::new(LogConnectionErrors))
        .connection_customizer(Box::new(ConnectionSetup {
            busy_timeout: options.busy_timeout,
            wal: false,
            migrate: true,
        }))
        .build(ConnectionManager::new(MEMORY_NAME))
        .map_err(|error| OpenError::Pool {
            path: MEMORY_NAME.to_owned(),
            reason: error.to_string(),
        })
}

/// The pool's wait for a connection; r2d2 panics on zero, so zero means the shortest wait.
fn connection_timeout(options: &PoolOptions) -> Duration {
    options.connection_timeout.max(Duration::from_millis(1))
}

/// An SQLite URI for the file (`file:` + percent-encoded path), so that no character of the
/// path (`?`, `#`, `%`, a leading `file:`) is ever read as URI syntax by SQLite.
pub(crate) fn file_uri(absolute: &Path, access: Access) -> String {
    let mut uri = String::from("file:");
    let bytes = absolute.as_os_str().as_encoded_bytes();
    if bytes.starts_with(b"/") {
        // An empty authority, so that a path starting with "//" is not read as a host name.
        uri.push_str("//");
    }
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    if access == Access::ReadOnly {
        uri.push_str("?mode=ro");
    }
    uri
}

/// Applied to every connection the pool opens.
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup {
    busy_timeout: Duration,
    /// WAL lets readers proceed while one connection writes; it is a property of the file
    /// (an in-memory database cannot use it, a read-only connection cannot set it).
    wal: bool,
    /// Migrate each new connection: only for the in-memory database, whose every new
    /// connection is a new, empty database.
    migrate: bool,
}

impl ConnectionSetup {
    fn apply_pragmas(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        let busy_ms = i32::try_from(self.busy_timeout.as_millis()).unwrap_or(i32::MAX);
        // busy_timeout first, so that the statements after it wait for locks instead of failing.
        conn.batch_execute(&format!("PRAGMA busy_timeout = {busy_ms};"))?;
        if self.wal {
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        // NORMAL is durable across application crashes in WAL mode (an OS crash or power loss
        // may lose the last commits, never corrupt the file) and spares an fsync per commit.
        conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
    }
}

impl ConnectionSetup {
    /// [`Self::apply_pragmas`] on the connection that opens the file, retried while another
    /// process holds the lock, for up to the busy timeout. Switching a new file to WAL needs
    /// the file to itself, and SQLite answers `SQLITE_BUSY` at once, without waiting in the
    /// busy handler, when another connection holds a lock then (it could otherwise deadlock):
    /// several instances started at the same moment on a new file met it.
    fn apply_pragmas_at_open(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        let deadline = std::time::Instant::now() + self.busy_timeout;
        loop {
            match self.apply_pragmas(conn) {
                Err(diesel::result::Error::DatabaseError(_, info))
                    if info.message().contains("database is locked")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                outcome => return outcome,
            }
        }
    }
}

impl CustomizeConnection<SqliteConnection, r2d2::Error> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), r2d2::Error> {
        self.apply_pragmas(conn).map_err(r2d2::Error::QueryError)?;
        if self.migrate {
            migrations::run_pending(conn).map_err(|error| {
                r2d2::Error::ConnectionError(ConnectionError::BadConnection(format!(
                    "cannot apply the migrations: {error}"
                )))
            })?;
        }
        Ok(())
    }
}

/// Sends the pool's connection failures to `tracing` (r2d2 would use the `log` crate).
#[derive(Debug, Clone, Copy)]
struct LogConnectionErrors;

impl HandleError<r2d2::Error> for LogConnectionErrors {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::warn!(%error, "cannot open a database connection");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_of_zero_connections_gets_one_instead_of_panicking_in_r2d2() {
        let dir = tempfile::tempdir().unwrap();
        let options = PoolOptions {
            max_connections: 0,
            ..PoolOptions::default()
        };
        let pool = open(&DatabaseLocation::File(dir.path().join("z.db")), &options).unwrap();
        assert_eq!(pool.max_size(), 1);
    }

    #[test]
    fn zero_timeouts_do_not_panic_in_r2d2() {
        let dir = tempfile::tempdir().unwrap();
        let options = PoolOptions {
            connection_timeout: Duration::ZERO,
            busy_timeout: Duration::ZERO,
            ..PoolOptions::default()
        };
        // Opening may time out before the pool is filled; it must not panic.
        let file = open(&DatabaseLocation::File(dir.path().join("z.db")), &options);
        let memory = open(&DatabaseLocation::Memory, &options);
        for pool in [file, memory].into_iter().flatten() {
            assert_eq!(pool.connection_timeout(), Duration::from_millis(1));
        }
    }

    #[test]
    fn file_uris_escape_everything_sqlite_could_read_as_syntax() {
        assert_eq!(
            file_uri(Path::new("/tmp/a b?c#d%e.db"), Access::ReadWrite),
            "file:///tmp/a%20b%3Fc%23d%25e.db"
        );
        assert_eq!(
            file_uri(Path::new("//host/x.db"), Access::ReadWrite),
            "file:////host/x.db"
        );
        assert_eq!(
            file_uri(Path::new("/tmp/x.db"), Access::ReadOnly),
            "file:///tmp/x.db?mode=ro"
        );
    }
}
