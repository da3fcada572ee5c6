//! Translation of PostgreSQL failures into the domain's [`RepositoryError`]: "unavailable"
//! (503 `database_unavailable`, retry later) for everything a retry may cure — a connection
//! that could not be had, was refused, closed or terminated, a statement or lock timeout, a
//! server starting or shutting down, a read-only replica after a fail-over, too many clients, a
//! serialization failure or deadlock — and "unexpected" (500) for the rest: constraint
//! violations the adapter did not expect, SQL the server refuses (a bug).
//!
//! diesel-async keeps PostgreSQL's message but not its SQLSTATE for most codes, hence the
//! comparison on text for the codes it folds into `Unknown`. The texts are the server's
//! English ones (the default `lc_messages`, which only a superuser can change per session).

use crate::errors::classified;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use std::time::Duration;
use thiserror::Error;
use zeropass_domain::RepositoryError;

/// Parts of the server's messages for SQLSTATE classes 08 (connection), 53 (insufficient
/// resources), 57 (operator intervention: statement timeout, admin shutdown, crash, start-up)
/// and 40P01 / 55P03 (deadlock, lock timeout), and hot-standby conflicts.
const UNAVAILABLE_MESSAGES: [&str; 10] = [
    "statement timeout",
    "lock timeout",
    "terminating connection",
    "the database system is",
    "too many clients",
    "connection slots are reserved",
    "deadlock detected",
    "conflict with recovery",
    "due to user request",
    "could not obtain lock",
];

/// A failed query.
pub(crate) fn from_diesel(error: DieselError) -> RepositoryError {
    let unavailable = is_unavailable(&error);
    classified(error, unavailable)
}

/// No connection could be had: the pool's wait, a connection attempt that failed or timed
/// out, or a closed pool. All are states of the database or the network, never of the data.
pub(crate) fn from_pool(
    error: diesel_async::pooled_connection::deadpool::PoolError,
) -> RepositoryError {
    use deadpool::managed::PoolError;
    match error {
        PoolError::NoRuntimeSpecified => RepositoryError::Unexpected(Box::new(error)),
        other => RepositoryError::Unavailable(Box::new(other)),
    }
}

/// The operation did not finish within its bound (the network or the server hangs).
#[derive(Debug, Error)]
#[error("no answer from PostgreSQL within {} ms", .0.as_millis())]
pub(crate) struct TimedOut(pub(crate) Duration);

pub(crate) fn timed_out(limit: Duration) -> RepositoryError {
    RepositoryError::Unavailable(Box::new(TimedOut(limit)))
}

/// Whether the failure was the connection's, found closed or terminated (typically one that
/// sat idle in the pool through a server restart or `pg_terminate_backend`): the statement
/// was not run, and another connection may well succeed.
pub(crate) fn is_connection_lost(error: &RepositoryError) -> bool {
    let RepositoryError::Unavailable(source) = error else {
        return false;
    };
    match source.downcast_ref::<DieselError>() {
        Some(DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
            _,
        )) => true,
        Some(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
            info.message().contains("terminating connection")
        }
        _ => false,
    }
}

fn is_unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::SerializationFailure
            | DatabaseErrorKind::ReadOnlyTransaction => true,
            DatabaseErrorKind::Unknown => {
                let message = info.message();
                UNAVAILABLE_MESSAGES
                    .iter()
                    .any(|unavailable| message.contains(unavailable))
            }
            _ => false,
        },
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_unavailable(commit_error),
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn timeouts_terminations_and_lost_connections_are_unavailable() {
        // PostgreSQL 15's own texts for 57014, 57P01, 57P03, 53300 (written out, not taken
        // from the list under test), and diesel-async's kinds for a dead connection.
        for error in [
            database_error(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "the database system is shutting down",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "sorry, too many clients already",
            ),
            database_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            database_error(DatabaseErrorKind::ClosedConnection, "closed"),
            database_error(
                DatabaseErrorKind::ReadOnlyTransaction,
                "cannot execute INSERT in a read-only transaction",
            ),
        ] {
            assert!(
                matches!(from_diesel(error), RepositoryError::Unavailable(_)),
                "should be unavailable"
            );
        }
    }

    #[test]
    fn constraint_violations_and_bad_sql_are_unexpected() {
        for error in [
            database_error(
                DatabaseErrorKind::UniqueViolation,
                "duplicate key value violates unique constraint \"users_pkey\"",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "relation \"users\" does not exist",
            ),
            DieselError::NotFound,
        ] {
            assert!(matches!(from_diesel(error), RepositoryError::Unexpected(_)));
        }
    }
}
