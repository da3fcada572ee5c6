//! The SQL migrations of `migrations/` at the workspace root, embedded in the binary at build
//! time (see `build.rs`) and applied when the database is opened.

use diesel::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use zeropass_domain::BoxError;

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Applies the migrations this connection's database has not seen yet.
pub(crate) fn run_pending(conn: &mut SqliteConnection) -> Result<(), BoxError> {
    conn.run_pending_migrations(MIGRATIONS)?;
    Ok(())
}

/// Applies pending migrations under SQLite's write lock (`BEGIN IMMEDIATE`), so that two
/// processes starting at once on the same file do not both try to create the same tables:
/// the second waits for the first, then finds nothing left to do.
pub(crate) fn run_pending_serialised(conn: &mut SqliteConnection) -> Result<(), BoxError> {
    conn.immediate_transaction(run_pending)
}
