//! The operations as diesel-async statements on one PostgreSQL connection. Every statement is
//! a prepared one that diesel-async caches per connection: after its first use on a
//! connection, a look-up by id is one round trip (Bind/Execute/Sync in one write, one answer).
//!
//! Resolution runs without an explicit transaction: each write is a single conditional
//! statement (`INSERT ... ON CONFLICT DO NOTHING`, `UPDATE ... WHERE email = old`), so a
//! concurrent writer can only make it do nothing — never a second row or a lost update — and
//! the resolution then starts again from a fresh read, which sees the winner's row.

use super::errors::from_diesel;
use super::schema::{sign_in_codes, users};
use crate::errors::{from_count, from_row, is_unique_violation};
use crate::resolution::{Decision, decide};
use crate::stored::StoredUser;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{
    CodeChallenge, CodeHash, RepositoryError, ResolveUserError, StoredSignInCode, User, UserFilter,
    UserId, VerifiedIdentity,
};

/// How many times a resolution starts again after a concurrent writer changed what it read.
/// Each restart means another sign-in of the same person committed in between; three in a row
/// would take a storm of them.
const RESOLUTION_ATTEMPTS: usize = 3;

/// One row of `users`, column for column.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    id: Uuid,
    email: String,
    provider: String,
    subject: String,
    is_active: bool,
    created_at: DateTime<Utc>,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: *user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            provider: user.provider.as_str().to_owned(),
            subject: user.subject.as_str().to_owned(),
            is_active: user.is_active,
            created_at: user.created_at,
        }
    }
}

fn to_user(row: UserRow) -> Result<User, RepositoryError> {
    User::try_from(StoredUser {
        id: row.id,
        email: row.email,
        provider: row.provider,
        subject: row.subject,
        is_active: row.is_active,
        created_at: row.created_at,
    })
    .map_err(from_row)
}

fn to_users(rows: Vec<UserRow>) -> Result<Vec<User>, RepositoryError> {
    rows.into_iter().map(to_user).collect()
}

pub(crate) async fn find_by_id(
    conn: &mut AsyncPgConnection,
    id: UserId,
) -> Result<Option<User>, RepositoryError> {
    users::table
        .filter(users::id.eq(id.as_uuid()))
        .select(UserRow::as_select())
        .get_result(conn)
        .await
        .optional()
        .map_err(from_diesel)?
        .map(to_user)
        .transpose()
}

/// Resolves an identity in the port's order (see [`decide`]), creating the user if new.
pub(crate) async fn resolve_or_create(
    conn: &mut AsyncPgConnection,
    identity: &VerifiedIdentity,
) -> Result<User, ResolveUserError> {
    for _ in 0..RESOLUTION_ATTEMPTS {
        if let Some(user) = resolve_once(conn, identity).await? {
            return Ok(user);
        }
        tracing::debug!("a concurrent sign-in of the same identity won; resolving again");
    }
    Err(RepositoryError::Unavailable(Box::new(Contention)).into())
}

/// Concurrent writers kept changing the identity's rows.
#[derive(Debug, Error)]
#[error("the identity's rows kept changing under concurrent sign-ins")]
struct Contention;

/// One attempt; `None` when a concurrent writer got in between the read and the write.
async fn resolve_once(
    conn: &mut AsyncPgConnection,
    identity: &VerifiedIdentity,
) -> Result<Option<User>, ResolveUserError> {
    let provider = identity.provider.as_str();
    // Both facts of the rule in one round trip: the rows of the provider with the subject or
    // with the address (at most two, by the UNIQUE constraints).
    let rows: Vec<UserRow> = users::table
        .filter(users::provider.eq(provider))
        .filter(
            users::subject
                .eq(identity.subject.as_str())
                .or(users::email.eq(identity.email.as_str())),
        )
        .select(UserRow::as_select())
        .load(conn)
        .await
        .map_err(from_diesel)?;
    let mut by_subject = None;
    let mut email_taken = false;
    for row in rows {
        let user = to_user(row)?;
        if user.subject == identity.subject {
            by_subject = Some(user);
        } else if user.email == identity.email {
            email_taken = true;
        }
    }
    match decide(identity, by_subject, email_taken, Utc::now()) {
        Decision::Return(user) => Ok(Some(user)),
        Decision::Conflict => {
            tracing::debug!("identity conflict: the address belongs to another user");
            Err(ResolveUserError::IdentityConflict)
        }
        Decision::UpdateEmail(user) => {
            let updated = diesel::update(
                users::table
                    .filter(users::id.eq(user.id.as_uuid()))
                    .filter(users::email.ne(identity.email.as_str())),
            )
            .set(users::email.eq(identity.email.as_str()))
            .execute(conn)
            .await;
            match updated {
                Ok(1) => {
                    tracing::debug!(user_id = %user.id, "email updated");
                    Ok(Some(user))
                }
                Ok(_) => Ok(None),
                Err(error) if is_unique_violation(&error) => {
                    Err(ResolveUserError::IdentityConflict)
                }
                Err(error) => Err(from_diesel(error).into()),
            }
        }
        Decision::Insert(user) => Ok(insert(conn, &user).await?.then_some(user)),
    }
}

/// What the row of an identity's `(provider, subject)` says.
pub(crate) enum BySubject {
    /// The returning person, address unchanged.
    Unchanged(User),
    /// The returning person with another address.
    Changed,
    /// No such row.
    Absent,
}

/// The row of the identity's `(provider, subject)`, compared with the identity's address.
pub(crate) async fn find_by_subject(
    conn: &mut AsyncPgConnection,
    identity: &VerifiedIdentity,
) -> Result<BySubject, RepositoryError> {
    let row = users::table
        .filter(users::provider.eq(identity.provider.as_str()))
        .filter(users::subject.eq(identity.subject.as_str()))
        .select(UserRow::as_select())
        .get_result(conn)
        .await
        .optional()
        .map_err(from_diesel)?;
    Ok(match row.map(to_user).transpose()? {
        Some(user) if user.email == identity.email => BySubject::Unchanged(user),
        Some(_) => BySubject::Changed,
        None => BySubject::Absent,
    })
}

/// The new user of an identity that had no row by subject, stored if its address is free:
/// what [`decide`] says when neither fact holds, in one conditional statement. `None` when a
/// row of the provider took the subject or the address in the meantime (or held the address
/// already): nothing was written, and the full resolution decides.
pub(crate) async fn insert_if_new(
    conn: &mut AsyncPgConnection,
    identity: &VerifiedIdentity,
) -> Result<Option<User>, RepositoryError> {
    let Decision::Insert(user) = decide(identity, None, false, Utc::now()) else {
        return Ok(None);
    };
    Ok(insert(conn, &user).await?.then_some(user))
}

/// `INSERT ... ON CONFLICT DO NOTHING`: whether the row was stored.
async fn insert(conn: &mut AsyncPgConnection, user: &User) -> Result<bool, RepositoryError> {
    let inserted = diesel::insert_into(users::table)
        .values(UserRow::from(user))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map_err(from_diesel)?;
    if inserted == 1 {
        tracing::debug!(user_id = %user.id, "user created");
    }
    Ok(inserted == 1)
}

pub(crate) async fn delete(
    conn: &mut AsyncPgConnection,
    id: UserId,
) -> Result<bool, RepositoryError> {
    let deleted = diesel::delete(users::table.filter(users::id.eq(id.as_uuid())))
        .execute(conn)
        .await
        .map_err(from_diesel)?;
    Ok(deleted > 0)
}

pub(crate) async fn set_active(
    conn: &mut AsyncPgConnection,
    id: UserId,
    active: bool,
) -> Result<Option<User>, RepositoryError> {
    diesel::update(users::table.filter(users::id.eq(id.as_uuid())))
        .set(users::is_active.eq(active))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .optional()
        .map_err(from_diesel)?
        .map(to_user)
        .transpose()
}

/// One page by ascending id after `after`. PostgreSQL orders `uuid` bytewise, the order of
/// [`UserId`]'s `Ord`, so pages follow the primary key's index as SQLite's do.
pub(crate) async fn list_page(
    conn: &mut AsyncPgConnection,
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
        query = query.filter(users::id.gt(*after.as_uuid()));
    }
    to_users(query.load(conn).await.map_err(from_diesel)?)
}

pub(crate) async fn count(conn: &mut AsyncPgConnection) -> Result<u64, RepositoryError> {
    let count: i64 = users::table
        .count()
        .get_result(conn)
        .await
        .map_err(from_diesel)?;
    u64::try_from(count).map_err(from_count)
}

pub(crate) async fn ping(conn: &mut AsyncPgConnection) -> Result<(), RepositoryError> {
    diesel::select(1.into_sql::<Integer>())
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(from_diesel)
}

/// One row of `sign_in_codes`, column for column.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_codes, check_for_backend(diesel::pg::Pg))]
struct CodeRow {
    hash: Vec<u8>,
    user_id: Uuid,
    challenge: Vec<u8>,
    expires_at: i64,
}

/// A stored code whose binary columns do not have their fixed lengths: corrupt data.
#[derive(Debug, Error)]
#[error("the stored sign-in code's {0} has the wrong length")]
struct CodeRowError(&'static str);

impl TryFrom<CodeRow> for StoredSignInCode {
    type Error = CodeRowError;

    fn try_from(row: CodeRow) -> Result<Self, Self::Error> {
        Ok(Self {
            hash: CodeHash::from_bytes(row.hash.try_into().map_err(|_| CodeRowError("hash"))?),
            user_id: UserId::from_uuid(row.user_id),
            challenge: CodeChallenge::from_bytes(
                row.challenge
                    .try_into()
                    .map_err(|_| CodeRowError("challenge"))?,
            ),
            expires_at: row.expires_at,
        })
    }
}

pub(crate) async fn store_code(
    conn: &mut AsyncPgConnection,
    code: &StoredSignInCode,
) -> Result<(), RepositoryError> {
    diesel::insert_into(sign_in_codes::table)
        .values(CodeRow {
            hash: code.hash.as_bytes().to_vec(),
            user_id: *code.user_id.as_uuid(),
            challenge: code.challenge.as_bytes().to_vec(),
            expires_at: code.expires_at,
        })
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(from_diesel)
}

/// One `DELETE ... RETURNING`: of concurrent calls on any connection, one gets the row.
pub(crate) async fn take_code(
    conn: &mut AsyncPgConnection,
    hash: &CodeHash,
) -> Result<Option<StoredSignInCode>, RepositoryError> {
    diesel::delete(sign_in_codes::table.filter(sign_in_codes::hash.eq(hash.as_bytes().as_slice())))
        .returning(CodeRow::as_returning())
        .get_result(conn)
        .await
        .optional()
        .map_err(from_diesel)?
        .map(StoredSignInCode::try_from)
        .transpose()
        .map_err(|error| RepositoryError::Unexpected(Box::new(error)))
}

pub(crate) async fn delete_expired_codes(
    conn: &mut AsyncPgConnection,
    now: i64,
    limit: u32,
) -> Result<u64, RepositoryError> {
    // Bounded, so that one sweep never holds a request for long; plain SQL as SQLite's.
    let deleted = diesel::sql_query(
        "DELETE FROM sign_in_codes WHERE hash IN \
         (SELECT hash FROM sign_in_codes WHERE expires_at <= $1 LIMIT $2)",
    )
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(i64::from(limit))
    .execute(conn)
    .await
    .map_err(from_diesel)?;
    u64::try_from(deleted).map_err(from_count)
}
