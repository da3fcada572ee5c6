//! [`SqliteSigningKeys`]: the `SigningKeyStore` port on the same database and pool as the
//! users. Four plain statements (a list in generation order, an insert that does nothing on a
//! taken generation or `kid`, a revocation and a delete by `kid`), writes on the blocking pool like every
//! write: the rules are the domain's, and SQLite's write lock makes each insert atomic, so of
//! concurrent inserts of one generation exactly one stores its row.

use crate::sqlite::errors;
use crate::sqlite::repository::SqliteUserRepository;
use crate::sqlite::schema::signing_keys;
use crate::stored_keys::{KeyRowError, StoredKeyRow, from_key_row, from_unix_seconds};
use async_trait::async_trait;
use diesel::SqliteConnection;
use diesel::prelude::*;
use zeropass_domain::{KeyId, RepositoryError, SigningKeyStore, StoredSigningKey};

/// Signing keys stored in SQLite. Cloning is cheap; clones share the pool.
#[derive(Debug, Clone)]
pub struct SqliteSigningKeys {
    database: SqliteUserRepository,
}

impl SqliteSigningKeys {
    /// The signing keys of the database `users` is open on (same file, same pool).
    #[must_use]
    pub fn new(users: &SqliteUserRepository) -> Self {
        Self {
            database: users.clone(),
        }
    }
}

/// One row of `signing_keys`, column for column.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::sqlite::Sqlite))]
struct KeyRow {
    kid: String,
    algorithm: String,
    generation: i64,
    public_key: Vec<u8>,
    sealed_private_key: Vec<u8>,
    created_at: i64,
    activates_at: i64,
    revoked_at: Option<i64>,
}

impl From<&StoredSigningKey> for KeyRow {
    fn from(key: &StoredSigningKey) -> Self {
        Self {
            kid: key.kid.as_str().to_owned(),
            algorithm: key.algorithm.as_str().to_owned(),
            generation: key.generation,
            public_key: key.public_key.clone(),
            sealed_private_key: key.sealed_private_key.0.clone(),
            created_at: key.created_at.timestamp(),
            activates_at: key.activates_at.timestamp(),
            revoked_at: key.revoked_at.map(|at| at.timestamp()),
        }
    }
}

impl TryFrom<KeyRow> for StoredSigningKey {
    type Error = KeyRowError;

    fn try_from(row: KeyRow) -> Result<Self, Self::Error> {
        Self::try_from(StoredKeyRow {
            kid: row.kid,
            algorithm: row.algorithm,
            generation: row.generation,
            public_key: row.public_key,
            sealed_private_key: row.sealed_private_key,
            created_at: from_unix_seconds(row.created_at, "created_at")?,
            activates_at: from_unix_seconds(row.activates_at, "activates_at")?,
            revoked_at: row
                .revoked_at
                .map(|seconds| from_unix_seconds(seconds, "revoked_at"))
                .transpose()?,
        })
    }
}

fn list(conn: &mut SqliteConnection) -> Result<Vec<StoredSigningKey>, RepositoryError> {
    signing_keys::table
        .order(signing_keys::generation)
        .select(KeyRow::as_select())
        .load(conn)
        .map_err(errors::from_diesel)?
        .into_iter()
        .map(|row| StoredSigningKey::try_from(row).map_err(from_key_row))
        .collect()
}

fn insert(conn: &mut SqliteConnection, row: &KeyRow) -> Result<bool, RepositoryError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|inserted| inserted == 1)
        .map_err(errors::from_diesel)
}

fn revoke(conn: &mut SqliteConnection, kid: &str, at: i64) -> Result<bool, RepositoryError> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::revoked_at.is_null()),
    )
    .set(signing_keys::revoked_at.eq(at))
    .execute(conn)
    .map(|revoked| revoked > 0)
    .map_err(errors::from_diesel)
}

fn delete(conn: &mut SqliteConnection, kid: &str) -> Result<bool, RepositoryError> {
    diesel::delete(signing_keys::table.filter(signing_keys::kid.eq(kid)))
        .execute(conn)
        .map(|deleted| deleted > 0)
        .map_err(errors::from_diesel)
}

#[async_trait]
impl SigningKeyStore for SqliteSigningKeys {
    #[tracing::instrument(name = "signing_keys.list", level = "debug", skip_all)]
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        self.database.with_connection(list).await
    }

    #[tracing::instrument(
        name = "signing_keys.insert",
        skip_all,
        fields(kid = %key.kid, generation = key.generation)
    )]
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool, RepositoryError> {
        let row = KeyRow::from(key);
        self.database
            .with_connection(move |conn| insert(conn, &row))
            .await
    }

    #[tracing::instrument(name = "signing_keys.revoke", skip_all, fields(kid = %kid))]
    async fn revoke_signing_key(
        &self,
        kid: &KeyId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, RepositoryError> {
        let kid = kid.as_str().to_owned();
        let at = at.timestamp();
        self.database
            .with_connection(move |conn| revoke(conn, &kid, at))
            .await
    }

    #[tracing::instrument(name = "signing_keys.delete", skip_all, fields(kid = %kid))]
    async fn delete_signing_key(&self, kid: &KeyId) -> Result<bool, RepositoryError> {
        let kid = kid.as_str().to_owned();
        self.database
            .with_connection(move |conn| delete(conn, &kid))
            .await
    }
}
