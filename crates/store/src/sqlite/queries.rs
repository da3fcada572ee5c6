//! The repository's operations as synchronous Diesel code on one connection. They block, so
//! `repository` runs them on Tokio's blocking pool; nothing here knows about async.

use crate::resolution::{Decision, decide};
use crate::sqlite::errors;
use crate::sqlite::rows::{RowError, UserRow, id_bytes};
use crate::sqlite::schema::users;
use diesel::prelude::*;
use diesel::{SqliteConnection, dsl};
use zeropass_domain::{
    RepositoryError, ResolveUserError, User, UserFilter, UserId, VerifiedIdentity,
};

/// Finds a user by id.
///
/// The lookups by a unique key here use `get_result`, never `first`: `first` adds
/// `LIMIT ?`, and the bundled SQLite (3.53) plans a bound `LIMIT` from its value, so every new
/// binding expires the cached statement and each call parsed and planned the query again
/// (three quarters of the time `/users/me` spent in SQLite). A unique key gives at most one
/// row anyway.
pub(crate) fn find_by_id(
    conn: &mut SqliteConnection,
    id: UserId,
) -> Result<Option<User>, RepositoryError> {
    users::table
        .filter(users::id.eq(id_bytes(&id)))
        .select(UserRow::as_select())
        .get_result(conn)
        .optional()
        .map_err(errors::from_diesel)?
        .map(User::try_from)
        .transpose()
        .map_err(errors::from_row)
}

/// The user of a returning identity whose stored address is already the identity's: what
/// [`resolve_or_create`] would return without writing anything. `None` for anyone else (a new
/// identity, or one whose address changed), who must go through [`resolve_or_create`].
pub(crate) fn find_unchanged(
    conn: &mut SqliteConnection,
    identity: &VerifiedIdentity,
) -> Result<Option<User>, RepositoryError> {
    let Some(row) = row_by_subject(conn, identity).map_err(errors::from_diesel)? else {
        return Ok(None);
    };
    let user = User::try_from(row).map_err(errors::from_row)?;
    Ok((user.email == identity.email).then_some(user))
}

/// Deletes a user; whether a row went.
pub(crate) fn delete(conn: &mut SqliteConnection, id: UserId) -> Result<bool, RepositoryError> {
    let deleted = diesel::delete(users::table.filter(users::id.eq(id_bytes(&id))))
        .execute(conn)
        .map_err(errors::from_diesel)?;
    Ok(deleted > 0)
}

/// Sets a user's `is_active`; the user as stored afterwards, `None` if there is no such user.
pub(crate) fn set_active(
    conn: &mut SqliteConnection,
    id: UserId,
    active: bool,
) -> Result<Option<User>, RepositoryError> {
    diesel::update(users::table.filter(users::id.eq(id_bytes(&id))))
        .set(users::is_active.eq(active))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .optional()
        .map_err(errors::from_diesel)?
        .map(User::try_from)
        .transpose()
        .map_err(errors::from_row)
}

/// One page of the users matching `filter`, by ascending id after `after`. The ids are the
/// UUIDs' 16 bytes, which SQLite compares as `memcmp`: the order of [`UserId`]'s `Ord`. The
/// walk follows the primary key (the rows of a `WITHOUT ROWID` table), so a page costs the
/// same wherever it starts; an email filter uses the `(email, provider)` index instead.
pub(crate) fn list_page(
    conn: &mut SqliteConnection,
    filter: &UserFilter,
    after: Option<UserId>,
    limit: u32,
) -> Result<Vec<User>, RepositoryError> {
    let mut query = users::table
        .select(UserRow::as_select())
        .order(users::id)
        .limit(i64::from(limit))
        .into_boxed();
    if let Some(provider) = filter.provider {
        query = query.filter(users::provider.eq(provider.as_str()));
    }
    if let Some(email) = &filter.email {
        query = query.filter(users::email.eq(email.as_str().to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(users::id.gt(id_bytes(&after).to_vec()));
    }
    query
        .load(conn)
        .map_err(errors::from_diesel)?
        .into_iter()
        .map(|row| User::try_from(row).map_err(errors::from_row))
        .collect()
}

/// How many users are stored.
pub(crate) fn count(conn: &mut SqliteConnection) -> Result<u64, RepositoryError> {
    let count: i64 = users::table
        .count()
        .get_result(conn)
        .map_err(errors::from_diesel)?;
    u64::try_from(count).map_err(crate::errors::from_count)
}

/// Checks that the database answers.
pub(crate) fn ping(conn: &mut SqliteConnection) -> Result<(), RepositoryError> {
    diesel::select(1.into_sql::<diesel::sql_types::Integer>())
        .execute(conn)
        .map(|_| ())
        .map_err(errors::from_diesel)
}

/// Resolves an identity to its user, creating it if it is new, in the port's order.
///
/// Each attempt runs under SQLite's write lock (`BEGIN IMMEDIATE`), taken before the first
/// read: two sign-ins of the same new person, from two threads or two processes, cannot both
/// see "no such user", so the second finds the row the first inserted. Should an insert still
/// meet a UNIQUE violation (a writer that bypassed the lock), the resolution is run once more,
/// and now finds that row.
pub(crate) fn resolve_or_create(
    conn: &mut SqliteConnection,
    identity: &VerifiedIdentity,
) -> Result<User, ResolveUserError> {
    match resolve_once(conn, identity) {
        Err(Failure::Database(error)) if errors::is_unique_violation(&error) => {
            tracing::warn!("a concurrent insert of the same identity won; resolving again");
            resolve_once(conn, identity)
        }
        outcome => outcome,
    }
    .map_err(Failure::into_resolve_error)
}

/// Why one resolution attempt stopped; the transaction was rolled back in every case.
enum Failure {
    Conflict,
    Database(diesel::result::Error),
    CorruptRow(RowError),
}

impl From<diesel::result::Error> for Failure {
    fn from(error: diesel::result::Error) -> Self {
        Self::Database(error)
    }
}

impl Failure {
    fn into_resolve_error(self) -> ResolveUserError {
        match self {
            Self::Conflict => ResolveUserError::IdentityConflict,
            Self::Database(error) => errors::from_diesel(error).into(),
            Self::CorruptRow(error) => errors::from_row(error).into(),
        }
    }
}

fn resolve_once(conn: &mut SqliteConnection, identity: &VerifiedIdentity) -> Result<User, Failure> {
    let provider = identity.provider.as_str();
    let email = identity.email.as_str();
    conn.immediate_transaction(|conn| {
        // The two facts the rule needs, read under the write lock: the subject's row, and
        // whether the address is taken. A returning person whose address did not change
        // needs only the first; any other row holding the address is another user's (this
        // user's stored address is a different one).
        let by_subject = row_by_subject(conn, identity)?
            .map(User::try_from)
            .transpose()
            .map_err(Failure::CorruptRow)?;
        let unchanged = by_subject
            .as_ref()
            .is_some_and(|user| user.email == identity.email);
        let email_taken = !unchanged && email_taken(conn, provider, email)?;
        match decide(identity, by_subject, email_taken, chrono::Utc::now()) {
            Decision::Return(user) => {
                tracing::debug!(user_id = %user.id, "returning user");
                Ok(user)
            }
            Decision::Conflict => {
                tracing::debug!("identity conflict: the address belongs to another user");
                Err(Failure::Conflict)
            }
            Decision::UpdateEmail(user) => {
                diesel::update(users::table.filter(users::id.eq(id_bytes(&user.id))))
                    .set(users::email.eq(email))
                    .execute(conn)
                    .map_err(|error| {
                        if errors::is_unique_violation(&error) {
                            Failure::Conflict
                        } else {
                            Failure::Database(error)
                        }
                    })?;
                tracing::debug!(user_id = %user.id, "email updated");
                Ok(user)
            }
            Decision::Insert(user) => {
                diesel::insert_into(users::table)
                    .values(UserRow::from(&user))
                    .execute(conn)?;
                tracing::debug!(user_id = %user.id, "user created");
                Ok(user)
            }
        }
    })
}

/// The row of the identity's provider and subject, if there is one.
fn row_by_subject(
    conn: &mut SqliteConnection,
    identity: &VerifiedIdentity,
) -> Result<Option<UserRow>, diesel::result::Error> {
    users::table
        .filter(users::provider.eq(identity.provider.as_str()))
        .filter(users::subject.eq(identity.subject.as_str()))
        .select(UserRow::as_select())
        .get_result(conn) // not `first`: see `find_by_id`
        .optional()
}

fn email_taken(
    conn: &mut SqliteConnection,
    provider: &str,
    email: &str,
) -> Result<bool, diesel::result::Error> {
    diesel::select(dsl::exists(
        users::table
            .filter(users::email.eq(email))
            .filter(users::provider.eq(provider)),
    ))
    .get_result(conn)
}
