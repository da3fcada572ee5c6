//! [`FacebookIdentityProvider`]: the `IdentityProvider` port for Facebook Login, tying together
//! the login dialog, the code exchange, the `/debug_token` check and the `/me` read, under one
//! deadline per operation so that a sign-in never waits on Facebook for more than
//! [`TOTAL_TIMEOUT`](crate::TOTAL_TIMEOUT). Both doors end the same way: a user access token
//! (from the exchange, or posted by a native app) is first checked, then read.

use crate::config::{FacebookConfig, FacebookSetupError, Tuning, dialog, graph_base};
use crate::graph::Graph;
use crate::inspect::{self, AppCredentials};
use crate::proof::appsecret_proof;
use crate::{dialog as login_dialog, exchange, pkce, profile};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;
use zeropass_domain::{
    AuthorizationFlow, IdentityError, IdentityProvider, NativeCredential, Provider,
    VerifiedIdentity,
};
use zeropass_outbound_http::unavailable_because;

/// Longest user access token looked at, in bytes (Facebook's are a few hundred).
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Facebook as an identity provider. Cheap to clone (the state is shared); usually held as
/// `Arc<dyn IdentityProvider>`.
#[derive(Clone)]
pub struct FacebookIdentityProvider {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    app_secret: SecretString,
    /// `{app_id}|{app_secret}`: authenticates `/debug_token`.
    app_access_token: SecretString,
    /// The `appsecret_proof` of the app access token.
    app_proof: SecretString,
    dialog: Url,
    graph: Graph,
    /// Whether the browser flow uses PKCE (`FACEBOOK_PKCE`).
    pkce: bool,
    deadline: Duration,
}

/// Redacted: shows what is configured, never the secret or the app access token.
impl fmt::Debug for FacebookIdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacebookIdentityProvider")
            .field("app_id", &self.inner.app_id)
            .field("dialog", &self.inner.dialog.as_str())
            .field("pkce", &self.inner.pkce)
            .field("graph", &self.inner.graph)
            .finish_non_exhaustive()
    }
}

impl FacebookIdentityProvider {
    /// Builds the adapter and its HTTP client. Performs no network I/O: Facebook being down
    /// cannot make this fail.
    ///
    /// # Errors
    /// [`FacebookSetupError`] when the app id or secret is empty, a URL is unusable (plain
    /// `http` is accepted only for loopback hosts), or the HTTP client cannot be built.
    pub fn new(config: FacebookConfig) -> Result<Self, FacebookSetupError> {
        Self::with_tuning(config, Tuning::default())
    }

    /// [`new`](Self::new) with other limits; for tests that cannot wait for real timeouts.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    #[doc(hidden)]
    pub fn with_tuning(config: FacebookConfig, tuning: Tuning) -> Result<Self, FacebookSetupError> {
        let app_id = config.app_id.trim().to_owned();
        if app_id.is_empty() {
            return Err(FacebookSetupError::EmptyAppId);
        }
        if config.app_secret.expose_secret().is_empty() {
            return Err(FacebookSetupError::EmptyAppSecret);
        }
        let base = graph_base(&config.graph_url)?;
        let dialog = dialog(&config.dialog_url)?;
        let graph = Graph::new(base, &tuning)
            .map_err(|error| FacebookSetupError::HttpClient(Box::new(error)))?;
        let app_access_token =
            SecretString::from(format!("{app_id}|{}", config.app_secret.expose_secret()));
        let app_proof = appsecret_proof(&config.app_secret, app_access_token.expose_secret());
        Ok(Self {
            inner: Arc::new(Inner {
                app_id,
                app_secret: config.app_secret,
                app_access_token,
                app_proof,
                dialog,
                graph,
                pkce: config.pkce,
                deadline: tuning.total_timeout,
            }),
        })
    }

    /// Calls the Graph API once, without credentials, within the adapter's deadline: whether
    /// Facebook can be reached from here, for the operator's `zeropass check`.
    ///
    /// # Errors
    /// [`IdentityError::Unavailable`] with the cause when the Graph API does not answer, or
    /// answers with a server error.
    pub async fn check_reachable(&self) -> Result<(), IdentityError> {
        self.within_deadline(self.inner.graph.probe()).await
    }

    /// Runs one operation under the overall deadline.
    async fn within_deadline<T>(
        &self,
        operation: impl Future<Output = Result<T, IdentityError>>,
    ) -> Result<T, IdentityError> {
        tokio::time::timeout(self.inner.deadline, operation)
            .await
            .unwrap_or_else(|_| Err(unavailable_because("Facebook did not answer in time")))
    }

    /// What both doors end with: check the user token with `/debug_token`, then read `/me`.
    async fn identify(&self, user_token: &str) -> Result<VerifiedIdentity, IdentityError> {
        if user_token.trim().is_empty() {
            return Err(IdentityError::InvalidAccessToken("empty".to_owned()));
        }
        if user_token.len() > MAX_TOKEN_BYTES {
            return Err(IdentityError::InvalidAccessToken("too long".to_owned()));
        }
        let inner = &self.inner;
        let app = AppCredentials {
            app_id: &inner.app_id,
            app_access_token: &inner.app_access_token,
            app_proof: &inner.app_proof,
        };
        let user_id = inspect::user_id_of(&inner.graph, &app, user_token, unix_now()).await?;
        let proof = appsecret_proof(&inner.app_secret, user_token);
        profile::identity_of(&inner.graph, user_token, &proof, &user_id).await
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Logs how an operation ended: refusals at info with their reason, unavailability at warn,
/// success at debug; never a token, code, secret or email.
fn log_outcome<T>(operation: &'static str, result: &Result<T, IdentityError>) {
    match result {
        Ok(_) => tracing::debug!(operation, "Facebook operation succeeded"),
        Err(error @ IdentityError::Unavailable(source)) => {
            tracing::warn!(operation, %error, cause = %source, "Facebook is unavailable");
        }
        Err(error) => tracing::info!(operation, reason = %error, "Facebook sign-in refused"),
    }
}

#[async_trait]
impl IdentityProvider for FacebookIdentityProvider {
    fn provider(&self) -> Provider {
        Provider::Facebook
    }

    #[tracing::instrument(skip_all, fields(provider = "facebook"))]
    async fn authorization_url(&self, flow: &AuthorizationFlow) -> Result<String, IdentityError> {
        let challenge = if self.inner.pkce {
            Some(pkce::challenge(flow)?)
        } else {
            None
        };
        Ok(login_dialog::authorization_url(
            &self.inner.dialog,
            &self.inner.app_id,
            flow,
            challenge.as_deref(),
        ))
    }

    #[tracing::instrument(skip_all, fields(provider = "facebook"))]
    async fn complete_authorization(
        &self,
        code: &str,
        flow: &AuthorizationFlow,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let result = self
            .within_deadline(async {
                if code.is_empty() {
                    return Err(IdentityError::InvalidAuthorizationCode("empty".to_owned()));
                }
                let inner = &self.inner;
                let code_verifier = if inner.pkce {
                    Some(pkce::verifier(flow)?)
                } else {
                    None
                };
                let user_token = exchange::exchange_code(
                    &inner.graph,
                    &inner.app_id,
                    &inner.app_secret,
                    code,
                    flow,
                    code_verifier,
                )
                .await?;
                self.identify(user_token.expose_secret()).await
            })
            .await;
        log_outcome("complete_authorization", &result);
        result
    }

    #[tracing::instrument(skip_all, fields(provider = "facebook"))]
    async fn verify_native_credential(
        &self,
        credential: &NativeCredential,
    ) -> Result<VerifiedIdentity, IdentityError> {
        let result = self.within_deadline(self.identify(&credential.token)).await;
        log_outcome("verify_native_credential", &result);
        result
    }
}
