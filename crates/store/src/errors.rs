//! What every backend's error translation shares: a corrupt row or an impossible count is
//! "unexpected", a UNIQUE violation is recognised the same way (Diesel reports it for both),
//! and a backend's own judgement of "a retry later may cure this" becomes
//! [`RepositoryError::Unavailable`]. The original error is kept as the source, for the log;
//! the domain error's own message never carries SQL, data or a connection string.

use crate::stored::RowError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use zeropass_domain::RepositoryError;

/// A stored row does not make a valid user: the data is corrupt.
pub(crate) fn from_row(error: RowError) -> RepositoryError {
    RepositoryError::Unexpected(Box::new(error))
}

/// Whether the insert or update failed on a UNIQUE constraint.
pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A Diesel failure, already judged by the backend as curable by a retry later or not.
pub(crate) fn classified(error: DieselError, unavailable: bool) -> RepositoryError {
    if unavailable {
        RepositoryError::Unavailable(Box::new(error))
    } else {
        RepositoryError::Unexpected(Box::new(error))
    }
}

/// A count that does not fit: impossible in practice, a bug if it happens.
pub(crate) fn from_count(error: std::num::TryFromIntError) -> RepositoryError {
    RepositoryError::Unexpected(Box::new(error))
}
