//! The SQLite backend: [`UserRepository`](zeropass_domain::UserRepository),
//! [`SignInCodes`](zeropass_domain::SignInCodes) and
//! [`SigningKeyStore`](zeropass_domain::SigningKeyStore) on Diesel and a bundled SQLite.
//!
//! [`SqliteUserRepository::open`] takes a [`DatabaseLocation`] (parsed from `DATABASE_URL`),
//! creates the database file if needed, applies the embedded migrations and returns a
//! cheaply cloneable repository backed by a connection pool. Writes run on Tokio's blocking
//! pool, so no async task ever waits for SQLite's write lock; the short lookups by unique key
//! that every request makes run on the calling thread when a connection is free (a WAL reader
//! never waits for a writer). Infrastructure failures reach the domain only as its own
//! [`RepositoryError`](zeropass_domain::RepositoryError) variants.

mod codes;
mod errors;
mod location;
mod maintenance;
mod migrations;
mod pool;
mod queries;
mod repository;
mod rows;
mod schema;
mod signing_keys;

pub use codes::SqliteSignInCodes;
pub use location::{DatabaseLocation, InvalidDatabaseUrl};
pub use maintenance::{MaintenanceError, SchemaStatus, backup, schema_status};
pub use pool::{
    DEFAULT_BUSY_TIMEOUT, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_MAX_CONNECTIONS, OpenError,
    PoolOptions,
};
pub use repository::SqliteUserRepository;
pub use signing_keys::SqliteSigningKeys;

#[cfg(test)]
mod codes_tests;
#[cfg(test)]
mod hot_path_tests;
#[cfg(test)]
mod tests;
