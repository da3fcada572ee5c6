//! The actix-web application: routes, extractor limits and the problem+json safety net, in one
//! builder that the server runs and that tests (with mock adapters) can run in-process.

use crate::bare_errors::{
    json_config, not_found, path_config, problem_for_bare_errors, query_config,
};
use crate::metrics::{self, metrics_middleware};
use crate::middleware;
use crate::openapi;
use crate::routes::{docs, health, sign_in, users};
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

/// The whole HTTP API over this state.
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
    App::new()
        .app_data(web::Data::new(state))
        .app_data(json_config())
        .app_data(path_config())
        .app_data(query_config())
        // Innermost first: the rate limit and CORS answer before any handler; the problem
        // safety net sees every response under it; headers and the request id cover all.
        .wrap(from_fn(middleware::rate_limit))
        .wrap(from_fn(middleware::cors))
        .wrap(problem_for_bare_errors())
        .wrap(from_fn(middleware::security_headers))
        .wrap(from_fn(middleware::request_id))
        // Outermost, so it sees every final status, 429s and 404s included.
        .wrap(metrics_middleware())
        .configure(routes)
        .default_service(web::to(not_found))
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/health").get(health::health))
        .service(web::resource("/metrics").get(metrics::metrics))
        .service(
            web::resource("/users/me")
                .get(users::get_me)
                .delete(users::delete_me),
        )
        .service(web::resource("/auth/google/start").get(sign_in::google_start))
        .service(web::resource("/auth/google/callback").get(sign_in::google_callback))
        .service(web::resource("/auth/google/token").post(sign_in::google_token))
        .service(web::resource("/auth/facebook/start").get(sign_in::facebook_start))
        .service(web::resource("/auth/facebook/callback").get(sign_in::facebook_callback))
        .service(web::resource("/auth/facebook/token").post(sign_in::facebook_token))
        .service(web::resource(docs::OPENAPI_JSON).get(openapi::openapi_json))
        .configure(docs::configure);
}
