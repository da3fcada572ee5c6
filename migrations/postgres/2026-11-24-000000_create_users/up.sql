-- One row per person and provider; the same columns and constraints as SQLite's `users`, in
-- PostgreSQL's native types: `uuid` for the id (16 bytes), `timestamptz` for the creation time
-- (whole seconds, as the application writes it).
--
-- * The two UNIQUE constraints are the two look-ups of sign-in, by (provider, subject) and by
--   (email, provider); they are also what makes concurrent first sign-ins of one person, from
--   any number of instances, end with one row (`INSERT ... ON CONFLICT DO NOTHING`).
-- * The CHECK keeps a hand-edited row from breaking the adapter's reads.
CREATE TABLE users (
    id         uuid        NOT NULL PRIMARY KEY,
    email      text        NOT NULL,
    provider   text        NOT NULL CHECK (provider IN ('google', 'facebook')),
    subject    text        NOT NULL,
    is_active  boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    UNIQUE (email, provider),
    UNIQUE (provider, subject)
);
