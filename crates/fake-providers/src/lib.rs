//! Fake identity providers on loopback, for zeropass's tests and for trying the whole sign-in
//! flow in a browser without a real Google or Facebook account. Each provider runs its own
//! actix-web server on its own thread (so it works from sync tests and from `#[tokio::test]`
//! alike), is driven through a handle ([`FakeGoogle`], [`FakeFacebook`]) that tests use to script
//! misbehaviour, and stops when the handle is dropped. The keys and secrets they use are public
//! test values: nothing here is secure, and nothing here belongs in production.

pub mod facebook;
mod failure;
pub mod google;
mod instructions;
mod random;
mod server;

pub use facebook::{CodeExchange, FacebookEndpoint, FakeFacebook, FakeFacebookUser};
pub use failure::Failure;
pub use google::{ClientAuth, Endpoint, FakeGoogle, FakeGoogleUser, TokenRequest};
pub use instructions::{instructions, zeropass_environment};
