-- One-time sign-in codes waiting to be redeemed at `POST /auth/token` (at most 60 seconds), as
-- in SQLite: the SHA-256 of the code (never the code), the client's PKCE S256 challenge, unix
-- seconds of expiry. Redemption is one `DELETE ... WHERE hash = $1 RETURNING ...`: of
-- concurrent redemptions on any instance exactly one gets the row. Deleting a user deletes
-- their pending codes.
CREATE TABLE sign_in_codes (
    hash       bytea  NOT NULL PRIMARY KEY CHECK (octet_length(hash) = 32),
    user_id    uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    challenge  bytea  NOT NULL CHECK (octet_length(challenge) = 32),
    expires_at bigint NOT NULL
);

CREATE INDEX sign_in_codes_by_expiry ON sign_in_codes (expires_at);
CREATE INDEX sign_in_codes_by_user ON sign_in_codes (user_id);
