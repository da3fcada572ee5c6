-- One-time sign-in codes waiting to be redeemed at `POST /auth/token` (at most 60 seconds).
-- In the compact style of `users`: WITHOUT ROWID, binary keys, unix seconds.
--
-- * `hash` is the SHA-256 of the code, never the code: a copy of the database hands out no
--   live credential. 32 bytes; the primary key is the only look-up of redemption.
-- * `challenge` is the client's PKCE S256 challenge as its 32 raw bytes.
-- * Redemption is a single `DELETE ... WHERE hash = ? RETURNING ...`: of concurrent
--   redemptions exactly one gets the row. Expiry and the verifier are checked by the
--   application, so the SQL stays the same on any database.
-- * Deleting a user deletes their pending codes (right to erasure; foreign keys are on).
-- * `expires_at` is indexed for the bounded sweep of expired codes done at each issue.
CREATE TABLE sign_in_codes (
    hash       BLOB   NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    user_id    BLOB   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    challenge  BLOB   NOT NULL CHECK (length(challenge) = 32),
    expires_at BIGINT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sign_in_codes_by_expiry ON sign_in_codes (expires_at);
CREATE INDEX sign_in_codes_by_user ON sign_in_codes (user_id);
