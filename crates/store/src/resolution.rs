//! The resolution rule of [`UserRepository::resolve_or_create`](zeropass_domain::UserRepository),
//! once for every backend: a pure decision over what the backend found for the identity — the
//! row of its `(provider, subject)` and whether another row of the provider holds its email.
//! Each backend reads those two facts inside its own atomic section (SQLite's write lock,
//! PostgreSQL's transaction), asks [`decide`], and carries out the answer.

use chrono::{DateTime, Utc};
use zeropass_domain::{User, VerifiedIdentity};

/// What to do with an identity, given what the store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The returning person, address unchanged: return the stored user, write nothing.
    Return(User),
    /// The returning person with a new address, free at the provider: store the new address
    /// and return the user as it is afterwards.
    UpdateEmail(User),
    /// The address belongs to another subject of the provider: change nothing.
    Conflict,
    /// A new person: store this user and return it.
    Insert(User),
}

/// The port's order: by subject first (an address change of the same person is an update,
/// unless the new address is another user's), then by address (another subject's: conflict),
/// else a new user created at `now`.
///
/// `email_taken_by_other` is whether a row of the provider other than `by_subject` holds the
/// identity's email.
pub(crate) fn decide(
    identity: &VerifiedIdentity,
    by_subject: Option<User>,
    email_taken_by_other: bool,
    now: DateTime<Utc>,
) -> Decision {
    match by_subject {
        Some(user) if user.email == identity.email => Decision::Return(user),
        Some(_) if email_taken_by_other => Decision::Conflict,
        Some(mut user) => {
            user.email = identity.email.clone();
            Decision::UpdateEmail(user)
        }
        None if email_taken_by_other => Decision::Conflict,
        None => Decision::Insert(User::new(identity.clone(), now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeropass_domain::{Email, Provider, Subject};

    fn identity(email: &str) -> VerifiedIdentity {
        VerifiedIdentity {
            provider: Provider::Google,
            subject: Subject::parse("sub-ada").unwrap(),
            email: Email::parse(email).unwrap(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    #[test]
    fn a_returning_person_with_the_same_address_is_returned_unchanged() {
        let stored = User::new(identity("ada@example.com"), now());
        let decision = decide(
            &identity("ada@example.com"),
            Some(stored.clone()),
            false,
            now(),
        );
        assert_eq!(decision, Decision::Return(stored));
    }

    #[test]
    fn a_returning_person_with_a_free_new_address_gets_it() {
        let stored = User::new(identity("ada@example.com"), now());
        let Decision::UpdateEmail(updated) = decide(
            &identity("ada@new.example"),
            Some(stored.clone()),
            false,
            now(),
        ) else {
            panic!("expected an email update");
        };
        assert_eq!(updated.id, stored.id);
        assert_eq!(updated.email.as_str(), "ada@new.example");
    }

    #[test]
    fn a_new_address_held_by_another_user_is_a_conflict() {
        let stored = User::new(identity("ada@example.com"), now());
        assert_eq!(
            decide(&identity("bob@example.com"), Some(stored), true, now()),
            Decision::Conflict
        );
    }

    #[test]
    fn an_unknown_subject_with_a_known_address_is_a_conflict() {
        assert_eq!(
            decide(&identity("ada@example.com"), None, true, now()),
            Decision::Conflict
        );
    }

    #[test]
    fn an_unknown_subject_with_a_free_address_is_a_new_active_user() {
        let Decision::Insert(user) = decide(&identity("ada@example.com"), None, false, now())
        else {
            panic!("expected an insert");
        };
        assert!(user.is_active);
        assert_eq!(user.created_at, now());
        assert_eq!(user.email.as_str(), "ada@example.com");
    }
}
