//! Black-box tests of the whole server: each test starts the real `zeropass` binary on a free
//! loopback port with a temporary database and drives it over HTTP, as a client would.
//! One test binary for the whole suite (each extra integration-test file is another link).
//! The PostgreSQL tests need a server (`bash .ci/postgres.sh`); without one they say so once
//! and pass, unless `ZEROPASS_REQUIRE_POSTGRES=1` (as in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod codes;
mod database;
mod docs;
mod downstream;
mod errors;
mod facebook;
mod faults;
mod flows;
mod google;
mod harness;
mod health;
mod instances;
mod keys;
mod lifecycle;
mod operator;
mod postgres_faults;
mod protection;
mod proxy;
mod startup;
mod users;
