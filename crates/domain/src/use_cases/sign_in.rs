//! Signing in: a provider vouches for an identity, the identity resolves to a user, an active
//! user gets an access token.

use crate::ports::access_tokens::{AccessTokens, IssueTokenError, IssuedToken};
use crate::ports::identity_provider::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential,
};
use crate::ports::user_repository::{RepositoryError, ResolveUserError, UserRepository};
use crate::user::{User, VerifiedIdentity};
use std::sync::Arc;
use thiserror::Error;

/// A successful sign-in: the user and the token issued to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The signed-in user, as stored.
    pub user: User,
    /// Their new access token.
    pub token: IssuedToken,
}

/// Why a sign-in failed. No user is created and no token issued in any of these cases.
#[derive(Debug, Error)]
pub enum SignInError {
    /// The provider did not vouch for anyone.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The email belongs to another account of the same provider. 409 `identity_conflict`.
    #[error("the identity conflicts with another account")]
    IdentityConflict,
    /// The user exists but is inactive. 403 `account_disabled`.
    #[error("the account is disabled")]
    AccountDisabled,
    /// The user store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The token could not be issued.
    #[error(transparent)]
    Token(#[from] IssueTokenError),
}

impl From<ResolveUserError> for SignInError {
    fn from(error: ResolveUserError) -> Self {
        match error {
            ResolveUserError::IdentityConflict => Self::IdentityConflict,
            ResolveUserError::Repository(error) => Self::Repository(error),
        }
    }
}

/// The sign-in use case.
#[derive(Clone)]
pub struct SignIn {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn AccessTokens>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").finish_non_exhaustive()
    }
}

impl SignIn {
    /// A sign-in use case over these ports.
    #[must_use]
    pub fn new(users: Arc<dyn UserRepository>, tokens: Arc<dyn AccessTokens>) -> Self {
        Self { users, tokens }
    }

    /// Signs in the identity a provider vouched for: resolves (or creates) the user, refuses
    /// an inactive one, and issues a token.
    ///
    /// # Errors
    /// [`SignInError::IdentityConflict`], [`SignInError::AccountDisabled`],
    /// [`SignInError::Repository`], [`SignInError::Token`].
    #[tracing::instrument(name = "sign_in", skip_all, fields(provider = %identity.provider))]
    pub async fn with_identity(&self, identity: VerifiedIdentity) -> Result<SignedIn, SignInError> {
        let user = self.active_user(&identity).await?;
        let token = self.tokens.issue(&user)?;
        tracing::info!(user_id = %user.id, "signed in");
        Ok(SignedIn { user, token })
    }

    /// The identity's user, resolved (or created) and refused when inactive.
    async fn active_user(&self, identity: &VerifiedIdentity) -> Result<User, SignInError> {
        let user = self.users.resolve_or_create(identity).await?;
        if !user.is_active {
            tracing::info!(user_id = %user.id, "sign-in refused: account disabled");
            return Err(SignInError::AccountDisabled);
        }
        Ok(user)
    }

    /// Signs in with a credential a native app obtained from the provider.
    ///
    /// # Errors
    /// [`SignInError::Identity`] when the provider does not vouch, then as [`Self::with_identity`].
    pub async fn with_native_credential(
        &self,
        provider: &dyn IdentityProvider,
        credential: &NativeCredential,
    ) -> Result<SignedIn, SignInError> {
        let identity = provider.verify_native_credential(credential).await?;
        self.with_identity(identity).await
    }

    /// Completes a browser flow (whose `state` the caller checked) and signs the person in.
    ///
    /// # Errors
    /// [`SignInError::Identity`] when the provider does not vouch, then as [`Self::with_identity`].
    pub async fn with_authorization_code(
        &self,
        provider: &dyn IdentityProvider,
        code: &str,
        flow: &AuthorizationFlow,
    ) -> Result<SignedIn, SignInError> {
        let identity = provider.complete_authorization(code, flow).await?;
        self.with_identity(identity).await
    }

    /// Completes a browser flow (whose `state` the caller checked) and returns the signed-in,
    /// active user without issuing a token: for a flow that ends with a one-time code, the
    /// token is issued when the code is redeemed.
    ///
    /// # Errors
    /// As [`Self::with_authorization_code`], [`SignInError::Token`] excepted.
    #[tracing::instrument(name = "sign_in", skip_all, fields(provider = %provider.provider()))]
    pub async fn user_for_authorization_code(
        &self,
        provider: &dyn IdentityProvider,
        code: &str,
        flow: &AuthorizationFlow,
    ) -> Result<User, SignInError> {
        let identity = provider.complete_authorization(code, flow).await?;
        let user = self.active_user(&identity).await?;
        tracing::info!(user_id = %user.id, "signed in, token deferred to the code");
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::access_tokens::MockAccessTokens;
    use crate::ports::identity_provider::MockIdentityProvider;
    use crate::ports::user_repository::MockUserRepository;
    use crate::test_support::{active_user, identity};
    use crate::user::Provider;
    use mockall::predicate::eq;

    fn issued() -> IssuedToken {
        IssuedToken {
            token: "header.claims.signature".into(),
            expires_in: 3600,
        }
    }

    fn sign_in(users: MockUserRepository, tokens: MockAccessTokens) -> SignIn {
        SignIn::new(Arc::new(users), Arc::new(tokens))
    }

    #[tokio::test]
    async fn an_active_user_gets_a_token() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let returned = user.clone();
        users
            .expect_resolve_or_create()
            .with(eq(identity()))
            .times(1)
            .returning(move |_| Ok(returned.clone()));
        let mut tokens = MockAccessTokens::new();
        tokens
            .expect_issue()
            .with(eq(user.clone()))
            .times(1)
            .returning(|_| Ok(issued()));

        let signed_in = sign_in(users, tokens)
            .with_identity(identity())
            .await
            .unwrap();
        assert_eq!(
            signed_in,
            SignedIn {
                user,
                token: issued()
            }
        );
    }

    #[tokio::test]
    async fn an_inactive_user_is_refused_and_gets_no_token() {
        let mut users = MockUserRepository::new();
        users.expect_resolve_or_create().returning(|_| {
            Ok(User {
                is_active: false,
                ..active_user()
            })
        });
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().never();

        let error = sign_in(users, tokens)
            .with_identity(identity())
            .await
            .unwrap_err();
        assert!(matches!(error, SignInError::AccountDisabled), "{error:?}");
    }

    #[tokio::test]
    async fn an_identity_conflict_is_reported_and_no_token_issued() {
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .returning(|_| Err(ResolveUserError::IdentityConflict));
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().never();

        let error = sign_in(users, tokens)
            .with_identity(identity())
            .await
            .unwrap_err();
        assert!(matches!(error, SignInError::IdentityConflict), "{error:?}");
    }

    #[tokio::test]
    async fn a_store_failure_is_reported_and_no_token_issued() {
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .returning(|_| Err(RepositoryError::Unavailable("locked".into()).into()));
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().never();

        let error = sign_in(users, tokens)
            .with_identity(identity())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                SignInError::Repository(RepositoryError::Unavailable(_))
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_token_failure_is_reported() {
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .returning(|_| Ok(active_user()));
        let mut tokens = MockAccessTokens::new();
        tokens
            .expect_issue()
            .returning(|_| Err(IssueTokenError("broken key".into())));

        let error = sign_in(users, tokens)
            .with_identity(identity())
            .await
            .unwrap_err();
        assert!(matches!(error, SignInError::Token(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_native_credential_the_provider_vouches_for_signs_in() {
        let mut provider = MockIdentityProvider::new();
        let credential = NativeCredential {
            token: "id-token".into(),
            nonce: Some("n".into()),
        };
        provider
            .expect_verify_native_credential()
            .with(eq(credential.clone()))
            .times(1)
            .returning(|_| Ok(identity()));
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .with(eq(identity()))
            .returning(|_| Ok(active_user()));
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().returning(|_| Ok(issued()));

        let signed_in = sign_in(users, tokens)
            .with_native_credential(&provider, &credential)
            .await
            .unwrap();
        assert_eq!(signed_in.user, active_user());
    }

    #[tokio::test]
    async fn a_refused_native_credential_touches_neither_store_nor_tokens() {
        let mut provider = MockIdentityProvider::new();
        provider
            .expect_verify_native_credential()
            .returning(|_| Err(IdentityError::EmailNotVerified));
        let mut users = MockUserRepository::new();
        users.expect_resolve_or_create().never();
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().never();

        let credential = NativeCredential {
            token: "t".into(),
            nonce: None,
        };
        let error = sign_in(users, tokens)
            .with_native_credential(&provider, &credential)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                SignInError::Identity(IdentityError::EmailNotVerified)
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_authorization_code_is_completed_with_the_flow_then_signs_in() {
        let flow = AuthorizationFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            callback_url: "http://127.0.0.1:8080/auth/google/callback".into(),
        };
        let mut provider = MockIdentityProvider::new();
        provider
            .expect_complete_authorization()
            .with(eq("the-code"), eq(flow.clone()))
            .times(1)
            .returning(|_, _| Ok(identity()));
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .returning(|_| Ok(active_user()));
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().returning(|_| Ok(issued()));

        let signed_in = sign_in(users, tokens)
            .with_authorization_code(&provider, "the-code", &flow)
            .await
            .unwrap();
        assert_eq!(signed_in.token, issued());
    }

    #[tokio::test]
    async fn a_code_flow_sign_in_returns_the_active_user_and_issues_no_token() {
        let mut provider = MockIdentityProvider::new();
        provider.expect_provider().return_const(Provider::Google);
        provider
            .expect_complete_authorization()
            .times(1)
            .returning(|_, _| Ok(identity()));
        let mut users = MockUserRepository::new();
        users
            .expect_resolve_or_create()
            .returning(|_| Ok(active_user()));
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().never();
        let user = sign_in(users, tokens)
            .user_for_authorization_code(&provider, "the-code", &flow())
            .await
            .unwrap();
        assert_eq!(user, active_user());
    }

    #[tokio::test]
    async fn a_code_flow_sign_in_of_an_inactive_user_is_refused() {
        let mut provider = MockIdentityProvider::new();
        provider.expect_provider().return_const(Provider::Google);
        provider
            .expect_complete_authorization()
            .returning(|_, _| Ok(identity()));
        let mut users = MockUserRepository::new();
        users.expect_resolve_or_create().returning(|_| {
            Ok(User {
                is_active: false,
                ..active_user()
            })
        });
        let error = sign_in(users, MockAccessTokens::new())
            .user_for_authorization_code(&provider, "the-code", &flow())
            .await
            .unwrap_err();
        assert!(matches!(error, SignInError::AccountDisabled), "{error:?}");
    }

    fn flow() -> AuthorizationFlow {
        AuthorizationFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            callback_url: "c".into(),
        }
    }

    #[tokio::test]
    async fn a_refused_authorization_code_is_reported() {
        let mut provider = MockIdentityProvider::new();
        provider
            .expect_complete_authorization()
            .returning(|_, _| Err(IdentityError::Unavailable("timeout".into())));
        let mut users = MockUserRepository::new();
        users.expect_resolve_or_create().never();
        let flow = AuthorizationFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            callback_url: "c".into(),
        };
        let error = sign_in(users, MockAccessTokens::new())
            .with_authorization_code(&provider, "c", &flow)
            .await
            .unwrap_err();
        assert!(
            matches!(error, SignInError::Identity(IdentityError::Unavailable(_))),
            "{error:?}"
        );
    }
}
