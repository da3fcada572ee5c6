//! Fixtures shared by the use-case tests.

use crate::user::{Email, Provider, Subject, User, UserId, VerifiedIdentity};
use chrono::DateTime;
use uuid::Uuid;

pub fn identity() -> VerifiedIdentity {
    VerifiedIdentity {
        provider: Provider::Google,
        subject: Subject::parse("google-sub-1").unwrap(),
        email: Email::parse("ada@example.com").unwrap(),
    }
}

pub fn active_user() -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef)),
        email: Email::parse("ada@example.com").unwrap(),
        provider: Provider::Google,
        subject: Subject::parse("google-sub-1").unwrap(),
        is_active: true,
        created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
    }
}
