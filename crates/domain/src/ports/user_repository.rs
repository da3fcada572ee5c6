//! The `UserRepository` port: where users are kept.

use crate::error::BoxError;
use crate::user::{Email, Provider, User, UserId, VerifiedIdentity};
use async_trait::async_trait;
use thiserror::Error;

/// The store could not do what was asked, for reasons that have nothing to do with the data.
#[derive(Debug, Error)]
pub enum RepositoryError {
    /// The store is there but cannot serve now (locked, read-only, out of connections); the
    /// caller may retry later. Maps to 503 `database_unavailable`.
    #[error("the user store is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or a corrupt store. Maps to an opaque 500.
    #[error("unexpected user store failure")]
    Unexpected(#[source] BoxError),
}

/// Why an identity could not be resolved to a user.
#[derive(Debug, Error)]
pub enum ResolveUserError {
    /// A user with the identity's `(email, provider)` exists with another subject: the email
    /// now belongs to someone else at that provider (or was recycled). Nothing was changed.
    #[error("the email is already taken by another account of this provider")]
    IdentityConflict,
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Which users a listing returns: every user matching all the filters that are set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only the users of this provider.
    pub provider: Option<Provider>,
    /// Only the users with exactly this (lower-cased) email.
    pub email: Option<Email>,
}

/// Persistence of users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Finds a user by id, whether active or not.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails; a missing user is `Ok(None)`.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepositoryError>;

    /// Returns the user for a verified identity, creating it on first sign-in, atomically:
    ///
    /// 1. by `(provider, subject)`: found → that user; if the identity's email differs from the
    ///    stored one, the stored email is updated (unless another user of the provider holds
    ///    that email: [`ResolveUserError::IdentityConflict`], nothing changed);
    /// 2. else by `(email, provider)`: found (it has another subject) →
    ///    [`ResolveUserError::IdentityConflict`], nothing changed;
    /// 3. else a new active user ([`User::new`]) is stored and returned.
    ///
    /// Concurrent calls for the same new identity, from any number of tasks or processes
    /// sharing the store, create exactly one user and all return it.
    ///
    /// # Errors
    /// [`ResolveUserError::IdentityConflict`] as above; [`ResolveUserError::Repository`] when
    /// the store fails, in which case nothing was written.
    async fn resolve_or_create(
        &self,
        identity: &VerifiedIdentity,
    ) -> Result<User, ResolveUserError>;

    /// Deletes a user (right to erasure). Returns whether a user was deleted.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails; nothing was deleted then.
    async fn delete(&self, id: UserId) -> Result<bool, RepositoryError>;

    /// One page of the users matching `filter`, in ascending id order (the byte order of the
    /// UUID, as [`UserId`]'s `Ord`), starting strictly after `after` (from the first user when
    /// `None`), at most `limit` users. A caller walks every user by passing the last id of each
    /// page as the next `after` (keyset pagination): each page costs the same whatever its
    /// position, and no page is held open between calls, so users created or deleted meanwhile
    /// never make the walk skip or repeat the others. A page shorter than `limit` is the last.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails.
    async fn list_page(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, RepositoryError>;

    /// Sets a user's `is_active`, durably, so that every process sharing the store sees it at
    /// its next read (no cache may keep the old value). Returns the user as stored afterwards,
    /// or `None` when there is no such user (nothing changed then). Setting the value a user
    /// already has is not an error.
    ///
    /// # Errors
    /// [`RepositoryError`] when the store fails; nothing was changed then.
    async fn set_active(&self, id: UserId, active: bool) -> Result<Option<User>, RepositoryError>;

    /// Checks that the store answers a trivial query (for `/health`).
    ///
    /// # Errors
    /// [`RepositoryError`] when it does not.
    async fn ping(&self) -> Result<(), RepositoryError>;
}
