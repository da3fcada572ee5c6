//! A stored signing key as every backend reads it back, and its checked conversion to the
//! domain's [`StoredSigningKey`]: the `kid` and the algorithm are parsed again, so a
//! hand-edited or corrupt row is reported instead of producing a key nobody could use. Backends
//! differ only in how they store the times (SQLite: unix seconds; PostgreSQL: `timestamptz`)
//! and convert those before coming here.

use chrono::{DateTime, Utc};
use thiserror::Error;
use zeropass_domain::{
    InvalidKeyId, KeyId, RepositoryError, SealedPrivateKey, StoredSigningKey,
    UnknownSigningAlgorithm,
};

/// Why a stored row is not a valid signing key. The messages name the column, never its value.
#[derive(Debug, Error)]
pub(crate) enum KeyRowError {
    /// `kid` does not parse.
    #[error("the stored signing key id is not a valid key id")]
    Kid(#[source] InvalidKeyId),
    /// `algorithm` is not `ES256` or `EdDSA`.
    #[error("the stored signing key's algorithm is unknown")]
    Algorithm(#[source] UnknownSigningAlgorithm),
    /// A time is outside chrono's range.
    #[error("the stored signing key's {0} is out of range")]
    Time(&'static str),
}

/// The columns of a `signing_keys` row once the backend has decoded its times.
pub(crate) struct StoredKeyRow {
    pub(crate) kid: String,
    pub(crate) algorithm: String,
    pub(crate) generation: i64,
    pub(crate) public_key: Vec<u8>,
    pub(crate) sealed_private_key: Vec<u8>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) activates_at: DateTime<Utc>,
    pub(crate) revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<StoredKeyRow> for StoredSigningKey {
    type Error = KeyRowError;

    fn try_from(row: StoredKeyRow) -> Result<Self, Self::Error> {
        Ok(Self {
            kid: KeyId::parse(&row.kid).map_err(KeyRowError::Kid)?,
            algorithm: row.algorithm.parse().map_err(KeyRowError::Algorithm)?,
            generation: row.generation,
            public_key: row.public_key,
            sealed_private_key: SealedPrivateKey(row.sealed_private_key),
            created_at: row.created_at,
            activates_at: row.activates_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// A corrupt row, for the domain: unexpected.
pub(crate) fn from_key_row(error: KeyRowError) -> RepositoryError {
    RepositoryError::Unexpected(Box::new(error))
}

/// Unix seconds read back from a backend that stores them so (SQLite).
pub(crate) fn from_unix_seconds(
    seconds: i64,
    column: &'static str,
) -> Result<DateTime<Utc>, KeyRowError> {
    DateTime::from_timestamp(seconds, 0).ok_or(KeyRowError::Time(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> StoredKeyRow {
        StoredKeyRow {
            kid: "AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            algorithm: "EdDSA".to_owned(),
            generation: 4,
            public_key: vec![1; 32],
            sealed_private_key: vec![2; 60],
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            activates_at: DateTime::from_timestamp(1_800_000_360, 0).unwrap(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_valid_row_converts_field_for_field() {
        let key = StoredSigningKey::try_from(row()).unwrap();
        assert_eq!(key.kid.as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(key.algorithm, zeropass_domain::SigningAlgorithm::EdDsa);
        assert_eq!(key.sealed_private_key, SealedPrivateKey(vec![2; 60]));
    }

    #[test]
    fn a_corrupt_kid_or_algorithm_is_reported_without_its_value() {
        let kid = StoredSigningKey::try_from(StoredKeyRow {
            kid: "secret-looking".to_owned(),
            ..row()
        })
        .unwrap_err();
        assert!(matches!(kid, KeyRowError::Kid(_)));
        assert!(!kid.to_string().contains("secret-looking"));
        let algorithm = StoredSigningKey::try_from(StoredKeyRow {
            algorithm: "HS256".to_owned(),
            ..row()
        })
        .unwrap_err();
        assert!(matches!(algorithm, KeyRowError::Algorithm(_)));
        assert!(matches!(
            from_unix_seconds(i64::MAX, "created_at"),
            Err(KeyRowError::Time("created_at"))
        ));
    }
}
