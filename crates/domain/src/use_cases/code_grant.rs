//! One-time codes for apps (OAuth 2.0 authorization code with PKCE, RFC 7636, seen from the
//! client app's side): instead of handing an access token to whatever app catches the
//! redirect (RFC 8252 §8.1), the browser flow ends with a short-lived code bound to the app's
//! PKCE challenge, and only the app that holds the verifier can turn it into a token.
//!
//! Issuing draws 256 bits from the operating system, stores only their SHA-256 (with the user,
//! the challenge and the expiry) and sweeps a bounded batch of expired codes. Redeeming takes
//! the code out of the store first — so whatever follows, it cannot be used again — then
//! checks its age and the verifier, re-reads the user (gone or disabled since: refused), and
//! only then issues the access token. Tokens are never stored.

use crate::clock::Clock;
use crate::error::BoxError;
use crate::ports::access_tokens::{AccessTokens, IssueTokenError};
use crate::ports::sign_in_codes::{CodeChallenge, CodeHash, SignInCodes, StoredSignInCode};
use crate::ports::user_repository::{RepositoryError, UserRepository};
use crate::use_cases::sign_in::SignedIn;
use crate::user::User;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;
use thiserror::Error;

/// How long a code may be redeemed after it was issued, in seconds.
pub const CODE_LIFETIME_SECONDS: i64 = 60;

/// Most expired codes deleted on each issue. Each issue adds one code and may remove this
/// many, so expired codes cannot pile up, and no issue waits on a long delete.
pub const EXPIRED_CODES_SWEPT_PER_ISSUE: u32 = 100;

/// A freshly issued one-time code: 32 random bytes as 43 characters of unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// The code, to send to the client app (once).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Redacted: a live code is a credential for a minute.
impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode(..)")
    }
}

/// Why no code could be issued.
#[derive(Debug, Error)]
pub enum IssueCodeError {
    /// The operating system gave no randomness. A 500.
    #[error("no randomness from the operating system")]
    NoRandomness(#[source] BoxError),
    /// The code store failed; nothing was issued.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Why a code was not exchanged for a token. In every case the code can no longer be used.
#[derive(Debug, Error)]
pub enum RedeemCodeError {
    /// Unknown, already used or expired code, a verifier that does not meet the challenge, or
    /// a user who no longer exists: RFC 6749's `invalid_grant`. The reason is for the log.
    #[error("the code was refused: {0}")]
    InvalidGrant(&'static str),
    /// The user has been disabled since the code was issued. 403 `account_disabled`.
    #[error("the account is disabled")]
    AccountDisabled,
    /// A store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The token could not be issued.
    #[error(transparent)]
    Token(#[from] IssueTokenError),
}

/// The one-time code use case.
#[derive(Clone)]
pub struct CodeGrant {
    codes: Arc<dyn SignInCodes>,
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn AccessTokens>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CodeGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeGrant").finish_non_exhaustive()
    }
}

impl CodeGrant {
    /// A code grant over these ports, reading the time from `clock`.
    #[must_use]
    pub fn new(
        codes: Arc<dyn SignInCodes>,
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn AccessTokens>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            codes,
            users,
            tokens,
            clock,
        }
    }

    /// Issues a code for a user who has just signed in (the caller checked they are active),
    /// bound to the client app's challenge and valid for [`CODE_LIFETIME_SECONDS`]; then
    /// deletes up to [`EXPIRED_CODES_SWEPT_PER_ISSUE`] expired codes (a failure there is
    /// logged, not reported: the code is issued).
    ///
    /// # Errors
    /// [`IssueCodeError`] when no randomness is available or the store fails.
    #[tracing::instrument(name = "codes.issue", skip_all, fields(user_id = %user.id))]
    pub async fn issue(
        &self,
        user: &User,
        challenge: CodeChallenge,
    ) -> Result<OneTimeCode, IssueCodeError> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|error| IssueCodeError::NoRandomness(error.to_string().into()))?;
        let code = OneTimeCode(URL_SAFE_NO_PAD.encode(bytes));
        let now = self.clock.now().timestamp();
        self.codes
            .store(&StoredSignInCode {
                hash: CodeHash::of(code.as_str()),
                user_id: user.id,
                challenge,
                expires_at: now + CODE_LIFETIME_SECONDS,
            })
            .await?;
        match self
            .codes
            .delete_expired(now, EXPIRED_CODES_SWEPT_PER_ISSUE)
            .await
        {
            Ok(swept) => tracing::debug!(swept, "expired codes deleted"),
            Err(error) => tracing::warn!(%error, "expired codes could not be deleted"),
        }
        tracing::info!("sign-in code issued");
        Ok(code)
    }

    /// Exchanges a code and the client's PKCE verifier for an access token. The code is
    /// removed from the store before anything is checked, so it is spent whatever the outcome.
    ///
    /// # Errors
    /// [`RedeemCodeError::InvalidGrant`] for an unknown, used or expired code, a verifier that
    /// does not meet the challenge, or a user who no longer exists;
    /// [`RedeemCodeError::AccountDisabled`] for a disabled user; store and token failures.
    #[tracing::instrument(name = "codes.redeem", skip_all)]
    pub async fn redeem(&self, code: &str, verifier: &str) -> Result<SignedIn, RedeemCodeError> {
        let stored =
            self.codes
                .take(&CodeHash::of(code))
                .await?
                .ok_or(RedeemCodeError::InvalidGrant(
                    "unknown or already used code",
                ))?;
        if self.clock.now().timestamp() >= stored.expires_at {
            return Err(RedeemCodeError::InvalidGrant("expired code"));
        }
        if !stored.challenge.is_met_by(verifier) {
            return Err(RedeemCodeError::InvalidGrant(
                "the code_verifier does not meet the code_challenge",
            ));
        }
        let user =
            self.users
                .find_by_id(stored.user_id)
                .await?
                .ok_or(RedeemCodeError::InvalidGrant(
                    "the code's user no longer exists",
                ))?;
        if !user.is_active {
            tracing::info!(user_id = %user.id, "code refused: account disabled");
            return Err(RedeemCodeError::AccountDisabled);
        }
        let token = self.tokens.issue(&user)?;
        tracing::info!(user_id = %user.id, "code redeemed");
        Ok(SignedIn { user, token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MockClock;
    use crate::ports::access_tokens::{IssuedToken, MockAccessTokens};
    use crate::ports::sign_in_codes::MockSignInCodes;
    use crate::ports::user_repository::MockUserRepository;
    use crate::test_support::active_user;
    use chrono::DateTime;
    use mockall::predicate::{always, eq};
    use std::sync::Mutex;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const ISSUED_AT: i64 = 1_800_000_000;

    fn challenge() -> CodeChallenge {
        CodeChallenge::parse_s256(CHALLENGE).unwrap()
    }

    fn clock_at(seconds: i64) -> MockClock {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(move || DateTime::from_timestamp(seconds, 0).unwrap());
        clock
    }

    fn stored(code: &str) -> StoredSignInCode {
        StoredSignInCode {
            hash: CodeHash::of(code),
            user_id: active_user().id,
            challenge: challenge(),
            expires_at: ISSUED_AT + CODE_LIFETIME_SECONDS,
        }
    }

    /// A store holding one code, handed out once (as the port requires).
    fn store_holding(code: &str) -> MockSignInCodes {
        let mut codes = MockSignInCodes::new();
        let held = Mutex::new(Some(stored(code)));
        codes.expect_take().returning(move |hash| {
            let mut held = held.lock().unwrap();
            if held.as_ref().is_some_and(|stored| stored.hash == *hash) {
                Ok(held.take())
            } else {
                Ok(None)
            }
        });
        codes
    }

    fn users_with(user: Option<User>) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users
            .expect_find_by_id()
            .returning(move |_| Ok(user.clone()));
        users
    }

    fn tokens_issuing(times: usize) -> MockAccessTokens {
        let mut tokens = MockAccessTokens::new();
        tokens.expect_issue().times(times).returning(|_| {
            Ok(IssuedToken {
                token: "header.claims.signature".into(),
                expires_in: 3600,
            })
        });
        tokens
    }

    fn grant(
        codes: MockSignInCodes,
        users: MockUserRepository,
        tokens: MockAccessTokens,
        now: i64,
    ) -> CodeGrant {
        CodeGrant::new(
            Arc::new(codes),
            Arc::new(users),
            Arc::new(tokens),
            Arc::new(clock_at(now)),
        )
    }

    fn refusal(result: Result<SignedIn, RedeemCodeError>) -> RedeemCodeError {
        result.expect_err("the code was accepted")
    }

    #[tokio::test]
    async fn an_issued_code_is_random_stored_only_as_its_hash_and_expired_codes_are_swept() {
        let stored_codes = Arc::new(Mutex::new(Vec::new()));
        let mut codes = MockSignInCodes::new();
        let sink = Arc::clone(&stored_codes);
        codes.expect_store().times(2).returning(move |code| {
            sink.lock().unwrap().push(code.clone());
            Ok(())
        });
        codes
            .expect_delete_expired()
            .with(eq(ISSUED_AT), eq(EXPIRED_CODES_SWEPT_PER_ISSUE))
            .times(2)
            .returning(|_, _| Ok(3));
        let grant = grant(
            codes,
            MockUserRepository::new(),
            MockAccessTokens::new(),
            ISSUED_AT,
        );
        let first = grant.issue(&active_user(), challenge()).await.unwrap();
        let second = grant.issue(&active_user(), challenge()).await.unwrap();
        assert_ne!(first, second);
        assert_eq!(first.as_str().len(), 43);
        assert_eq!(format!("{first:?}"), "OneTimeCode(..)");
        let stored_codes = stored_codes.lock().unwrap();
        assert_eq!(
            stored_codes[0],
            StoredSignInCode {
                hash: CodeHash::of(first.as_str()),
                user_id: active_user().id,
                challenge: challenge(),
                expires_at: ISSUED_AT + 60,
            }
        );
    }

    #[tokio::test]
    async fn a_failed_sweep_does_not_stop_the_code() {
        let mut codes = MockSignInCodes::new();
        codes.expect_store().returning(|_| Ok(()));
        codes
            .expect_delete_expired()
            .returning(|_, _| Err(RepositoryError::Unavailable("locked".into())));
        let grant = grant(
            codes,
            MockUserRepository::new(),
            MockAccessTokens::new(),
            ISSUED_AT,
        );
        assert!(grant.issue(&active_user(), challenge()).await.is_ok());
    }

    #[tokio::test]
    async fn a_store_failure_issues_no_code() {
        let mut codes = MockSignInCodes::new();
        codes
            .expect_store()
            .returning(|_| Err(RepositoryError::Unavailable("locked".into())));
        codes.expect_delete_expired().never();
        let grant = grant(
            codes,
            MockUserRepository::new(),
            MockAccessTokens::new(),
            ISSUED_AT,
        );
        let error = grant.issue(&active_user(), challenge()).await.unwrap_err();
        assert!(
            matches!(
                error,
                IssueCodeError::Repository(RepositoryError::Unavailable(_))
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_fresh_code_with_its_verifier_gives_a_token_for_the_current_user() {
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(active_user())),
            tokens_issuing(1),
            ISSUED_AT + CODE_LIFETIME_SECONDS - 1,
        );
        let signed_in = grant.redeem("the-code", VERIFIER).await.unwrap();
        assert_eq!(signed_in.user, active_user());
        assert_eq!(signed_in.token.token, "header.claims.signature");
    }

    #[tokio::test]
    async fn a_replayed_code_is_refused() {
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(active_user())),
            tokens_issuing(1),
            ISSUED_AT,
        );
        assert!(grant.redeem("the-code", VERIFIER).await.is_ok());
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(error, RedeemCodeError::InvalidGrant(_)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_unknown_code_is_refused() {
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(active_user())),
            tokens_issuing(0),
            ISSUED_AT,
        );
        let error = refusal(grant.redeem("another-code", VERIFIER).await);
        assert!(
            matches!(error, RedeemCodeError::InvalidGrant(_)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_code_is_refused_from_its_sixtieth_second_and_is_spent() {
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(active_user())),
            tokens_issuing(0),
            ISSUED_AT + CODE_LIFETIME_SECONDS,
        );
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(error, RedeemCodeError::InvalidGrant("expired code")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_wrong_verifier_is_refused_and_burns_the_code() {
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(active_user())),
            tokens_issuing(0),
            ISSUED_AT,
        );
        let wrong = "A".repeat(43);
        let error = refusal(grant.redeem("the-code", &wrong).await);
        assert!(
            matches!(error, RedeemCodeError::InvalidGrant(_)),
            "{error:?}"
        );
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(
                error,
                RedeemCodeError::InvalidGrant("unknown or already used code")
            ),
            "the right verifier must not revive a burnt code: {error:?}"
        );
    }

    #[tokio::test]
    async fn a_user_disabled_since_the_code_was_issued_gets_no_token() {
        let inactive = User {
            is_active: false,
            ..active_user()
        };
        let grant = grant(
            store_holding("the-code"),
            users_with(Some(inactive)),
            tokens_issuing(0),
            ISSUED_AT,
        );
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(error, RedeemCodeError::AccountDisabled),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_user_deleted_since_the_code_was_issued_gets_no_token() {
        let grant = grant(
            store_holding("the-code"),
            users_with(None),
            tokens_issuing(0),
            ISSUED_AT,
        );
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(error, RedeemCodeError::InvalidGrant(_)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_store_failure_while_taking_is_reported() {
        let mut codes = MockSignInCodes::new();
        codes
            .expect_take()
            .with(always())
            .returning(|_| Err(RepositoryError::Unavailable("locked".into())));
        let grant = grant(
            codes,
            MockUserRepository::new(),
            tokens_issuing(0),
            ISSUED_AT,
        );
        let error = refusal(grant.redeem("the-code", VERIFIER).await);
        assert!(
            matches!(
                error,
                RedeemCodeError::Repository(RepositoryError::Unavailable(_))
            ),
            "{error:?}"
        );
    }
}
