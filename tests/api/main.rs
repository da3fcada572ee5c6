//! Black-box tests of the whole server: each test starts the real `zeropass` binary on a free
//! loopback port with a temporary database and drives it over HTTP, as a client would.
//! One test binary for the whole suite (each extra integration-test file is another link).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod codes;
mod docs;
mod errors;
mod facebook;
mod faults;
mod flows;
mod google;
mod harness;
mod health;
mod lifecycle;
mod operator;
mod protection;
mod startup;
mod users;
