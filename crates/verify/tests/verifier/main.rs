//! Black-box tests of `zeropass-verify`: real ES256 and EdDSA keys generated per test, a fake
//! JWKS server on loopback, and a manual clock instead of sleeps. One test binary (each
//! integration-test file would be another binary to link).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod caching;
mod fetching;
mod logging;
mod verification;

#[cfg(feature = "actix")]
mod actix_extractor;
#[cfg(feature = "tower")]
mod tower_layer;
