//! The domain of zeropass: who a user is, what a verified identity is, the ports that adapters
//! implement (user storage, identity providers, access tokens, one-time sign-in codes, signing
//! keys, the clock) and the use cases every door of the server goes through (signing in, acting as the
//! current user, and exchanging a one-time code for a token).
//!
//! This crate performs no I/O and depends on no framework: adapters depend on it, never the
//! other way round. Other Rust services may depend on it for the types; testers can switch on
//! the `mocks` feature to get a `mockall` mock of every port (`MockUserRepository`,
//! `MockIdentityProvider`, `MockAccessTokens`, `MockSignInCodes`, `MockSigningKeyStore`,
//! `MockSigningKeyGenerator`, `MockClock`).

pub mod clock;
pub mod error;
pub mod ports;
pub mod use_cases;
pub mod user;

pub use clock::{Clock, SystemClock};
pub use error::BoxError;
pub use ports::access_tokens::{
    AccessTokenClaims, AccessTokens, IssueTokenError, IssuedToken, PublicJwk, TokenRejection,
};
pub use ports::identity_provider::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential,
};
pub use ports::sign_in_codes::{
    CodeChallenge, CodeHash, InvalidCodeChallenge, SignInCodes, StoredSignInCode,
};
pub use ports::signing_keys::{
    GeneratedKey, InvalidKeyId, KeyId, SealedPrivateKey, SigningAlgorithm, SigningKeyGenerator,
    SigningKeyStore, StoredSigningKey, UnknownSigningAlgorithm,
};
pub use ports::user_repository::{RepositoryError, ResolveUserError, UserFilter, UserRepository};
pub use use_cases::code_grant::{
    CODE_LIFETIME_SECONDS, CodeGrant, IssueCodeError, OneTimeCode, RedeemCodeError,
};
pub use use_cases::current_user::{AuthenticationError, CurrentUser};
pub use use_cases::manage_users::{
    InvalidUserReference, LIST_PAGE_SIZE, ListUsersError, ManageUsers, ManageUsersError,
    UserReference, parse_user_id,
};
pub use use_cases::sign_in::{SignIn, SignInError, SignedIn};
pub use use_cases::signing_keys::{
    KEY_PICKUP_BOUND_SECONDS, KeyPolicy, KeyRing, KeyState, KeyStatus, SigningKeyError, SigningKeys,
};
pub use user::{
    Email, EmailError, Provider, Subject, SubjectError, UnknownProvider, User, UserId,
    VerifiedIdentity,
};

#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use ports::access_tokens::MockAccessTokens;
#[cfg(any(test, feature = "mocks"))]
pub use ports::identity_provider::MockIdentityProvider;
#[cfg(any(test, feature = "mocks"))]
pub use ports::sign_in_codes::MockSignInCodes;
#[cfg(any(test, feature = "mocks"))]
pub use ports::signing_keys::{MockSigningKeyGenerator, MockSigningKeyStore};
#[cfg(any(test, feature = "mocks"))]
pub use ports::user_repository::MockUserRepository;

#[cfg(test)]
mod test_support;
