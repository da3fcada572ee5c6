//! Diesel's view of the PostgreSQL tables, written by hand to match `migrations/postgres/`.
//! Same tables and columns as SQLite's (`sqlite::schema`), in native types.

diesel::table! {
    /// One row per person and provider.
    users (id) {
        /// The user id, a version-4 UUID.
        id -> Uuid,
        /// The email last reported by the provider, lower-cased.
        email -> Text,
        /// `google` or `facebook`.
        provider -> Text,
        /// The provider's opaque, stable subject for the person.
        subject -> Text,
        /// false for a disabled account.
        is_active -> Bool,
        /// First sign-in (whole seconds).
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// One-time sign-in codes waiting to be redeemed.
    sign_in_codes (hash) {
        /// SHA-256 of the code (32 bytes).
        hash -> Bytea,
        /// The user the code signs in.
        user_id -> Uuid,
        /// The client's PKCE S256 challenge, 32 raw bytes.
        challenge -> Bytea,
        /// Unix seconds (UTC) from which the code is refused.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// The asymmetric signing keys.
    signing_keys (kid) {
        /// The key id: 22 characters of unpadded base64url.
        kid -> Text,
        /// `ES256` or `EdDSA`.
        algorithm -> Text,
        /// The key's place in the sequence of keys; unique.
        generation -> BigInt,
        /// The raw public key.
        public_key -> Bytea,
        /// The private key, sealed under a key derived from `JWT_SECRET`.
        sealed_private_key -> Bytea,
        /// When the key was made (whole seconds).
        created_at -> Timestamptz,
        /// When it may start signing (whole seconds).
        activates_at -> Timestamptz,
        /// When an operator revoked it; null while not revoked.
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(sign_in_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, sign_in_codes, signing_keys);
