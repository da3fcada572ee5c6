//! The browser sign-in flow: `start` mints the attempt's secrets, seals them in the flow cookie
//! and sends the browser to the provider; `callback` opens the cookie, checks `state` in
//! constant time, and completes the sign-in — answering the token as JSON, or, when the flow
//! carried an allowed client `redirect_uri`, with a 303 to it carrying the result in the URL
//! fragment (which browsers never send to a server). When the app also sent a PKCE
//! `code_challenge` to `start`, the callback sends it a one-time code in the query instead
//! (`?code=`, or `?error=`), for `POST /auth/token`: a token never travels through a redirect
//! another app could catch. The flow cookie is cleared by every callback answer past the state
//! check: an attempt is used once.

use super::no_store;
use crate::dto::{CallbackQuery, StartQuery, TokenResponse};
use crate::flow::FlowCookie;
use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use url::form_urlencoded;
use zeropass_domain::{CodeChallenge, IdentityProvider, OneTimeCode, Provider, SignedIn};

/// `GET /auth/{provider}/start`.
pub(crate) async fn start(
    state: &AppState,
    provider: Provider,
    query: Result<web::Query<StartQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let identity_provider = state.providers.get(provider)?;
    let query = match query {
        Ok(query) => query.into_inner(),
        Err(error) => return Ok(error.error_response()),
    };
    let browser = &state.browser;
    let redirect_uri = query
        .redirect_uri
        .as_deref()
        .map(|uri| browser.allowed_redirect_uri(uri))
        .transpose()?;
    let challenge = client_challenge(&query, redirect_uri.is_some())?;
    if challenge.is_some() {
        // Refuse now rather than after the person signed in at the provider.
        state.code_grant()?;
    }
    let flow = browser.new_attempt(provider)?;
    let authorization_url = identity_provider.authorization_url(&flow).await?;
    let cookie = FlowCookie::new(provider, &flow, redirect_uri, now())
        .with_code_challenge(challenge)
        .seal(browser.cookie_key(), browser.secure_cookies())?;
    tracing::info!(%provider, "browser sign-in started");
    Ok(no_store(&mut HttpResponse::Found())
        .insert_header((header::LOCATION, authorization_url))
        .cookie(cookie)
        .finish())
}

/// The client app's PKCE challenge, if it sent one: only beside a `redirect_uri` (the code
/// must go somewhere) and with method `S256` (`plain` would put the verifier in the URL).
fn client_challenge(
    query: &StartQuery,
    has_redirect_uri: bool,
) -> Result<Option<CodeChallenge>, ApiError> {
    let invalid = |detail: &str| Err(ApiError::InvalidRequest(detail.to_owned()));
    match (
        query.code_challenge.as_deref(),
        query.code_challenge_method.as_deref(),
    ) {
        (None, None) => Ok(None),
        (None, Some(_)) => invalid("`code_challenge_method` needs a `code_challenge`."),
        (Some(_), _) if !has_redirect_uri => {
            invalid("`code_challenge` needs a `redirect_uri` to send the code to.")
        }
        (Some(_), None) => invalid("`code_challenge` needs `code_challenge_method=S256`."),
        (Some(_), Some(method)) if method != "S256" => {
            invalid("The only supported `code_challenge_method` is `S256`.")
        }
        (Some(challenge), Some(_)) => {
            CodeChallenge::parse_s256(challenge).map(Some).or_else(|_| {
                invalid(
                    "`code_challenge` must be BASE64URL(SHA-256(code_verifier)): 43 characters.",
                )
            })
        }
    }
}

/// `GET /auth/{provider}/callback`.
pub(crate) async fn callback(
    request: &HttpRequest,
    state: &AppState,
    provider: Provider,
    query: Result<web::Query<CallbackQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let identity_provider = state.providers.get(provider)?;
    let query = match query {
        Ok(query) => query.into_inner(),
        Err(error) => return Ok(error.error_response()),
    };
    let browser = &state.browser;
    let cookie = FlowCookie::open(
        request,
        browser.cookie_key(),
        browser.secure_cookies(),
        provider,
        now(),
    )?;
    let returned_state = query
        .state
        .as_deref()
        .ok_or(ApiError::InvalidState("no state in the callback"))?;
    if !crate::flow::constant_time_eq(returned_state, cookie.state()) {
        return Err(ApiError::InvalidState(
            "state does not match the flow cookie",
        ));
    }

    let provider_code = match (query.error.as_deref(), query.code.as_deref()) {
        (Some(error), _) => Err(provider_error(error)),
        (None, Some(code)) if !code.is_empty() => Ok(code),
        (None, _) => Err(ApiError::InvalidRequest(
            "The callback carries neither `code` nor `error`.".into(),
        )),
    };
    let mut response = match (cookie.code_challenge()?, cookie.redirect_uri()) {
        (Some(challenge), Some(redirect_uri)) => {
            let outcome = match provider_code {
                Ok(code) => one_time_code(state, identity_provider, code, &cookie, challenge).await,
                Err(error) => Err(error),
            };
            state.metrics.count_sign_in_result(provider, &outcome);
            match outcome {
                Ok(code) => redirect_with_query(redirect_uri, &[("code", code.as_str())]),
                Err(error) => {
                    let _ = error.error_response(); // logs it like any other failure
                    redirect_with_query(redirect_uri, &[("error", error.code())])
                }
            }
        }
        (Some(_), None) => return Err(ApiError::InvalidState("flow cookie unreadable")),
        (None, _) => {
            let outcome = match provider_code {
                Ok(code) => state
                    .sign_in
                    .with_authorization_code(identity_provider, code, &cookie.flow())
                    .await
                    .map_err(ApiError::from),
                Err(error) => Err(error),
            };
            state.metrics.count_sign_in_result(provider, &outcome);
            token_answer(outcome, cookie.redirect_uri())
        }
    };
    response
        .add_removal_cookie(&FlowCookie::removal(browser.secure_cookies()))
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(response)
}

/// Signs the person in and issues a one-time code bound to the app's challenge (the token
/// comes when the code is redeemed).
async fn one_time_code(
    state: &AppState,
    identity_provider: &dyn IdentityProvider,
    code: &str,
    cookie: &FlowCookie,
    challenge: CodeChallenge,
) -> Result<OneTimeCode, ApiError> {
    let user = state
        .sign_in
        .user_for_authorization_code(identity_provider, code, &cookie.flow())
        .await?;
    Ok(state.code_grant()?.issue(&user, challenge).await?)
}

/// The version 0.1 answer: the token as JSON, or in the fragment of the client's URI.
fn token_answer(outcome: Result<SignedIn, ApiError>, redirect_uri: Option<&str>) -> HttpResponse {
    match (outcome, redirect_uri) {
        (Ok(signed_in), None) => {
            no_store(&mut HttpResponse::Ok()).json(TokenResponse::from(signed_in))
        }
        (Ok(signed_in), Some(redirect_uri)) => {
            redirect_with_fragment(redirect_uri, &token_fragment(signed_in))
        }
        (Err(error), None) => error.error_response(),
        (Err(error), Some(redirect_uri)) => {
            let _ = error.error_response(); // logs it like any other failure
            redirect_with_fragment(
                redirect_uri,
                &form_urlencoded::Serializer::new(String::new())
                    .append_pair("error", error.code())
                    .finish(),
            )
        }
    }
}

/// The provider's own `error` parameter, as one of our codes. Its `error_description` is never
/// used: it is text chosen by whoever crafted the URL.
fn provider_error(error: &str) -> ApiError {
    match error {
        "server_error" | "temporarily_unavailable" => ApiError::ProviderUnavailable(
            format!("the provider answered the authorization with {error:?}").into(),
        ),
        _ => ApiError::AccessDenied,
    }
}

fn token_fragment(signed_in: SignedIn) -> String {
    let expires_in = signed_in.token.expires_in.to_string();
    form_urlencoded::Serializer::new(String::new())
        .append_pair("access_token", &signed_in.token.token)
        .append_pair("token_type", "Bearer")
        .append_pair("expires_in", &expires_in)
        .finish()
}

/// A 303 to the client's URI with these parameters added to its query (`?`, or `&` when it
/// already has one; before any fragment).
fn redirect_with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    no_store(&mut HttpResponse::SeeOther())
        .insert_header((header::LOCATION, with_query(redirect_uri, &query)))
        .finish()
}

fn with_query(uri: &str, query: &str) -> String {
    let (base, fragment) = uri
        .find('#')
        .map_or((uri, ""), |at| (&uri[..at], &uri[at..]));
    let separator = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    format!("{base}{separator}{query}{fragment}")
}

fn redirect_with_fragment(redirect_uri: &str, fragment: &str) -> HttpResponse {
    no_store(&mut HttpResponse::SeeOther())
        .insert_header((header::LOCATION, format!("{redirect_uri}#{fragment}")))
        .finish()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn the_code_is_appended_to_the_uri_query_with_the_right_separator() {
        assert_eq!(with_query("app:/cb", "code=c"), "app:/cb?code=c");
        assert_eq!(with_query("app:/cb?x=1", "code=c"), "app:/cb?x=1&code=c");
        assert_eq!(with_query("app:/cb?", "code=c"), "app:/cb?code=c");
        assert_eq!(
            with_query("https://a.example/cb?x=1#top", "code=c"),
            "https://a.example/cb?x=1&code=c#top"
        );
    }
}
