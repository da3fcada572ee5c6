//! Fake identity providers on loopback, for zeropass's tests and for trying the whole sign-in
//! flow in a browser without a real Google account. Each provider runs its own actix-web server
//! on its own thread (so it works from sync tests and from `#[tokio::test]` alike), is driven
//! through a handle ([`FakeGoogle`]) that tests use to script misbehaviour, and stops when the
//! handle is dropped. The keys it signs with are public test keys: nothing here is secure, and
//! nothing here belongs in production.

mod failure;
pub mod google;
mod server;

pub use failure::Failure;
pub use google::{ClientAuth, Endpoint, FakeGoogle, FakeGoogleUser, TokenRequest};
