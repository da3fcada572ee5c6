//! `GET /health`: whether this instance can serve sign-ins (the database answers) and which
//! providers are configured. Its body is a health report, also when unavailable.

use super::no_store;
use crate::dto::HealthReport;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// Health of this instance.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers.", body = HealthReport),
        (status = 503, description = "The database does not answer.", body = HealthReport,
            example = json!({"status": "unavailable", "database": "unavailable", "providers": []})),
    )
)]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let database_ok = match state.users.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "health check: database unavailable");
            false
        }
    };
    let report = HealthReport {
        status: if database_ok { "ok" } else { "unavailable" },
        database: if database_ok { "ok" } else { "unavailable" },
        providers: state
            .providers
            .configured()
            .map(|provider| provider.as_str())
            .collect(),
    };
    let mut response = if database_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    no_store(&mut response).json(report)
}
