//! The JSON shapes of the API (requests and responses), with their OpenAPI schemas. Domain
//! types are converted here; they are never serialized directly.

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use zeropass_domain::{NativeCredential, PublicJwk, SignedIn, User};

/// A user as the API shows it. The provider subject is deliberately absent.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "5b0e1f7e-8d51-4c3a-9a8e-2f0b6c1d9e42", "email": "ada@example.com",
    "provider": "google", "is_active": true, "created_at": "2026-11-24T10:00:00Z"}))]
pub struct UserResponse {
    /// Random, stable user id (UUID v4); the `sub` of the access token.
    pub id: Uuid,
    /// Email address last reported by the provider (lower-cased).
    pub email: String,
    /// The provider the user signs in with.
    #[schema(value_type = ProviderName)]
    pub provider: &'static str,
    /// Whether the account is active.
    pub is_active: bool,
    /// First sign-in, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The identity providers, by their contract names.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // exists for its schema only
pub enum ProviderName {
    /// Google.
    Google,
    /// Facebook.
    Facebook,
}

impl From<&User> for UserResponse {
    fn from(user: &User) -> Self {
        Self {
            id: *user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            provider: user.provider.as_str(),
            is_active: user.is_active,
            created_at: user.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// The answer to every successful sign-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// zeropass access token (JWT, HS256); send it as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
    /// The signed-in user.
    pub user: UserResponse,
}

impl From<SignedIn> for TokenResponse {
    fn from(signed_in: SignedIn) -> Self {
        Self {
            user: UserResponse::from(&signed_in.user),
            access_token: signed_in.token.token,
            token_type: "Bearer",
            expires_in: signed_in.token.expires_in,
        }
    }
}

/// Native Google sign-in: an id_token the app obtained with Google Sign-In.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoogleTokenRequest {
    /// The Google id_token (a JWT).
    pub id_token: String,
    /// The nonce the app asked Google to put in the id_token. Posted: the id_token's `nonce`
    /// claim must equal it (else 401 `invalid_id_token`). Left out (or null): the id_token is
    /// accepted whether or not it carries a `nonce` claim.
    #[schema(example = "n-0S6_WzA2Mj")]
    pub nonce: Option<String>,
}

/// Redacted: it carries a credential.
impl std::fmt::Debug for GoogleTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GoogleTokenRequest { .. }")
    }
}

impl From<GoogleTokenRequest> for NativeCredential {
    fn from(request: GoogleTokenRequest) -> Self {
        Self {
            token: request.id_token,
            nonce: request.nonce,
        }
    }
}

/// Native Facebook sign-in: a user access token the app obtained with the Facebook SDK.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FacebookTokenRequest {
    /// The Facebook user access token.
    pub access_token: String,
}

/// Redacted: it carries a credential.
impl std::fmt::Debug for FacebookTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FacebookTokenRequest { .. }")
    }
}

impl From<FacebookTokenRequest> for NativeCredential {
    fn from(request: FacebookTokenRequest) -> Self {
        Self {
            token: request.access_token,
            nonce: None,
        }
    }
}

/// Query of `GET /auth/{provider}/start`.
#[derive(Debug, Deserialize, IntoParams)]
// The handlers take the query as a `Result`, so utoipa cannot infer where these parameters
// live: without this they are documented as required *path* parameters.
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// Where to send the result after the callback; must be one of `ALLOWED_REDIRECT_URIS`
    /// exactly. Without `code_challenge` the token arrives in its fragment; without
    /// `redirect_uri` at all the callback answers the token as JSON.
    pub redirect_uri: Option<String>,
    /// The app's PKCE challenge, BASE64URL(SHA-256(code_verifier)) (RFC 7636): the callback
    /// then sends a one-time code to `redirect_uri` (`?code=`) instead of a token, redeemed at
    /// `POST /auth/token` with the verifier. Requires `redirect_uri` and
    /// `code_challenge_method=S256`.
    #[param(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// Must be `S256` when `code_challenge` is given.
    #[param(pattern = "^S256$")]
    pub code_challenge_method: Option<String>,
}

/// Query of `GET /auth/{provider}/callback`, as sent by the provider.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state minted at `start`; must match the flow cookie.
    pub state: Option<String>,
    /// The provider's error (e.g. `access_denied`) when the person did not sign in.
    pub error: Option<String>,
    /// The provider's description of `error`; never reflected.
    #[allow(
        dead_code,
        reason = "documented for clients, deliberately never read or reflected"
    )]
    pub error_description: Option<String>,
}

/// `POST /auth/token`: a one-time code from the browser flow and the app's PKCE verifier, as
/// JSON or form-encoded. Other fields that OAuth client libraries send (`client_id`,
/// `redirect_uri`) are accepted and ignored.
#[derive(Deserialize, ToSchema)]
pub struct CodeTokenRequest {
    /// Always `authorization_code`.
    #[schema(example = "authorization_code")]
    pub grant_type: String,
    /// The one-time code the callback sent to the app's `redirect_uri`.
    pub code: String,
    /// The PKCE code verifier whose S256 challenge the app sent to `start` (RFC 7636: 43 to
    /// 128 characters of `A-Z a-z 0-9 - . _ ~`).
    pub code_verifier: String,
}

/// Redacted: it carries a code and its verifier.
impl std::fmt::Debug for CodeTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeTokenRequest { .. }")
    }
}

/// `/health`'s report (not a problem document, also when unavailable).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` when everything zeropass needs answers, else `unavailable`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The version of zeropass answering (`zeropass --version`).
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    /// `ok` or `unavailable`: whether the database answered.
    #[schema(example = "ok")]
    pub database: &'static str,
    /// Each configured provider (`google`, `facebook`) and whether it can serve sign-ins now:
    /// `ready`, or `unavailable` (e.g. Google's discovery has not succeeded yet).
    #[schema(value_type = std::collections::BTreeMap<String, String>, example = json!({"google": "ready", "facebook": "ready"}))]
    pub providers: std::collections::BTreeMap<&'static str, &'static str>,
}

/// A JSON Web Key Set (RFC 7517 §5): `GET /.well-known/jwks.json`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"keys": [
    {"kid": "q3bF1cV9Q0yLr8mZ2aT7xw", "alg": "ES256", "use": "sig", "kty": "EC", "crv": "P-256",
     "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    {"kid": "Xo2nWl0bQpC6sJ4tYd8eKg", "alg": "EdDSA", "use": "sig", "kty": "OKP", "crv": "Ed25519",
     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}))]
pub struct JwkSet {
    /// The keys; empty under HS256.
    pub keys: Vec<JwkResponse>,
}

/// One public key: exactly `kid`, `alg`, `use`, `kty`, `crv`, `x` and, for `EC` keys, `y`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkResponse {
    /// The key id, as in the `kid` header of the tokens it signs.
    #[schema(example = "q3bF1cV9Q0yLr8mZ2aT7xw")]
    pub kid: String,
    /// `ES256` or `EdDSA`.
    #[schema(example = "ES256")]
    pub alg: &'static str,
    /// Always `sig`.
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: &'static str,
    /// `EC` (ES256) or `OKP` (EdDSA).
    #[schema(example = "EC")]
    pub kty: &'static str,
    /// `P-256` (ES256) or `Ed25519` (EdDSA).
    #[schema(example = "P-256")]
    pub crv: &'static str,
    /// The x coordinate (EC) or the public key (OKP), unpadded base64url.
    pub x: String,
    /// The y coordinate, unpadded base64url; `EC` keys only (absent, not null, otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

impl From<PublicJwk> for JwkResponse {
    fn from(key: PublicJwk) -> Self {
        Self {
            kid: key.kid,
            alg: key.alg,
            use_: "sig",
            kty: key.kty,
            crv: key.crv,
            x: key.x,
            y: key.y,
        }
    }
}

impl From<Vec<PublicJwk>> for JwkSet {
    fn from(keys: Vec<PublicJwk>) -> Self {
        Self {
            keys: keys.into_iter().map(JwkResponse::from).collect(),
        }
    }
}
