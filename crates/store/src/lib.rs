//! zeropass's storage: the [`UserRepository`](zeropass_domain::UserRepository),
//! [`SignInCodes`](zeropass_domain::SignInCodes) and
//! [`SigningKeyStore`](zeropass_domain::SigningKeyStore) ports on SQLite (`sqlite`, Diesel on
//! a bundled SQLite, the zero-configuration default) or PostgreSQL (`postgres`, diesel-async on
//! tokio-postgres, for several instances sharing one database). What both backends must agree
//! on lives once, beside them: how a sign-in resolves to a user (`resolution`), how a stored
//! row becomes a [`User`](zeropass_domain::User) (`stored`) or a signing key (`stored_keys`),
//! and which failures are worth a retry (`errors`). [`Database`] is what the server wires from
//! `DATABASE_URL`.

mod database;
mod errors;
pub mod postgres;
mod resolution;
pub mod sqlite;
mod stored;
mod stored_keys;

pub use database::{Database, DatabaseOpenError, DatabaseUrl, InvalidDatabaseUrl, OpenOptions};
pub use sqlite::{
    DEFAULT_BUSY_TIMEOUT, DEFAULT_CONNECTION_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DatabaseLocation,
    MaintenanceError, OpenError, PoolOptions, SchemaStatus, SqliteSignInCodes, SqliteSigningKeys,
    SqliteUserRepository, backup, schema_status,
};

#[cfg(test)]
mod contract_tests;
