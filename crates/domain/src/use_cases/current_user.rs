//! Acting as the current user: a presented access token names a user, and the store says
//! whether that user still exists and is active. Checked on every authenticated call, so a
//! deleted or disabled user's unexpired token stops working at once.

use crate::ports::access_tokens::{AccessTokens, TokenRejection};
use crate::ports::user_repository::{RepositoryError, UserRepository};
use crate::user::User;
use std::sync::Arc;
use thiserror::Error;

/// Why the caller is not (or no longer) an authenticated, active user.
#[derive(Debug, Error)]
pub enum AuthenticationError {
    /// The token is not one of ours, or has expired. 401.
    #[error(transparent)]
    InvalidToken(#[from] TokenRejection),
    /// The token is valid but its user no longer exists. 401.
    #[error("the token's user no longer exists")]
    UserNotFound,
    /// The user is inactive. 403 `account_disabled`.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The user store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The current-user use case.
#[derive(Clone)]
pub struct CurrentUser {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn AccessTokens>,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser").finish_non_exhaustive()
    }
}

impl CurrentUser {
    /// A current-user use case over these ports.
    #[must_use]
    pub fn new(users: Arc<dyn UserRepository>, tokens: Arc<dyn AccessTokens>) -> Self {
        Self { users, tokens }
    }

    /// The active user a presented access token belongs to.
    ///
    /// # Errors
    /// [`AuthenticationError`]: invalid token, user gone, user inactive, store failure.
    // Debug level: it runs on every authenticated request, and the request's own span (with its
    // id) already names every line logged inside it.
    #[tracing::instrument(name = "authenticate", level = "debug", skip_all)]
    pub async fn authenticate(&self, token: &str) -> Result<User, AuthenticationError> {
        let claims = self.tokens.verify(token)?;
        let user = self
            .users
            .find_by_id(claims.user_id)
            .await?
            .ok_or(AuthenticationError::UserNotFound)?;
        if !user.is_active {
            return Err(AuthenticationError::AccountDisabled);
        }
        Ok(user)
    }

    /// Deletes the active user a presented access token belongs to (right to erasure); the
    /// token stops working with the row.
    ///
    /// # Errors
    /// As [`Self::authenticate`]; [`AuthenticationError::UserNotFound`] if the user vanished
    /// between the check and the deletion.
    #[tracing::instrument(name = "delete_current_user", skip_all)]
    pub async fn delete(&self, token: &str) -> Result<(), AuthenticationError> {
        let user = self.authenticate(token).await?;
        if !self.users.delete(user.id).await? {
            return Err(AuthenticationError::UserNotFound);
        }
        tracing::info!(user_id = %user.id, "user deleted");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::access_tokens::{AccessTokenClaims, MockAccessTokens};
    use crate::ports::user_repository::MockUserRepository;
    use crate::test_support::active_user;
    use mockall::predicate::eq;

    fn tokens_accepting(user: &User) -> MockAccessTokens {
        let claims = AccessTokenClaims {
            user_id: user.id,
            token_id: "jti".into(),
            expires_at: 0,
        };
        let mut tokens = MockAccessTokens::new();
        tokens
            .expect_verify()
            .with(eq("good-token"))
            .returning(move |_| Ok(claims.clone()));
        tokens
    }

    fn current_user(users: MockUserRepository, tokens: MockAccessTokens) -> CurrentUser {
        CurrentUser::new(Arc::new(users), Arc::new(tokens))
    }

    #[tokio::test]
    async fn a_valid_token_of_an_active_user_authenticates() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let stored = user.clone();
        users
            .expect_find_by_id()
            .with(eq(user.id))
            .returning(move |_| Ok(Some(stored.clone())));
        let found = current_user(users, tokens_accepting(&user))
            .authenticate("good-token")
            .await
            .unwrap();
        assert_eq!(found, user);
    }

    #[tokio::test]
    async fn a_rejected_token_never_reaches_the_store() {
        let mut tokens = MockAccessTokens::new();
        tokens
            .expect_verify()
            .returning(|_| Err(TokenRejection::Expired));
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().never();
        let error = current_user(users, tokens)
            .authenticate("old")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                AuthenticationError::InvalidToken(TokenRejection::Expired)
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_token_of_a_deleted_user_is_refused() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(None));
        let error = current_user(users, tokens_accepting(&user))
            .authenticate("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AuthenticationError::UserNotFound),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_token_of_an_inactive_user_is_refused() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let inactive = User {
            is_active: false,
            ..user.clone()
        };
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(inactive.clone())));
        let error = current_user(users, tokens_accepting(&user))
            .authenticate("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AuthenticationError::AccountDisabled),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_store_failure_while_authenticating_is_reported() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_id()
            .returning(|_| Err(RepositoryError::Unexpected("corrupt".into())));
        let error = current_user(users, tokens_accepting(&user))
            .authenticate("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                AuthenticationError::Repository(RepositoryError::Unexpected(_))
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn deleting_removes_the_authenticated_user() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let stored = user.clone();
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(stored.clone())));
        users
            .expect_delete()
            .with(eq(user.id))
            .times(1)
            .returning(|_| Ok(true));
        current_user(users, tokens_accepting(&user))
            .delete("good-token")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn deleting_an_inactive_user_is_refused_and_deletes_nothing() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let inactive = User {
            is_active: false,
            ..user.clone()
        };
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(inactive.clone())));
        users.expect_delete().never();
        let error = current_user(users, tokens_accepting(&user))
            .delete("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AuthenticationError::AccountDisabled),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn deleting_a_user_that_vanished_meanwhile_is_reported_as_not_found() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let stored = user.clone();
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(stored.clone())));
        users.expect_delete().returning(|_| Ok(false));
        let error = current_user(users, tokens_accepting(&user))
            .delete("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(error, AuthenticationError::UserNotFound),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_store_failure_while_deleting_is_reported() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let stored = user.clone();
        users
            .expect_find_by_id()
            .returning(move |_| Ok(Some(stored.clone())));
        users
            .expect_delete()
            .returning(|_| Err(RepositoryError::Unavailable("read-only".into())));
        let error = current_user(users, tokens_accepting(&user))
            .delete("good-token")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                AuthenticationError::Repository(RepositoryError::Unavailable(_))
            ),
            "{error:?}"
        );
    }
}
