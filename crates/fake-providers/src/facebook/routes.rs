//! The fake Facebook's HTTP handlers. Each one first counts its request and plays any scripted
//! [`Failure`](crate::Failure); then they answer as Facebook does, errors included
//! (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`), strictly enough
//! (single-use codes, exact `redirect_uri`, PKCE, app token, `appsecret_proof`) that a client which
//! gets the flow wrong fails here as it would against Facebook.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::{Url, form_urlencoded};

use super::{
    CodeExchange, FacebookEndpoint, FakeFacebook, Grant, Shared, USER_TOKEN_LIFETIME, now, proof_of,
};
use crate::random::random_token;

/// How long a dialog code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// How long after issue a token keeps data access (Facebook's 90 days).
const DATA_ACCESS_LIFETIME: u64 = 90 * 24 * 3600;

/// Mounts the four endpoints, sharing `shared` with the [`FakeFacebook`] handle.
pub(super) fn configure(config: &mut web::ServiceConfig, shared: web::Data<Shared>) {
    let access_token = FacebookEndpoint::AccessToken.path();
    config
        .app_data(shared)
        .route(FacebookEndpoint::Dialog.path(), web::get().to(dialog))
        .route(access_token, web::get().to(exchange))
        .route(access_token, web::post().to(exchange))
        .route(
            FacebookEndpoint::DebugToken.path(),
            web::get().to(debug_token),
        )
        .route(FacebookEndpoint::Me.path(), web::get().to(me));
}

impl Shared {
    /// Counts a request to `endpoint` and plays its scripted failure: `Some` is the answer to
    /// send instead of the normal one.
    async fn begin(&self, endpoint: FacebookEndpoint) -> Option<HttpResponse> {
        let failure = {
            let mut state = self.lock();
            *state.requests.entry(endpoint).or_default() += 1;
            state.failures.get(&endpoint).cloned()
        };
        failure?.apply().await
    }

    /// Checks `appsecret_proof` against `access_token`, counting a missing or wrong one.
    fn check_proof(&self, params: &Params, access_token: &str) -> Proof {
        let proof = match params.get("appsecret_proof") {
            None => Proof::Missing,
            Some(given) if proof_of(access_token).as_ref() == Some(given) => Proof::Valid,
            Some(_) => Proof::Wrong,
        };
        if proof != Proof::Valid {
            self.lock().without_valid_proof += 1;
        }
        proof
    }
}

type Params = HashMap<String, String>;

#[derive(Debug, PartialEq, Eq)]
enum Proof {
    Valid,
    Missing,
    Wrong,
}

/// The query string's parameters, then a form body's (Graph takes both).
fn params(request: &HttpRequest, body: &[u8]) -> Params {
    let query = form_urlencoded::parse(request.query_string().as_bytes());
    query
        .chain(form_urlencoded::parse(body))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// The `access_token` parameter, else the token of an `Authorization: Bearer` header.
fn access_token(request: &HttpRequest, params: &Params) -> Option<String> {
    params.get("access_token").cloned().or_else(|| {
        let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
    })
}

/// Signs the person in at once (no login page) and redirects back with a code, or with
/// Facebook's `error=access_denied` set when denying. Only a bad `client_id` or `redirect_uri`
/// gets a 400 page, since the redirect target cannot be trusted then.
async fn dialog(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if let Some(failure) = shared.begin(FacebookEndpoint::Dialog).await {
        return failure;
    }
    let query = params(&request, &[]);
    let param = |name: &str| query.get(name).map(String::as_str);
    if param("client_id") != Some(FakeFacebook::APP_ID) {
        return HttpResponse::BadRequest()
            .body("Invalid App ID: The provided app ID does not look like a valid app ID.");
    }
    let Some((raw_redirect, mut redirect)) = param("redirect_uri")
        .and_then(|raw| Url::parse(raw).ok().map(|parsed| (raw.to_owned(), parsed)))
    else {
        return HttpResponse::BadRequest().body("URL blocked: missing or invalid redirect_uri.");
    };
    let code_challenge = param("code_challenge").map(|challenge| {
        (
            challenge.to_owned(),
            param("code_challenge_method").unwrap_or("plain").to_owned(),
        )
    });
    let (deny, require_pkce) = {
        let state = shared.lock();
        (state.deny, state.require_pkce)
    };
    let pkce_refused = match &code_challenge {
        None => require_pkce,
        Some((_, method)) => method != "S256" && method != "plain",
    };
    if pkce_refused {
        redirect
            .query_pairs_mut()
            .append_pair("error", "invalid_request")
            .append_pair("error_code", "100")
            .append_pair(
                "error_description",
                "Invalid code_challenge or code_challenge_method",
            )
            .append_pair("error_reason", "invalid_pkce");
    } else if deny {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_description", "Permissions error")
            .append_pair("error_reason", "user_denied");
    } else {
        let Ok(code) = random_token().map(|random| format!("AQ{random}")) else {
            return HttpResponse::InternalServerError().body("no randomness for a code");
        };
        let mut state = shared.lock();
        let grant = Grant {
            user: state.user.clone(),
            redirect_uri: raw_redirect,
            code_challenge,
            expires_at: Instant::now() + CODE_LIFETIME,
            used: false,
        };
        state.codes.insert(code.clone(), grant);
        redirect.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(state) = param("state") {
        redirect.query_pairs_mut().append_pair("state", state);
    }
    HttpResponse::Found()
        .insert_header((LOCATION, redirect.as_str()))
        .finish()
}

/// Exchanges a dialog code for a user access token ("Manually Build a Login Flow").
async fn exchange(
    shared: web::Data<Shared>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(failure) = shared.begin(FacebookEndpoint::AccessToken).await {
        return failure;
    }
    let params = params(&request, &body);
    let field = |name: &str| params.get(name).cloned().unwrap_or_default();
    let received = CodeExchange {
        client_id: field("client_id"),
        redirect_uri: field("redirect_uri"),
        code: field("code"),
        client_secret_ok: params.get("client_secret").map(String::as_str)
            == Some(FakeFacebook::APP_SECRET),
        code_verifier: params.get("code_verifier").cloned(),
    };
    shared.lock().last_code_exchange = Some(received.clone());

    if received.client_id != FakeFacebook::APP_ID {
        let message = "Error validating application. Invalid application ID.";
        return graph_error(StatusCode::BAD_REQUEST, OAUTH, 101, None, message);
    }
    if !received.client_secret_ok {
        let message = "Error validating client secret.";
        return graph_error(StatusCode::BAD_REQUEST, OAUTH, 1, None, message);
    }
    let code_error =
        |subcode, message| graph_error(StatusCode::BAD_REQUEST, OAUTH, 100, Some(subcode), message);
    // Any attempt by the right client uses the code up: a second try fails even after a bad first.
    let user = {
        let mut state = shared.lock();
        let Some(grant) = state.codes.get_mut(&received.code) else {
            return code_error(36009, "Invalid verification code format.");
        };
        if std::mem::replace(&mut grant.used, true) {
            return code_error(36009, "This authorization code has been used.");
        }
        if grant.expires_at < Instant::now() {
            return code_error(36007, "This authorization code has expired.");
        }
        if grant.redirect_uri != received.redirect_uri {
            return code_error(
                36008,
                "Error validating verification code. Please make sure your redirect_uri is \
                 identical to the one you used in the OAuth dialog request",
            );
        }
        if let Some((challenge, method)) = &grant.code_challenge {
            let derived = received.code_verifier.as_deref().map(|verifier| {
                if method == "S256" {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_owned()
                }
            });
            if derived.as_ref() != Some(challenge) {
                return code_error(36008, "Invalid code verifier.");
            }
        }
        grant.user.clone()
    };
    let Ok(access_token) = shared.issue(&user, FakeFacebook::APP_ID, now()) else {
        return graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            OAUTH,
            2,
            None,
            "no randomness",
        );
    };
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": USER_TOKEN_LIFETIME,
        }))
}

/// Describes `input_token` to the app that owns the app access token.
async fn debug_token(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if let Some(failure) = shared.begin(FacebookEndpoint::DebugToken).await {
        return failure;
    }
    let params = params(&request, &[]);
    let app_token = access_token(&request, &params);
    // Optional here (the app token carries the secret), but a wrong one is refused.
    let proof = shared.check_proof(&params, app_token.as_deref().unwrap_or_default());
    if app_token != Some(FakeFacebook::app_access_token()) {
        let message = match app_token {
            None => "An access token is required to request this resource.",
            Some(_) => "Invalid OAuth access token signature.",
        };
        return graph_error(StatusCode::BAD_REQUEST, OAUTH, 190, None, message);
    }
    if proof == Proof::Wrong {
        return graph_error(StatusCode::BAD_REQUEST, METHOD, 100, None, WRONG_PROOF);
    }
    let Some(input) = params.get("input_token") else {
        let message = "(#100) The parameter input_token is required";
        return graph_error(StatusCode::BAD_REQUEST, OAUTH, 100, None, message);
    };
    let mut data = match shared.lock().tokens.get(input) {
        None => json!({
            "error": {"code": 190, "message": "Invalid OAuth access token."},
            "is_valid": false,
            "scopes": [],
        }),
        Some(token) => {
            let mut data = json!({
                "app_id": token.app_id,
                "type": "USER",
                "application": "zeropass-fake",
                "data_access_expires_at": token.issued_at + DATA_ACCESS_LIFETIME,
                "expires_at": token.expires_at,
                "is_valid": token.expires_at > now(),
                "issued_at": token.issued_at,
                "scopes": ["email", "public_profile"],
                "user_id": token.user.id,
            });
            if token.expires_at <= now() {
                data["error"] = json!({"code": 190, "subcode": 463, "message": SESSION_EXPIRED});
            }
            data
        }
    };
    let tamper = shared.lock().tamper.clone();
    if let Some(tamper) = tamper {
        tamper(&mut data);
    }
    HttpResponse::Ok().json(json!({ "data": data }))
}

/// The token's user: `id`, and `email` when asked for in `fields` and the user has one.
async fn me(shared: web::Data<Shared>, request: HttpRequest) -> HttpResponse {
    if let Some(failure) = shared.begin(FacebookEndpoint::Me).await {
        return failure;
    }
    let params = params(&request, &[]);
    let Some(token) = access_token(&request, &params) else {
        shared.check_proof(&params, "");
        let message = "An active access token must be used to query information about the \
                       current user.";
        return graph_error(StatusCode::BAD_REQUEST, OAUTH, 2500, None, message);
    };
    match shared.check_proof(&params, &token) {
        Proof::Valid => {}
        Proof::Missing => {
            let message = "API calls from the server require an appsecret_proof argument";
            return graph_error(StatusCode::BAD_REQUEST, METHOD, 100, None, message);
        }
        Proof::Wrong => {
            return graph_error(StatusCode::BAD_REQUEST, METHOD, 100, None, WRONG_PROOF);
        }
    }
    let user = match shared.lock().tokens.get(&token) {
        Some(known) if known.app_id == FakeFacebook::APP_ID => {
            if known.expires_at <= now() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    OAUTH,
                    190,
                    Some(463),
                    SESSION_EXPIRED,
                );
            }
            known.user.clone()
        }
        _ => {
            let message = "Invalid OAuth access token data.";
            return graph_error(StatusCode::BAD_REQUEST, OAUTH, 190, None, message);
        }
    };
    let fields = params.get("fields").map_or("id,name", String::as_str);
    let mut body = json!({ "id": user.id });
    if let Some(email) = user.email
        && fields.split(',').any(|field| field.trim() == "email")
    {
        body["email"] = json!(email);
    }
    HttpResponse::Ok().json(body)
}

const OAUTH: &str = "OAuthException";
const METHOD: &str = "GraphMethodException";
const WRONG_PROOF: &str = "Invalid appsecret_proof provided in the API argument";
const SESSION_EXPIRED: &str = "Error validating access token: Session has expired.";

/// A Graph API error object (Graph API "Handling Errors").
fn graph_error(
    status: StatusCode,
    kind: &str,
    code: u32,
    subcode: Option<u32>,
    message: &str,
) -> HttpResponse {
    let trace: String = random_token()
        .unwrap_or_default()
        .chars()
        .take(11)
        .collect();
    let mut error = json!({ "message": message, "type": kind, "code": code, "fbtrace_id": trace });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    HttpResponse::build(status).json(json!({ "error": error }))
}
