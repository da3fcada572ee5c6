//! The ports: what the domain needs from the outside world, as traits that adapters implement.
//! Each method's documentation is the contract an adapter must honour, errors included.

pub mod access_tokens;
pub mod identity_provider;
pub mod sign_in_codes;
pub mod signing_keys;
pub mod user_repository;
