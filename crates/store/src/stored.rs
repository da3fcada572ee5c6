//! A stored user as every backend reads it back — id, text columns, flag and creation time —
//! and its checked conversion to the domain's [`User`]. Every field is parsed again, so a
//! hand-edited or corrupt row is reported instead of producing an invalid `User`. Backends
//! differ only in how they store the id and the time (SQLite: 16 bytes and unix seconds;
//! PostgreSQL: `uuid` and `timestamptz`), and convert those before coming here.

use chrono::{DateTime, Utc};
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{Email, EmailError, Subject, SubjectError, UnknownProvider, User, UserId};

/// Why a stored row is not a valid user. The messages name the column, never its value.
#[derive(Debug, Error)]
pub(crate) enum RowError {
    /// `id` is not 16 bytes.
    #[error("the stored user id is {0} bytes long instead of 16")]
    Id(usize),
    /// `email` does not parse.
    #[error("the stored email is not a valid address")]
    Email(#[source] EmailError),
    /// `provider` is not a known provider.
    #[error("the stored provider is not a known provider")]
    Provider(#[source] UnknownProvider),
    /// `subject` does not parse.
    #[error("the stored subject is not a valid subject")]
    Subject(#[source] SubjectError),
    /// `created_at` is outside chrono's range.
    #[error("the stored creation time is out of range")]
    CreatedAt,
}

/// The columns of a `users` row once the backend has decoded its id and time.
pub(crate) struct StoredUser {
    pub(crate) id: Uuid,
    pub(crate) email: String,
    pub(crate) provider: String,
    pub(crate) subject: String,
    pub(crate) is_active: bool,
    pub(crate) created_at: DateTime<Utc>,
}

impl TryFrom<StoredUser> for User {
    type Error = RowError;

    fn try_from(row: StoredUser) -> Result<Self, Self::Error> {
        Ok(Self {
            id: UserId::from_uuid(row.id),
            email: Email::parse(&row.email).map_err(RowError::Email)?,
            provider: row.provider.parse().map_err(RowError::Provider)?,
            subject: Subject::parse(&row.subject).map_err(RowError::Subject)?,
            is_active: row.is_active,
            created_at: row.created_at,
        })
    }
}
