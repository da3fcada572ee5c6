//! The values that describe a person who signed in. Each is parsed once at the edge
//! (`Email::parse`, `Provider::from_str`, `Subject::parse`), so a value of the type is valid by
//! construction and nothing downstream checks it again.

mod email;
#[cfg(test)]
mod email_props;
mod provider;
mod subject;

pub use email::{Email, EmailError};
pub use provider::{Provider, UnknownProvider};
pub use subject::{Subject, SubjectError};

use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// A user's id: a random (version 4) UUID, the `sub` of every access token zeropass issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(Uuid);

impl UserId {
    /// A fresh random id for a new user.
    #[must_use]
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps an id read back from storage or from a verified token.
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID behind the id.
    #[must_use]
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an identity provider vouched for after a successful sign-in: the provider, its opaque
/// and stable subject for the person, and the (verified) email it reports today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider that vouched.
    pub provider: Provider,
    /// The provider's stable id for the person (Google `sub`, Facebook app-scoped id).
    pub subject: Subject,
    /// The email the provider reports now (it may change over time; the subject does not).
    pub email: Email,
}

/// A person known to zeropass: the least data needed to recognise them again.
///
/// The `subject` is kept to recognise the person when their email changes; it is never shown
/// outside the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Random, stable id.
    pub id: UserId,
    /// Email last reported by the provider.
    pub email: Email,
    /// The provider the user signs in with; one user per `(email, provider)`.
    pub provider: Provider,
    /// The provider's opaque subject; unique per provider.
    pub subject: Subject,
    /// An inactive user is refused at sign-in and on every authenticated call.
    pub is_active: bool,
    /// When the user first signed in (UTC, whole seconds).
    pub created_at: DateTime<Utc>,
}

impl User {
    /// A new, active user for an identity seen for the first time, created now.
    #[must_use]
    pub fn new(identity: VerifiedIdentity, now: DateTime<Utc>) -> Self {
        let created_at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        Self {
            id: UserId::new_random(),
            email: identity.email,
            provider: identity.provider,
            subject: identity.subject,
            is_active: true,
            created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_user_is_active_with_a_v4_id_and_whole_seconds() {
        let identity = VerifiedIdentity {
            provider: Provider::Google,
            subject: Subject::parse("1234").unwrap(),
            email: Email::parse("a@b.co").unwrap(),
        };
        let now = DateTime::parse_from_rfc3339("2026-11-24T10:00:00.750Z")
            .unwrap()
            .to_utc();
        let user = User::new(identity, now);
        assert!(user.is_active);
        assert_eq!(user.id.as_uuid().get_version_num(), 4);
        assert_eq!(user.created_at.to_rfc3339(), "2026-11-24T10:00:00+00:00");
    }

    #[test]
    fn two_new_users_get_different_ids() {
        assert_ne!(UserId::new_random(), UserId::new_random());
    }
}
