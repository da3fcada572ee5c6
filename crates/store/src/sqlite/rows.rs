//! The `users` row as Diesel reads and writes it, and its conversion to and from the domain's
//! [`User`]. Reading back re-parses every field, so a hand-edited or corrupt row is reported
//! instead of producing an invalid `User`.

use crate::sqlite::schema::users;
use crate::stored::StoredUser;
use chrono::DateTime;
use diesel::prelude::*;
use uuid::Uuid;
use zeropass_domain::{User, UserId};

pub(crate) use crate::stored::RowError;

/// One row of `users`, column for column.
#[derive(Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    pub(crate) id: Vec<u8>,
    pub(crate) email: String,
    pub(crate) provider: String,
    pub(crate) subject: String,
    pub(crate) is_active: bool,
    pub(crate) created_at: i64,
}

/// Redacted: the email and subject identify a person and stay out of logs.
impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &Uuid::from_slice(&self.id).ok())
            .field("provider", &self.provider)
            .field("is_active", &self.is_active)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.as_uuid().as_bytes().to_vec(),
            email: user.email.as_str().to_owned(),
            provider: user.provider.as_str().to_owned(),
            subject: user.subject.as_str().to_owned(),
            is_active: user.is_active,
            created_at: user.created_at.timestamp(),
        }
    }
}

impl TryFrom<UserRow> for User {
    type Error = RowError;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        StoredUser {
            id: Uuid::from_slice(&row.id).map_err(|_| RowError::Id(row.id.len()))?,
            email: row.email,
            provider: row.provider,
            subject: row.subject,
            is_active: row.is_active,
            created_at: DateTime::from_timestamp(row.created_at, 0).ok_or(RowError::CreatedAt)?,
        }
        .try_into()
    }
}

/// The bytes `id` is stored as.
pub(crate) fn id_bytes(id: &UserId) -> &[u8] {
    id.as_uuid().as_bytes().as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeropass_domain::{Email, Provider, Subject, VerifiedIdentity};

    fn user() -> User {
        User::new(
            VerifiedIdentity {
                provider: Provider::Facebook,
                subject: Subject::parse("10150000000000001").unwrap(),
                email: Email::parse("ada@example.com").unwrap(),
            },
            DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
        )
    }

    #[test]
    fn a_user_survives_the_round_trip_through_its_row() {
        let user = user();
        let row = UserRow::from(&user);
        assert_eq!(row.id.len(), 16);
        assert_eq!(row.provider, "facebook");
        assert_eq!(row.created_at, 1_795_000_000);
        assert_eq!(User::try_from(row).unwrap(), user);
    }

    #[test]
    fn a_row_with_a_malformed_field_is_refused() {
        let good = UserRow::from(&user());
        let corruptions: [fn(&mut UserRow); 5] = [
            |row| row.id.truncate(15),
            |row| row.email = "not an email".into(),
            |row| row.provider = "github".into(),
            |row| row.subject = String::new(),
            |row| row.created_at = i64::MAX,
        ];
        for corrupt in corruptions {
            let mut row = good.clone();
            corrupt(&mut row);
            assert!(User::try_from(row).is_err());
        }
    }

    #[test]
    fn debug_output_hides_the_email_and_subject() {
        let shown = format!("{:?}", UserRow::from(&user()));
        assert!(!shown.contains("ada@example.com"));
        assert!(!shown.contains("10150000000000001"));
    }
}
