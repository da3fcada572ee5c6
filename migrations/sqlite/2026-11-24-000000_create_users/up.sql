-- One row per person and provider. The table is laid out to stay small (the target is at most
-- 250 bytes of database file per user at a million users):
--
-- * WITHOUT ROWID: the rows live in the primary-key b-tree itself, so the id is stored once
--   instead of twice (a rowid table plus a separate index on `id`), and a look-up by id is a
--   single b-tree search.
-- * `id` is the UUID's 16 raw bytes, not its 36-character text form.
-- * `created_at` is unix seconds (UTC): SQLite stores it in 4 to 6 bytes, against 20 for an
--   ISO-8601 string. `is_active` is 0/1, which SQLite stores in the record header (0 bytes).
-- * The two UNIQUE constraints are also the only secondary indexes, and they are exactly the
--   two look-ups of sign-in: by (provider, subject), then by (email, provider). Each index
--   entry carries the key columns plus the 16-byte id; nothing else is indexed.
-- * The CHECKs cost no space and keep a hand-edited row from breaking the adapter's reads.
CREATE TABLE users (
    id         BLOB    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    email      TEXT    NOT NULL,
    provider   TEXT    NOT NULL CHECK (provider IN ('google', 'facebook')),
    subject    TEXT    NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    created_at BIGINT  NOT NULL,
    UNIQUE (email, provider),
    UNIQUE (provider, subject)
) WITHOUT ROWID;
