//! The use cases: every door of the server (HTTP today, anything else tomorrow) goes through
//! these, so the rules — resolution order, inactive users refused, tokens checked against the
//! store — live in one place.

pub mod code_grant;
pub mod current_user;
pub mod manage_users;
pub mod sign_in;
pub mod signing_keys;
