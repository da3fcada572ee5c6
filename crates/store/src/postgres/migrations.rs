//! The PostgreSQL migrations of `migrations/postgres/`, embedded at build time, applied exactly
//! once however many instances start at the same moment: the migrating connection first takes
//! a session-level advisory lock (`pg_advisory_lock`), so the others wait for it, then find
//! nothing left to do. The lock is released explicitly and, should the process die, with its
//! session. Diesel's harness is synchronous: it runs on the blocking pool through diesel-async's
//! `AsyncConnectionWrapper`, which drives the async connection from there.

use super::connection::chain;
use crate::sqlite::SchemaStatus;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::collections::HashSet;
use zeropass_domain::BoxError;

pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The advisory lock's key: "zpmigrat" in ASCII, unlikely to meet another application's.
const MIGRATION_LOCK: i64 = 0x7a70_6d69_6772_6174;

/// Applies the pending migrations under the advisory lock; the names applied, oldest first.
pub(crate) async fn run_pending(mut conn: AsyncPgConnection) -> Result<Vec<String>, BoxError> {
    // Migrations and the wait for another instance's may take longer than a request may.
    conn.batch_execute("SET statement_timeout = 0").await?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await?;
    let (mut conn, applied) = tokio::task::spawn_blocking(move || {
        let mut harness = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| {
                let applied: HashSet<String> = versions.iter().map(ToString::to_string).collect();
                // The names, as SQLite's `migrate` prints them, rather than bare versions.
                MigrationSource::<Pg>::migrations(&MIGRATIONS)
                    .map(|known| {
                        known
                            .iter()
                            .map(|migration| migration.name())
                            .filter(|name| applied.contains(&name.version().to_string()))
                            .map(ToString::to_string)
                            .collect::<Vec<String>>()
                    })
                    .unwrap_or_else(|_| applied.into_iter().collect())
            })
            .map_err(|error| chain(&*error));
        (harness.into_inner(), applied)
    })
    .await?;
    // Also released when the session ends; an explicit unlock lets the next instance go now.
    let _unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(&mut conn)
        .await;
    Ok(applied?)
}

#[derive(diesel::QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Which of this build's migrations the database has had, without changing anything.
pub(crate) async fn status(conn: &mut AsyncPgConnection) -> Result<SchemaStatus, BoxError> {
    let table: Present = diesel::sql_query(
        "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present",
    )
    .get_result(conn)
    .await?;
    let applied: HashSet<String> = if table.present {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        HashSet::new()
    };
    let mut status = SchemaStatus {
        applied: 0,
        pending: Vec::new(),
    };
    for migration in MigrationSource::<Pg>::migrations(&MIGRATIONS)? {
        let name = migration.name();
        if applied.contains(&name.version().to_string()) {
            status.applied += 1;
        } else {
            status.pending.push(name.to_string());
        }
    }
    Ok(status)
}
