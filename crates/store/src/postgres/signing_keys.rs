//! The `SigningKeyStore` port on [`PostgresStore`]: four single statements (a list in
//! generation order, `INSERT ... ON CONFLICT DO NOTHING`, a revocation and a delete by `kid`). The UNIQUE
//! constraints on `generation` and `kid` make an insert atomic across any number of
//! instances: of concurrent inserts of one generation exactly one stores its row, and the
//! others do nothing and report it.

use super::PostgresStore;
use super::errors::from_diesel;
use super::schema::signing_keys;
use crate::stored_keys::{StoredKeyRow, from_key_row};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use zeropass_domain::{KeyId, RepositoryError, SigningKeyStore, StoredSigningKey};

/// One row of `signing_keys`, column for column.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys, check_for_backend(diesel::pg::Pg))]
struct KeyRow {
    kid: String,
    algorithm: String,
    generation: i64,
    public_key: Vec<u8>,
    sealed_private_key: Vec<u8>,
    created_at: DateTime<Utc>,
    activates_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&StoredSigningKey> for KeyRow {
    fn from(key: &StoredSigningKey) -> Self {
        Self {
            kid: key.kid.as_str().to_owned(),
            algorithm: key.algorithm.as_str().to_owned(),
            generation: key.generation,
            public_key: key.public_key.clone(),
            sealed_private_key: key.sealed_private_key.0.clone(),
            created_at: key.created_at,
            activates_at: key.activates_at,
            revoked_at: key.revoked_at,
        }
    }
}

fn to_key(row: KeyRow) -> Result<StoredSigningKey, RepositoryError> {
    StoredSigningKey::try_from(StoredKeyRow {
        kid: row.kid,
        algorithm: row.algorithm,
        generation: row.generation,
        public_key: row.public_key,
        sealed_private_key: row.sealed_private_key,
        created_at: row.created_at,
        activates_at: row.activates_at,
        revoked_at: row.revoked_at,
    })
    .map_err(from_key_row)
}

async fn list(conn: &mut AsyncPgConnection) -> Result<Vec<StoredSigningKey>, RepositoryError> {
    signing_keys::table
        .order(signing_keys::generation)
        .select(KeyRow::as_select())
        .load(conn)
        .await
        .map_err(from_diesel)?
        .into_iter()
        .map(to_key)
        .collect()
}

async fn insert(conn: &mut AsyncPgConnection, row: KeyRow) -> Result<bool, RepositoryError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|inserted| inserted == 1)
        .map_err(from_diesel)
}

async fn revoke(
    conn: &mut AsyncPgConnection,
    kid: &str,
    at: DateTime<Utc>,
) -> Result<bool, RepositoryError> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::revoked_at.is_null()),
    )
    .set(signing_keys::revoked_at.eq(at))
    .execute(conn)
    .await
    .map(|revoked| revoked > 0)
    .map_err(from_diesel)
}

async fn delete(conn: &mut AsyncPgConnection, kid: &str) -> Result<bool, RepositoryError> {
    diesel::delete(signing_keys::table.filter(signing_keys::kid.eq(kid)))
        .execute(conn)
        .await
        .map(|deleted| deleted > 0)
        .map_err(from_diesel)
}

#[async_trait]
impl SigningKeyStore for PostgresStore {
    #[tracing::instrument(name = "signing_keys.list", level = "debug", skip_all)]
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, RepositoryError> {
        self.retrying(|mut conn| async move { list(&mut conn).await })
            .await
    }

    #[tracing::instrument(
        name = "signing_keys.insert",
        skip_all,
        fields(kid = %key.kid, generation = key.generation)
    )]
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            insert(&mut conn, KeyRow::from(key)).await
        })
        .await
    }

    #[tracing::instrument(name = "signing_keys.revoke", skip_all, fields(kid = %kid))]
    async fn revoke_signing_key(
        &self,
        kid: &KeyId,
        at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            revoke(&mut conn, kid.as_str(), at).await
        })
        .await
    }

    #[tracing::instrument(name = "signing_keys.delete", skip_all, fields(kid = %kid))]
    async fn delete_signing_key(&self, kid: &KeyId) -> Result<bool, RepositoryError> {
        self.bounded(async {
            let mut conn = self.connection().await?;
            delete(&mut conn, kid.as_str()).await
        })
        .await
    }
}
