//! [`SqliteSignInCodes`]: the `SignInCodes` port on the same database and pool as the users.
//! Each operation is one plain statement (insert; delete-returning by primary key; a bounded
//! delete of expired rows), run on the blocking pool like every write: the rules about expiry
//! and verifiers are the domain's, so a later backend needs the same three statements only.

use crate::sqlite::errors;
use crate::sqlite::repository::SqliteUserRepository;
use crate::sqlite::schema::sign_in_codes;
use async_trait::async_trait;
use diesel::SqliteConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use thiserror::Error;
use uuid::Uuid;
use zeropass_domain::{
    CodeChallenge, CodeHash, RepositoryError, SignInCodes, StoredSignInCode, UserId,
};

/// One-time sign-in codes stored in SQLite. Cloning is cheap; clones share the pool.
#[derive(Debug, Clone)]
pub struct SqliteSignInCodes {
    database: SqliteUserRepository,
}

impl SqliteSignInCodes {
    /// The codes of the database `users` is open on (same file, same pool).
    #[must_use]
    pub fn new(users: &SqliteUserRepository) -> Self {
        Self {
            database: users.clone(),
        }
    }
}

/// One row of `sign_in_codes`, column for column.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_in_codes, check_for_backend(diesel::sqlite::Sqlite))]
struct CodeRow {
    hash: Vec<u8>,
    user_id: Vec<u8>,
    challenge: Vec<u8>,
    expires_at: i64,
}

/// A stored row whose binary columns do not have their fixed lengths: corrupt data.
#[derive(Debug, Error)]
#[error("the stored sign-in code's {0} has the wrong length")]
struct CodeRowError(&'static str);

impl From<&StoredSignInCode> for CodeRow {
    fn from(code: &StoredSignInCode) -> Self {
        Self {
            hash: code.hash.as_bytes().to_vec(),
            user_id: code.user_id.as_uuid().as_bytes().to_vec(),
            challenge: code.challenge.as_bytes().to_vec(),
            expires_at: code.expires_at,
        }
    }
}

impl TryFrom<CodeRow> for StoredSignInCode {
    type Error = CodeRowError;

    fn try_from(row: CodeRow) -> Result<Self, Self::Error> {
        Ok(Self {
            hash: CodeHash::from_bytes(row.hash.try_into().map_err(|_| CodeRowError("hash"))?),
            user_id: UserId::from_uuid(
                Uuid::from_slice(&row.user_id).map_err(|_| CodeRowError("user_id"))?,
            ),
            challenge: CodeChallenge::from_bytes(
                row.challenge
                    .try_into()
                    .map_err(|_| CodeRowError("challenge"))?,
            ),
            expires_at: row.expires_at,
        })
    }
}

fn insert(conn: &mut SqliteConnection, row: &CodeRow) -> Result<(), RepositoryError> {
    diesel::insert_into(sign_in_codes::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
        .map_err(errors::from_diesel)
}

/// One statement, so that SQLite's write lock makes it atomic: of concurrent calls, one
/// deletes (and gets) the row, the others find nothing.
fn take(
    conn: &mut SqliteConnection,
    hash: &CodeHash,
) -> Result<Option<StoredSignInCode>, RepositoryError> {
    diesel::delete(sign_in_codes::table.filter(sign_in_codes::hash.eq(hash.as_bytes().as_slice())))
        .returning(CodeRow::as_returning())
        .get_result(conn)
        .optional()
        .map_err(errors::from_diesel)?
        .map(StoredSignInCode::try_from)
        .transpose()
        .map_err(|error| RepositoryError::Unexpected(Box::new(error)))
}

fn delete_expired(
    conn: &mut SqliteConnection,
    now: i64,
    limit: u32,
) -> Result<u64, RepositoryError> {
    // `DELETE ... LIMIT` is an optional SQLite feature; a limited sub-select is plain SQL.
    let deleted = diesel::sql_query(
        "DELETE FROM sign_in_codes WHERE hash IN \
         (SELECT hash FROM sign_in_codes WHERE expires_at <= ? LIMIT ?)",
    )
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(i64::from(limit))
    .execute(conn)
    .map_err(errors::from_diesel)?;
    u64::try_from(deleted).map_err(|error| RepositoryError::Unexpected(Box::new(error)))
}

#[async_trait]
impl SignInCodes for SqliteSignInCodes {
    #[tracing::instrument(name = "codes.store", skip_all)]
    async fn store(&self, code: &StoredSignInCode) -> Result<(), RepositoryError> {
        let row = CodeRow::from(code);
        self.database
            .with_connection(move |conn| insert(conn, &row))
            .await
    }

    #[tracing::instrument(name = "codes.take", skip_all)]
    async fn take(&self, hash: &CodeHash) -> Result<Option<StoredSignInCode>, RepositoryError> {
        let hash = *hash;
        self.database
            .with_connection(move |conn| take(conn, &hash))
            .await
    }

    #[tracing::instrument(name = "codes.delete_expired", skip_all)]
    async fn delete_expired(&self, now: i64, limit: u32) -> Result<u64, RepositoryError> {
        self.database
            .with_connection(move |conn| delete_expired(conn, now, limit))
            .await
    }
}
