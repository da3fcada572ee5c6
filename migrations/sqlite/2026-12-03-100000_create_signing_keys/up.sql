-- zeropass's own signing keys for `JWT_ALGORITHM` ES256 or EdDSA, shared by every instance on
-- this database. The rules (which key signs, which are published, when one is made or
-- deleted) are the application's; the table only keeps the rows and their two uniquenesses.
--
-- * `kid` is the key id of token headers and the JWKS: 22 characters of base64url.
-- * `generation` is UNIQUE: a new key takes the next generation with
--   `INSERT ... ON CONFLICT DO NOTHING`, so when several instances decide to make a key at the
--   same moment exactly one row is stored and the others read it back.
-- * `public_key` is the raw public key (P-256: 65-byte uncompressed point; Ed25519: 32 bytes);
--   `sealed_private_key` is the private key encrypted and authenticated under a key derived
--   from `JWT_SECRET` (never the private key in the clear).
-- * `revoked_at` is set by `zeropass keys revoke`: the key is no longer published nor used, and
--   the row stays while older keys do, so that none of them can sign again.
-- * Times are unix seconds (UTC), as `users.created_at`.
CREATE TABLE signing_keys (
    kid                TEXT   NOT NULL PRIMARY KEY CHECK (length(kid) = 22),
    algorithm          TEXT   NOT NULL CHECK (algorithm IN ('ES256', 'EdDSA')),
    generation         BIGINT NOT NULL UNIQUE,
    public_key         BLOB   NOT NULL,
    sealed_private_key BLOB   NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL,
    revoked_at         BIGINT
) WITHOUT ROWID;
