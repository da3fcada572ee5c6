//! Diesel's view of the tables, written by hand to match `migrations/` (there is no diesel CLI
//! in the build). The comments give each column's meaning as stored.

diesel::table! {
    /// One row per person and provider.
    users (id) {
        /// The user id: the 16 raw bytes of a version-4 UUID.
        id -> Binary,
        /// The email last reported by the provider, lower-cased.
        email -> Text,
        /// `google` or `facebook`.
        provider -> Text,
        /// The provider's opaque, stable subject for the person.
        subject -> Text,
        /// 0 for a disabled account.
        is_active -> Bool,
        /// First sign-in, in seconds since the Unix epoch (UTC).
        created_at -> BigInt,
    }
}

diesel::table! {
    /// One-time sign-in codes waiting to be redeemed (see `codes`).
    sign_in_codes (hash) {
        /// SHA-256 of the code (32 bytes); the code itself is never stored.
        hash -> Binary,
        /// The user the code signs in: the 16 raw bytes of their id.
        user_id -> Binary,
        /// The client's PKCE S256 challenge, 32 raw bytes.
        challenge -> Binary,
        /// Unix seconds (UTC) from which the code is refused.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// The asymmetric signing keys (see `signing_keys`).
    signing_keys (kid) {
        /// The key id: 22 characters of unpadded base64url.
        kid -> Text,
        /// `ES256` or `EdDSA`.
        algorithm -> Text,
        /// The key's place in the sequence of keys; unique.
        generation -> BigInt,
        /// The raw public key.
        public_key -> Binary,
        /// The private key, sealed under a key derived from `JWT_SECRET`.
        sealed_private_key -> Binary,
        /// When the key was made, unix seconds (UTC).
        created_at -> BigInt,
        /// When it may start signing, unix seconds (UTC).
        activates_at -> BigInt,
        /// When an operator revoked it, unix seconds (UTC); null while not revoked.
        revoked_at -> Nullable<BigInt>,
    }
}
