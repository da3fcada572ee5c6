//! The browser sign-in flow: `start` mints the attempt's secrets, seals them in the flow cookie
//! and sends the browser to the provider; `callback` opens the cookie, checks `state` in
//! constant time, and completes the sign-in — answering the token as JSON, or, when the flow
//! carried an allowed client `redirect_uri`, with a 303 to it carrying the result in the URL
//! fragment (which browsers never send to a server). The flow cookie is cleared by every
//! callback answer past the state check: an attempt is used once.

use super::no_store;
use super::sign_in::{CallbackQuery, StartQuery};
use crate::dto::TokenResponse;
use crate::flow::FlowCookie;
use crate::problem::ApiError;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use url::form_urlencoded;
use zeropass_domain::{Provider, SignedIn};

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
    let flow = browser.new_attempt(provider)?;
    let authorization_url = identity_provider.authorization_url(&flow).await?;
    let cookie = FlowCookie::new(provider, &flow, redirect_uri, now())
        .seal(browser.cookie_key(), browser.secure_cookies())?;
    tracing::info!(%provider, "browser sign-in started");
    Ok(no_store(&mut HttpResponse::Found())
        .insert_header((header::LOCATION, authorization_url))
        .cookie(cookie)
        .finish())
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

    let outcome = match (query.error.as_deref(), query.code.as_deref()) {
        (Some(error), _) => Err(provider_error(error)),
        (None, Some(code)) if !code.is_empty() => state
            .sign_in
            .with_authorization_code(identity_provider, code, &cookie.flow())
            .await
            .map_err(ApiError::from),
        (None, _) => Err(ApiError::InvalidRequest(
            "The callback carries neither `code` nor `error`.".into(),
        )),
    };
    crate::metrics::record_sign_in_result(state, provider, &outcome);
    let mut response = match (outcome, cookie.redirect_uri()) {
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
    };
    response
        .add_removal_cookie(&FlowCookie::removal(browser.secure_cookies()))
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(response)
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

fn redirect_with_fragment(redirect_uri: &str, fragment: &str) -> HttpResponse {
    no_store(&mut HttpResponse::SeeOther())
        .insert_header((header::LOCATION, format!("{redirect_uri}#{fragment}")))
        .finish()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
