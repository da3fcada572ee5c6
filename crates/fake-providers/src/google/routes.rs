//! The fake Google's HTTP handlers. Each one first counts its request and plays any scripted
//! [`Failure`](crate::Failure); the authorization and token endpoints then implement the code
//! flow strictly enough (client checks, single-use codes, exact `redirect_uri`, PKCE) that a
//! client which gets it wrong fails here as it would against Google.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::{Url, form_urlencoded};

use crate::random::random_token;

use super::{ClientAuth, Endpoint, FakeGoogle, FakeGoogleUser, Grant, Shared, TokenRequest};

/// How long an authorization code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Mounts the four endpoints, sharing `shared` with the [`FakeGoogle`] handle.
pub(super) fn configure(config: &mut web::ServiceConfig, shared: web::Data<Shared>) {
    config
        .app_data(shared)
        .route(Endpoint::Discovery.path(), web::get().to(discovery))
        .route(Endpoint::Jwks.path(), web::get().to(jwks))
        .route(Endpoint::Authorize.path(), web::get().to(authorize))
        .route(Endpoint::Token.path(), web::post().to(token));
}

impl Shared {
    /// Counts a request to `endpoint` and plays its scripted failure: `Some` is the answer to
    /// send instead of the normal one.
    async fn begin(&self, endpoint: Endpoint) -> Option<HttpResponse> {
        let failure = {
            let mut state = self.lock();
            *state.requests.entry(endpoint).or_default() += 1;
            state.failures.get(&endpoint).cloned()
        };
        failure?.apply().await
    }
}

/// The published JWKS: the current key, then the scripted extras.
pub(super) fn jwks_document(shared: &Shared) -> Value {
    let state = shared.lock();
    let mut keys = vec![shared.keys.all[state.current_key].jwk.clone()];
    keys.extend(state.jwks_extra.iter().cloned());
    json!({ "keys": keys })
}

/// The discovery document, field for field like `accounts.google.com`'s, pointing at the fake.
async fn discovery(shared: web::Data<Shared>) -> HttpResponse {
    if let Some(failure) = shared.begin(Endpoint::Discovery).await {
        return failure;
    }
    let issuer = &shared.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{}", Endpoint::Authorize.path()),
        "token_endpoint": format!("{issuer}{}", Endpoint::Token.path()),
        // Advertised for the document's shape; the fake does not serve it (404).
        "userinfo_endpoint": format!("{issuer}/v1/userinfo"),
        "jwks_uri": format!("{issuer}{}", Endpoint::Jwks.path()),
        "response_types_supported": [
            "code", "token", "id_token", "code token", "code id_token", "token id_token",
            "code token id_token", "none"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": [
            "aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
            "name", "picture", "sub"
        ],
        "code_challenge_methods_supported": ["plain", "S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
    }))
}

async fn jwks(shared: web::Data<Shared>) -> HttpResponse {
    if let Some(failure) = shared.begin(Endpoint::Jwks).await {
        return failure;
    }
    let mut response = HttpResponse::Ok();
    if let Some(seconds) = shared.lock().jwks_max_age {
        response.insert_header((
            CACHE_CONTROL,
            format!("public, max-age={seconds}, must-revalidate, no-transform"),
        ));
    }
    response.json(jwks_document(&shared))
}

/// Signs the person in at once (no consent page) and redirects back with a code, or with
/// `error=...` per RFC 6749 4.1.2.1. Only a bad `client_id` or `redirect_uri` gets a 400 page,
/// since the redirect target cannot be trusted then.
async fn authorize(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if let Some(failure) = shared.begin(Endpoint::Authorize).await {
        return failure;
    }
    let query: HashMap<String, String> = form_urlencoded::parse(request.query_string().as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| query.get(name).map(String::as_str);
    if param("client_id") != Some(FakeGoogle::CLIENT_ID) {
        return HttpResponse::BadRequest()
            .body("Error 401: invalid_client. The OAuth client was not found.");
    }
    let Some(mut redirect) = param("redirect_uri").and_then(|uri| Url::parse(uri).ok()) else {
        return HttpResponse::BadRequest()
            .body("Error 400: invalid_request. Missing or invalid redirect_uri.");
    };
    let code_challenge = param("code_challenge").map(|challenge| {
        (
            challenge.to_owned(),
            param("code_challenge_method").unwrap_or("plain").to_owned(),
        )
    });
    let error = if param("response_type") != Some("code") {
        Some("unsupported_response_type")
    } else if !param("scope").is_some_and(|scope| scope.split_whitespace().any(|s| s == "openid")) {
        Some("invalid_scope")
    } else if code_challenge
        .as_ref()
        .is_some_and(|(_, method)| method != "S256" && method != "plain")
    {
        Some("invalid_request")
    } else if shared.lock().deny || param("deny") == Some("1") {
        Some("access_denied")
    } else {
        None
    };
    let outcome = match error {
        Some(error) => ("error", error.to_owned()),
        None => {
            let Ok(code) = random_token().map(|random| format!("4/0{random}")) else {
                return HttpResponse::InternalServerError().body("no randomness for a code");
            };
            let mut state = shared.lock();
            let user = match param("login_hint") {
                Some(email) if state.user.email.as_deref() != Some(email) => FakeGoogleUser {
                    sub: format!("fake-google-sub-{email}"),
                    email: Some(email.to_owned()),
                    email_verified: Some(true),
                },
                _ => state.user.clone(),
            };
            let grant = Grant {
                user,
                nonce: param("nonce").map(str::to_owned),
                redirect_uri: redirect.to_string(),
                code_challenge,
                expires_at: Instant::now() + CODE_LIFETIME,
            };
            state.codes.insert(code.clone(), grant);
            ("code", code)
        }
    };
    redirect
        .query_pairs_mut()
        .append_pair(outcome.0, &outcome.1);
    if let Some(state) = param("state") {
        redirect.query_pairs_mut().append_pair("state", state);
    }
    HttpResponse::Found()
        .insert_header((LOCATION, redirect.as_str()))
        .finish()
}

/// Exchanges a code for tokens (RFC 6749 4.1.3, RFC 7636 4.6), answering errors per 5.2.
async fn token(shared: web::Data<Shared>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(failure) = shared.begin(Endpoint::Token).await {
        return failure;
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).cloned();
    // A malformed Authorization header still counts as Basic, with credentials that fail.
    let basic = request.headers().get(AUTHORIZATION).map(|value| {
        value
            .to_str()
            .ok()
            .and_then(basic_credentials)
            .unwrap_or_default()
    });
    let (client_auth, client_id, secret) = match basic.clone() {
        Some((id, secret)) => (ClientAuth::Basic, id, Some(secret)),
        None => match field("client_secret") {
            Some(secret) => (
                ClientAuth::Post,
                field("client_id").unwrap_or_default(),
                Some(secret),
            ),
            None => (
                ClientAuth::None,
                field("client_id").unwrap_or_default(),
                None,
            ),
        },
    };
    let received = TokenRequest {
        grant_type: field("grant_type").unwrap_or_default(),
        code: field("code").unwrap_or_default(),
        redirect_uri: field("redirect_uri").unwrap_or_default(),
        code_verifier: field("code_verifier"),
        client_id,
        client_auth,
    };
    shared.lock().last_token_request = Some(received.clone());

    if basic.is_some() && form.contains_key("client_secret") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        );
    }
    if received.grant_type != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    if received.client_id != FakeGoogle::CLIENT_ID
        || secret.as_deref() != Some(FakeGoogle::CLIENT_SECRET)
    {
        let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
        if client_auth == ClientAuth::Basic {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Basic"),
            );
        }
        return response;
    }
    // Any attempt uses the code up, as Google does: a second try fails even after a bad first one.
    let Some(grant) = shared.lock().codes.remove(&received.code) else {
        return invalid_grant("Malformed auth code, or code already used.");
    };
    if grant.expires_at < Instant::now() {
        return invalid_grant("Code expired.");
    }
    if grant.redirect_uri != received.redirect_uri {
        return invalid_grant("redirect_uri differs from the one of the authorization request.");
    }
    if let Some((challenge, method)) = &grant.code_challenge {
        let Some(verifier) = &received.code_verifier else {
            return invalid_grant("Missing code verifier.");
        };
        let derived = match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.clone(),
        };
        if &derived != challenge {
            return invalid_grant("Invalid code verifier.");
        }
    }

    let Ok(access_token) = random_token().map(|random| format!("ya29.{random}")) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no randomness",
        );
    };
    let mut claims =
        shared.id_token_claims(&grant.user, &received.client_id, grant.nonce.as_deref());
    // at_hash: the left half of SHA-256 of the access token (OpenID Connect Core 3.1.3.6).
    claims["at_hash"] =
        json!(URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16]));
    let tamper = shared.lock().tamper.clone();
    if let Some(tamper) = tamper {
        tamper(&mut claims);
    }
    let Ok(id_token) = shared.sign_current(&claims) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "could not sign",
        );
    };
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3599,
            "scope": "openid email",
            "id_token": id_token,
        }))
}

/// `client_id` and `client_secret` from a Basic header's value: each form-urlencoded, joined
/// by `:`, then base64 (RFC 6749 2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// Undoes application/x-www-form-urlencoded encoding of one value.
fn form_decode(encoded: &str) -> String {
    let pair = format!("v={}", encoded.replace('&', "%26"));
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// An RFC 6749 5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

fn invalid_grant(description: &str) -> HttpResponse {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}
