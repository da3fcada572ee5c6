//! Translation of infrastructure failures (Diesel, r2d2, Tokio) into the domain's
//! [`RepositoryError`]: "unavailable" for what a retry later may cure (locks, read-only or
//! unreachable files, no free connection), "unexpected" for everything else. The original
//! error is kept as the source, for the log; the domain error's own message never carries SQL
//! or data.

use diesel::result::Error as DieselError;
use zeropass_domain::RepositoryError;

pub(crate) use crate::errors::{from_row, is_unique_violation};

/// SQLite's messages (`sqlite3_errstr`) for the result codes that mean the store cannot serve
/// now: BUSY, LOCKED, READONLY, IOERR, FULL and CANTOPEN. Diesel keeps the message but not the
/// code, hence the comparison on text. Extended codes (`SQLITE_BUSY_SNAPSHOT`, ...) share
/// their primary code's message.
const UNAVAILABLE_MESSAGES: [&str; 6] = [
    "database is locked",
    "database table is locked",
    "attempt to write a readonly database",
    "disk I/O error",
    "database or disk is full",
    "unable to open database file",
];

/// A failed query or transaction.
pub(crate) fn from_diesel(error: DieselError) -> RepositoryError {
    let unavailable = is_unavailable(&error);
    crate::errors::classified(error, unavailable)
}

/// No connection could be had within the pool's timeout.
pub(crate) fn from_pool(error: diesel::r2d2::PoolError) -> RepositoryError {
    RepositoryError::Unavailable(Box::new(error))
}

/// The blocking task panicked or was cancelled: a bug, not a state of the store.
pub(crate) fn from_join(error: tokio::task::JoinError) -> RepositoryError {
    RepositoryError::Unexpected(Box::new(error))
}

fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            UNAVAILABLE_MESSAGES
                .iter()
                .any(|unavailable| message.contains(unavailable))
        }
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_unavailable(commit_error),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::DatabaseErrorKind;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn locks_read_only_files_and_io_failures_are_unavailable() {
        // The exact texts SQLite 3 gives these failures (written out, not taken from the list
        // under test).
        for message in [
            "database is locked",
            "database table is locked",
            "attempt to write a readonly database",
            "disk I/O error",
            "database or disk is full",
            "unable to open database file",
        ] {
            assert!(
                matches!(
                    from_diesel(database_error(DatabaseErrorKind::Unknown, message)),
                    RepositoryError::Unavailable(_)
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn constraint_violations_and_other_failures_are_unexpected() {
        for error in [
            database_error(
                DatabaseErrorKind::UniqueViolation,
                "UNIQUE constraint failed: users.id",
            ),
            database_error(DatabaseErrorKind::Unknown, "no such table: users"),
            DieselError::NotFound,
        ] {
            assert!(matches!(from_diesel(error), RepositoryError::Unexpected(_)));
        }
    }

    #[test]
    fn the_domain_message_does_not_carry_the_sql_message() {
        let error = from_diesel(database_error(
            DatabaseErrorKind::Unknown,
            "no such column: ada@example.com",
        ));
        assert!(!error.to_string().contains("ada@example.com"));
    }
}
