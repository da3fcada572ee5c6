//! `GET /health`: whether this instance can serve sign-ins (the database answers) and which
//! providers are configured and ready. Its body is a health report, also when unavailable.

use super::no_store;
use crate::dto::HealthReport;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use std::collections::BTreeMap;

/// Health of this instance.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers.", body = HealthReport),
        (status = 503, description = "The database does not answer.", body = HealthReport,
            example = json!({"status": "unavailable", "version": "0.1.0", "database": "unavailable", "providers": {"google": "ready"}})),
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
        version: env!("CARGO_PKG_VERSION"),
        database: if database_ok { "ok" } else { "unavailable" },
        providers: provider_readiness(&state).await,
    };
    let mut response = if database_ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    no_store(&mut response).json(report)
}

/// `ready` or `unavailable` for each configured provider. A provider that is not ready does not
/// make the instance unhealthy: the other provider and `/users/me` still work, and a load
/// balancer must not pull every instance because Google is down.
async fn provider_readiness(state: &AppState) -> BTreeMap<&'static str, &'static str> {
    let mut readiness = BTreeMap::new();
    for provider in state.providers.configured() {
        let ready = match state.providers.get(provider) {
            Ok(adapter) => adapter.is_ready().await,
            Err(_) => false,
        };
        readiness.insert(
            provider.as_str(),
            if ready { "ready" } else { "unavailable" },
        );
    }
    readiness
}
