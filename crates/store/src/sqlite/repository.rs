//! [`SqliteUserRepository`]: the `UserRepository` port on the pool. Writes take a connection
//! and run on Tokio's blocking pool, so that SQLite's waits (the write lock, a busy pool) never
//! stall the async executor. The lookups by unique key that every request makes run on the
//! calling thread when a connection is free at once (`read_inline`): a WAL reader does not wait
//! for writers, and the hand-off to the blocking pool cost more than the read.

use crate::sqlite::errors;
use crate::sqlite::location::DatabaseLocation;
use crate::sqlite::pool::{self, OpenError, PoolOptions, SqlitePool};
use crate::sqlite::queries;
use async_trait::async_trait;
use diesel::SqliteConnection;
use zeropass_domain::{
    RepositoryError, ResolveUserError, User, UserFilter, UserId, UserRepository, VerifiedIdentity,
};

/// Users stored in SQLite. Cloning is cheap: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct SqliteUserRepository {
    pool: SqlitePool,
}

impl SqliteUserRepository {
    /// Opens the database with the default [`PoolOptions`]; see [`Self::open_with`].
    ///
    /// # Errors
    /// [`OpenError`] as for [`Self::open_with`].
    pub fn open(location: &DatabaseLocation) -> Result<Self, OpenError> {
        Self::open_with(location, &PoolOptions::default())
    }

    /// Opens the database: creates the file if it does not exist, switches it to WAL, applies
    /// the pending migrations, and builds the connection pool. It blocks (up to the busy
    /// timeout if another process holds the database's lock); call it at start-up or from a
    /// blocking context.
    ///
    /// # Errors
    /// [`OpenError`] when the file cannot be opened or created (missing directory, a
    /// directory, no permission), is not a SQLite database, or cannot be migrated (read-only,
    /// locked beyond the busy timeout). It never panics on a bad path.
    pub fn open_with(
        location: &DatabaseLocation,
        options: &PoolOptions,
    ) -> Result<Self, OpenError> {
        pool::open(location, options).map(|pool| Self { pool })
    }

    /// How many users are stored. An operational figure (and a way for black-box tests to
    /// check that a refused sign-in wrote nothing), outside the `UserRepository` port.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    #[tracing::instrument(name = "users.count", skip_all)]
    pub async fn count(&self) -> Result<u64, RepositoryError> {
        self.with_connection(queries::count).await
    }

    /// The pool's connections right now: `(connections, idle)`, `connections` counting the idle
    /// ones and those in use. For the metrics; it takes the pool's lock briefly, no I/O.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Opens an existing, migrated database file through read-only connections, to check how
    /// writes fail on a database that cannot be written.
    #[cfg(test)]
    pub(crate) fn open_read_only(
        path: &std::path::Path,
        options: &PoolOptions,
    ) -> Result<Self, OpenError> {
        pool::open_file(path, options, pool::Access::ReadOnly).map(|pool| Self { pool })
    }

    /// A connection from the pool, for tests to look at the database directly.
    #[cfg(test)]
    pub(crate) fn connection(
        &self,
    ) -> diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<SqliteConnection>> {
        self.pool.get().expect("a connection from the pool")
    }

    /// Runs a short read on the calling thread if a connection is free right now, else as
    /// [`Self::with_connection`] does.
    ///
    /// A lookup by a unique key on a WAL database takes microseconds and does not wait for
    /// writers (a WAL reader sees the last commit and takes no lock a writer holds), while
    /// the trip through the blocking pool costs two thread wake-ups, several times the read
    /// itself: under load, about a fifth of the server's CPU went to those wake-ups (see
    /// `docs/performance.md`).
    /// Writes, whose `BEGIN IMMEDIATE` may wait up to the busy timeout, never come here.
    async fn read_inline<T, F>(&self, operation: F) -> Result<T, RepositoryError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, RepositoryError> + Send + 'static,
        T: Send + 'static,
    {
        match self.pool.try_get() {
            Some(mut conn) => operation(&mut conn),
            None => self.with_connection(operation).await,
        }
    }

    /// Runs `operation` with a pooled connection on the blocking pool, inside the caller's span.
    pub(crate) async fn with_connection<T, E, F>(&self, operation: F) -> Result<T, E>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<RepositoryError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(errors::from_pool)?;
            operation(&mut conn)
        })
        .await
        .map_err(errors::from_join)?
    }
}

#[async_trait]
impl UserRepository for SqliteUserRepository {
    // Debug level: every authenticated request reads its user (see `authenticate`).
    #[tracing::instrument(name = "users.find_by_id", level = "debug", skip_all, fields(user_id = %id))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.read_inline(move |conn| queries::find_by_id(conn, id))
            .await
    }

    #[tracing::instrument(
        name = "users.resolve_or_create",
        skip_all,
        fields(provider = %identity.provider)
    )]
    async fn resolve_or_create(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<User, ResolveUserError> {
        // Most sign-ins are returning people whose address has not changed: one read, no
        // write lock. Anyone else (new, or with a new address) takes the locked path.
        let unchanged = identity.clone();
        if let Some(user) = self
            .read_inline(move |conn| queries::find_unchanged(conn, &unchanged))
            .await?
        {
            return Ok(user);
        }
        let identity = identity.clone();
        self.with_connection(move |conn| queries::resolve_or_create(conn, &identity))
            .await
    }

    #[tracing::instrument(name = "users.delete", skip_all, fields(user_id = %id))]
    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        self.with_connection(move |conn| queries::delete(conn, id))
            .await
    }

    #[tracing::instrument(name = "users.list_page", skip_all, fields(limit))]
    async fn list_page(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError> {
        let filter = filter.clone();
        self.with_connection(move |conn| queries::list_page(conn, &filter, after, limit))
            .await
    }

    #[tracing::instrument(name = "users.set_active", skip_all, fields(user_id = %id, active))]
    async fn set_active(&self, id: UserId, active: bool) -> Result<Option<User>, RepositoryError> {
        self.with_connection(move |conn| queries::set_active(conn, id, active))
            .await
    }

    #[tracing::instrument(name = "users.ping", skip_all)]
    async fn ping(&self) -> Result<(), RepositoryError> {
        self.with_connection(queries::ping).await
    }
}

#[cfg(test)]
mod pool_state_tests {
    use super::*;

    #[test]
    fn pool_state_counts_idle_and_checked_out_connections() {
        let dir = tempfile::tempdir().unwrap();
        let options = PoolOptions {
            max_connections: 2,
            ..PoolOptions::default()
        };
        let repo = SqliteUserRepository::open_with(
            &DatabaseLocation::File(dir.path().join("z.db")),
            &options,
        )
        .unwrap();
        assert_eq!(repo.pool_state(), (2, 2));
        let held = repo.connection();
        assert_eq!(repo.pool_state(), (2, 1));
        drop(held);
        assert_eq!(repo.pool_state(), (2, 2));
    }
}
