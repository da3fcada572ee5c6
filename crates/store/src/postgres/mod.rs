//! The PostgreSQL backend: [`PostgresStore`] implements
//! [`UserRepository`](zeropass_domain::UserRepository),
//! [`SignInCodes`](zeropass_domain::SignInCodes) and
//! [`SigningKeyStore`](zeropass_domain::SigningKeyStore) (in `signing_keys`) on diesel-async's pure-Rust, pipelined
//! connection (tokio-postgres; no libpq), pooled by deadpool. Several instances may share the
//! database: every rule that needs atomicity is a single statement or a conditional write
//! (see `queries`), and migrations run once under an advisory lock (`migrations`).
//!
//! Failures never hang a request: the pool's wait, each connection's opening, and each
//! operation are bounded, the server cancels a statement after `statement_timeout`, and all
//! of these reach the domain as [`RepositoryError::Unavailable`](zeropass_domain::RepositoryError).
//! A connection found closed (terminated, server restarted) is dropped by the pool when it
//! comes back or is next checked out, and replaced: recovery needs no restart.

mod connection;
mod errors;
mod migrations;
mod pools;
mod queries;
mod schema;
mod signing_keys;
mod tls;
mod url;

pub use tls::TlsError;
pub use url::{InvalidPostgresUrl, PostgresUrl, SslMode};

use crate::sqlite::SchemaStatus;
use async_trait::async_trait;
use connection::{Connector, chain};
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Object;
use pools::ThreadPools;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use zeropass_domain::{
    CodeHash, RepositoryError, ResolveUserError, SignInCodes, StoredSignInCode, User, UserFilter,
    UserId, UserRepository, VerifiedIdentity,
};

/// Connections kept by default for the request path: enough for a small VM's workers; budget
/// `instances × pool size ≤ max_connections` (100 by default) on the server.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// Default bound on opening one connection (and on the wait for a free one).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `statement_timeout` of every connection.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long start-up keeps trying to reach an unreachable server by default.
pub const DEFAULT_STARTUP_WAIT: Duration = Duration::from_secs(30);

/// Tuning of the connections. `Default` gives the `DEFAULT_*` constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Connections kept at most for the request path (0 is taken as 1), split evenly between
    /// `threads` (see `pools`).
    pub pool_size: u32,
    /// How many threads serve requests (the HTTP workers): each drives its own share of the
    /// connections. 0 is taken as 1.
    pub threads: u32,
    /// Bound on opening a connection, and on waiting for a free one.
    pub connect_timeout: Duration,
    /// The server cancels any statement running longer (zero: no limit).
    pub statement_timeout: Duration,
    /// How long [`PostgresStore::open`] retries an unreachable server before giving up.
    pub startup_wait: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            threads: 1,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            startup_wait: DEFAULT_STARTUP_WAIT,
        }
    }
}

/// The database could not be opened. Each message is one line naming the URL without its
/// password.
#[derive(Debug, Error)]
pub enum PostgresOpenError {
    /// The TLS settings cannot be used.
    #[error("{url}: {source}")]
    Tls {
        /// The URL, password hidden.
        url: String,
        /// Why.
        #[source]
        source: TlsError,
    },
    /// No connection could be opened within the start-up wait.
    #[error("cannot reach {url} (tried for {waited} s): {reason}")]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// Seconds spent trying.
        waited: u64,
        /// The last attempt's failure.
        reason: String,
    },
    /// The migrations failed.
    #[error("cannot migrate {url}: {reason}")]
    Migrations {
        /// The URL, password hidden.
        url: String,
        /// Why.
        reason: String,
    },
    /// The schema lacks migrations and the caller asked not to apply them.
    #[error(
        "{url}: the schema lacks {} migration(s) ({}): run `zeropass migrate` first",
        .pending.len(),
        .pending.join(", ")
    )]
    Behind {
        /// The URL, password hidden.
        url: String,
        /// The migrations not applied yet.
        pending: Vec<String>,
    },
    /// The pool could not be built.
    #[error("{url}: cannot build the connection pool: {reason}")]
    Pool {
        /// The URL, password hidden.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Whether [`PostgresStore::open`] applies pending migrations or refuses a schema behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    /// Apply them (the server, `zeropass migrate`).
    Apply,
    /// Refuse to open a database that lacks some (the user commands).
    RequireUpToDate,
}

/// Users and sign-in codes in PostgreSQL. Cloning is cheap: clones share the pools.
#[derive(Clone)]
pub struct PostgresStore {
    pools: Arc<ThreadPools>,
    /// Bound on one whole operation, beyond which the network or server is taken as hung.
    operation_timeout: Duration,
    /// Bound on a health check's ping: the connection wait alone. A load balancer gives up on
    /// a health check after a few seconds; waiting out the whole operation bound would make
    /// `/health` time out there instead of answering 503.
    ping_timeout: Duration,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("pools", &self.pools.status())
            .field("operation_timeout", &self.operation_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .finish()
    }
}

impl PostgresStore {
    /// Reaches the server (retrying for up to `startup_wait` while it is unreachable), applies
    /// or checks the migrations as `migrate` says, and builds the pool.
    ///
    /// # Errors
    /// [`PostgresOpenError`], whose message names the URL without its password.
    pub async fn open(
        url: &PostgresUrl,
        options: &PostgresOptions,
        migrate: Migrate,
    ) -> Result<Self, PostgresOpenError> {
        let shown = url.to_string();
        let connector = connector(url, options)?;
        let conn = first_connection(&connector, &shown, options.startup_wait).await?;
        match migrate {
            Migrate::Apply => {
                let applied = migrations::run_pending(conn).await.map_err(|error| {
                    PostgresOpenError::Migrations {
                        url: shown.clone(),
                        reason: chain(&*error),
                    }
                })?;
                for name in applied {
                    tracing::info!(migration = %name, "migration applied");
                }
            }
            Migrate::RequireUpToDate => {
                let mut conn = conn;
                let status = migrations::status(&mut conn).await.map_err(|error| {
                    PostgresOpenError::Migrations {
                        url: shown.clone(),
                        reason: chain(&*error),
                    }
                })?;
                if !status.is_up_to_date() {
                    return Err(PostgresOpenError::Behind {
                        url: shown,
                        pending: status.pending,
                    });
                }
            }
        }
        let store = Self::pool_only(connector, options)
            .map_err(|reason| PostgresOpenError::Pool { url: shown, reason })?;
        Ok(store)
    }

    /// Which migrations the database lacks, changing nothing (`zeropass check`). One attempt
    /// to connect, no start-up wait.
    ///
    /// # Errors
    /// [`PostgresOpenError`] when the server cannot be reached or read.
    pub async fn schema_status(
        url: &PostgresUrl,
        options: &PostgresOptions,
    ) -> Result<SchemaStatus, PostgresOpenError> {
        let shown = url.to_string();
        let connector = connector(url, options)?;
        let mut conn = first_connection(&connector, &shown, Duration::ZERO).await?;
        migrations::status(&mut conn)
            .await
            .map_err(|error| PostgresOpenError::Migrations {
                url: shown,
                reason: chain(&*error),
            })
    }

    fn pool_only(connector: Connector, options: &PostgresOptions) -> Result<Self, String> {
        let wait = options.connect_timeout.max(Duration::from_millis(1));
        let pools = ThreadPools::new(connector, options.pool_size, options.threads, wait)?;
        Ok(Self {
            pools: Arc::new(pools),
            // Defaults: 5 + 5 + 1 = 11 s, inside the contract's 15 s for a 503.
            operation_timeout: wait
                + options.statement_timeout.max(Duration::from_secs(1))
                + Duration::from_secs(1),
            ping_timeout: wait,
        })
    }

    /// A store on a pool that has not connected yet, migrating nothing: for tests of a server
    /// that goes away after start-up.
    #[cfg(test)]
    pub(crate) fn unchecked(url: &PostgresUrl, options: &PostgresOptions) -> Self {
        let connector = Connector::new(url, options.connect_timeout, options.statement_timeout)
            .expect("TLS settings of the test URL");
        Self::pool_only(connector, options).expect("a pool")
    }

    /// The pools' connections right now, over every thread: `(connections, idle)`. No I/O.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        let status = self.pools.status();
        let size = u32::try_from(status.size).unwrap_or(u32::MAX);
        let idle = u32::try_from(status.available).unwrap_or(u32::MAX);
        (size, idle)
    }

    /// How many users are stored (operational figure, outside the port).
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    pub async fn count(&self) -> Result<u64, RepositoryError> {
        self.retrying(|mut conn| async move { queries::count(&mut conn).await })
            .await
    }

    /// Runs an operation that may safely run twice (a read, or the resolution, which reads
    /// again before any write), on another connection when the one it got was found dead — as
    /// every idle connection of the pool is after a server restart — so that the first
    /// requests after a recovery do not fail one per stale connection. Bounded by the pool's
    /// size; the whole is bounded by the operation timeout.
    async fn retrying<T, E, F, Fut>(&self, operation: F) -> Result<T, E>
    where
        F: Fn(Object<AsyncPgConnection>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: From<RepositoryError> + AsRepositoryError,
    {
        self.bounded(async {
            let attempts = self.pools.per_thread() + 1;
            let mut attempt = 1;
            loop {
                let conn = self.connection().await?;
                match operation(conn).await {
                    Err(error)
                        if attempt < attempts
                            && error
                                .as_repository_error()
                                .is_some_and(errors::is_connection_lost) =>
                    {
                        tracing::debug!("a pooled connection was found closed; trying another");
                        attempt += 1;
                    }
                    outcome => return outcome,
                }
            }
        })
        .await
    }

    async fn connection(&self) -> Result<Object<AsyncPgConnection>, RepositoryError> {
        self.pools.get().await
    }

    /// Runs one operation within the operation timeout; past it the database is taken as
    /// unavailable (the future, and with it the connection's request, is dropped; the
    /// connection is tested before reuse).
    async fn bounded<T, E>(&self, operation: impl Future<Output = Result<T, E>>) -> Result<T, E>
    where
        E: From<RepositoryError>,
    {
        match tokio::time::timeout(self.operation_timeout, operation).await {
            Ok(outcome) => outcome,
            Err(_) => Err(errors::timed_out(self.operation_timeout).into()),
        }
    }
}

/// The store failure inside an operation's error, if it is one.
trait AsRepositoryError {
    fn as_repository_error(&self) -> Option<&RepositoryError>;
}

impl AsRepositoryError for RepositoryError {
    fn as_repository_error(&self) -> Option<&RepositoryError> {
        Some(self)
    }
}

impl AsRepositoryError for ResolveUserError {
    fn as_repository_error(&self) -> Option<&RepositoryError> {
        match self {
            Self::Repository(error) => Some(error),
            Self::IdentityConflict => None,
        }
    }
}

fn connector(url: &PostgresUrl, options: &PostgresOptions) -> Result<Connector, PostgresOpenError> {
    Connector::new(url, options.connect_timeout, options.statement_timeout).map_err(|source| {
        PostgresOpenError::Tls {
            url: url.to_string(),
            source,
        }
    })
}

/// The first connection, retried once a second until `wait` has passed.
async fn first_connection(
    connector: &Connector,
    shown: &str,
    wait: Duration,
) -> Result<AsyncPgConnection, PostgresOpenError> {
    let started = Instant::now();
    loop {
        match connector.connect().await {
            Ok(conn) => return Ok(conn),
            Err(error) if started.elapsed() + Duration::from_secs(1) < wait => {
                tracing::warn!(database = %shown, error = %error, "database unreachable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                return Err(PostgresOpenError::Unreachable {
                    url: shown.to_owned(),
                    waited: started.elapsed().as_secs(),
                    reason: error.to_string(),
                });
            }
        }
    }
}

#[async_trait]
impl UserRepository for PostgresStore {
    #[tracing::instrument(name = "users.find_by_id", level = "debug", skip_all, fields(user_id = %id))]
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError> {
        self.retrying(|mut conn| async move { queries::find_by_id(&mut conn, id).await })
            .await
    }

    #[tracing::instrument(name = "users.resolve_or_create", skip_all, fields(provider = %identity.provider))]
    async fn resolve_or_create(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<User, ResolveUserError> {
        self.retrying(|mut conn| async move {
            // Most sign-ins are returning people with an unchanged address: one read. A new
            // person is most often new at the address too: one conditional insert more.
            match queries::find_by_subject(&mut conn, identity).await? {
                queries::BySubject::Unchanged(user) => return Ok(user),
                queries::BySubject::Absent => {
                    if let Some(user) = queries::insert_if_new(&mut conn, identity).await? {
                        return Ok(user);
                    }
                }
                queries::BySubject::Changed => {}
            }
            queries::resolve_or_create(&mut conn, identity).await
        })
        .await
    }

    #[tracing::instrument(name = "users.delete", skip_all, fields(user_id = %id))]
    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            queries::delete(&mut conn, id).await
        })
        .await
    }

    #[tracing::instrument(name = "users.list_page", skip_all, fields(limit))]
    async fn list_page(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError> {
        self.retrying(|mut conn| async move {
            queries::list_page(&mut conn, filter, after, limit).await
        })
        .await
    }

    #[tracing::instrument(name = "users.set_active", skip_all, fields(user_id = %id, active))]
    async fn set_active(&self, id: UserId, active: bool) -> Result<Option<User>, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            queries::set_active(&mut conn, id, active).await
        })
        .await
    }

    #[tracing::instrument(name = "users.ping", skip_all)]
    async fn ping(&self) -> Result<(), RepositoryError> {
        let ping = self.retrying(|mut conn| async move { queries::ping(&mut conn).await });
        match tokio::time::timeout(self.ping_timeout, ping).await {
            Ok(outcome) => outcome,
            Err(_) => Err(errors::timed_out(self.ping_timeout)),
        }
    }
}

#[async_trait]
impl SignInCodes for PostgresStore {
    #[tracing::instrument(name = "codes.store", skip_all)]
    async fn store(&self, code: &StoredSignInCode) -> Result<(), RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            queries::store_code(&mut conn, code).await
        })
        .await
    }

    #[tracing::instrument(name = "codes.take", skip_all)]
    async fn take(&self, hash: &CodeHash) -> Result<Option<StoredSignInCode>, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            queries::take_code(&mut conn, hash).await
        })
        .await
    }

    #[tracing::instrument(name = "codes.delete_expired", skip_all)]
    async fn delete_expired(&self, now: i64, limit: u32) -> Result<u64, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            queries::delete_expired_codes(&mut conn, now, limit).await
        })
        .await
    }
}
