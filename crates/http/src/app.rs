//! The actix-web application: routes, extractor limits and the problem+json safety net, in one
//! builder that the server runs and that tests (with mock adapters) can run in-process — and
//! the metrics-only application for a listener of its own (`METRICS_BIND_ADDR`).

use crate::bare_errors::{
    json_config, not_found, path_config, problem_for_bare_errors, query_config,
};
use crate::metrics::{self, Metrics, metrics_middleware};
use crate::middleware;
use crate::openapi;
use crate::routes::{docs, health, jwks, sign_in, token, users};
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

/// The whole HTTP API over this state. `/metrics` is part of it unless the state says it is
/// served elsewhere ([`AppState::without_metrics_endpoint`]): then it is a 404 here.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics = web::Data::new(state.metrics.clone());
    // The middleware reads only the protection settings, not the whole state (so `middleware`
    // does not need `state`, which needs `middleware`).
    let protection = web::Data::new(state.protection.clone());
    let serves_metrics = state.serves_metrics;
    App::new()
        .app_data(web::Data::new(state))
        .app_data(metrics)
        .app_data(protection)
        .app_data(json_config())
        .app_data(path_config())
        .app_data(query_config())
        // Innermost first: CORS answers before any handler (and the `/auth` scope's rate
        // limit, which runs once the path is routed); the problem safety net sees every
        // response under it; headers and the request id cover all.
        .wrap(from_fn(middleware::cors))
        .wrap(problem_for_bare_errors())
        .wrap(from_fn(middleware::security_headers))
        .wrap(from_fn(middleware::request_id))
        // Outermost, so it sees every final status, 429s and 404s included.
        .wrap(metrics_middleware())
        .configure(|config| routes(config, serves_metrics))
        .default_service(web::to(not_found))
}

/// `/metrics` alone, for a listener of its own: every other path is a 404 problem. The
/// requests it answers are not counted (the scrapes would only measure themselves).
pub fn metrics_app(
    metrics: Metrics,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(metrics))
        .wrap(problem_for_bare_errors())
        .service(web::resource("/metrics").get(metrics::metrics))
        .default_service(web::to(not_found))
}

fn routes(config: &mut web::ServiceConfig, serves_metrics: bool) {
    config.service(web::resource("/health").get(health::health));
    config.service(web::resource("/.well-known/jwks.json").get(jwks::jwks));
    if serves_metrics {
        config.service(web::resource("/metrics").get(metrics::metrics));
    }
    config
        .service(
            web::resource("/users/me")
                .get(users::get_me)
                .delete(users::delete_me),
        )
        // The rate limit wraps the routed scope, not a string prefix of the raw path: actix
        // routes on the percent-decoded path, so `/%61uth/google/start` lands here too and is
        // counted like `/auth/google/start`. Unknown `/auth/...` paths are counted as well.
        .service(
            web::scope("/auth")
                .wrap(from_fn(middleware::rate_limit))
                .service(web::resource("/google/start").get(sign_in::google_start))
                .service(web::resource("/google/callback").get(sign_in::google_callback))
                .service(web::resource("/google/token").post(sign_in::google_token))
                .service(web::resource("/facebook/start").get(sign_in::facebook_start))
                .service(web::resource("/facebook/callback").get(sign_in::facebook_callback))
                .service(web::resource("/facebook/token").post(sign_in::facebook_token))
                .service(web::resource("/token").post(token::code_token)),
        )
        .service(web::resource(docs::OPENAPI_JSON).get(openapi::openapi_json))
        .configure(docs::configure);
}
