-- zeropass's own signing keys for `JWT_ALGORITHM` ES256 or EdDSA, shared by every instance on
-- this database; the same columns and constraints as SQLite's `signing_keys`, in PostgreSQL's
-- native types (`bytea`, `timestamptz` in whole seconds as the application writes them).
--
-- * `generation` is UNIQUE: a new key takes the next generation with
--   `INSERT ... ON CONFLICT DO NOTHING`, so when several instances decide to make a key at the
--   same moment exactly one row is stored and the others read it back.
-- * `sealed_private_key` is the private key encrypted and authenticated under a key derived
--   from `JWT_SECRET` (never the private key in the clear).
-- * `revoked_at` is set by `zeropass keys revoke`: the key is no longer published nor used, and
--   the row stays while older keys do, so that none of them can sign again.
CREATE TABLE signing_keys (
    kid                text        NOT NULL PRIMARY KEY CHECK (length(kid) = 22),
    algorithm          text        NOT NULL CHECK (algorithm IN ('ES256', 'EdDSA')),
    generation         bigint      NOT NULL UNIQUE,
    public_key         bytea       NOT NULL,
    sealed_private_key bytea       NOT NULL,
    created_at         timestamptz NOT NULL,
    activates_at       timestamptz NOT NULL,
    revoked_at         timestamptz
);
