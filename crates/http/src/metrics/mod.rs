//! Prometheus metrics: one registry per [`AppState`](crate::AppState) (never the process-global default, so
//! tests and several apps in one process keep their figures apart), the families zeropass
//! exports, and `GET /metrics` in the text exposition format.
//!
//! Every label value comes from a closed set — a route *pattern*, a method from the standard
//! list, a status number, a provider name, a problem `code`, an operation and failure kind
//! named here — so the number of series stays bounded whatever clients send, and no email,
//! token, code or raw path can ever become a label.

mod middleware;
#[cfg(test)]
mod tests;

pub(crate) use middleware::metrics_middleware;

use crate::problem::ApiError;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Duration;
use zeropass_domain::Provider;

/// The content type of the text exposition format.
pub(crate) const TEXT_EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `route` label of a request that matched no route (404s): raw paths would let any
/// client create series at will.
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

/// The `outcome` label of a successful sign-in; failures carry their problem `code`.
pub(crate) const SIGN_IN_OK: &str = "ok";

/// Request latencies: from a millisecond (a `/health` on a warm pool) to the 10 s provider
/// timeout that bounds the slowest sign-in.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Identity-provider call latencies: network round trips, up to and past the 10 s timeout.
const PROVIDER_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0];

/// Reads the database pool: `(connections, idle)`, connections counting idle and in-use ones.
pub type PoolStateFn = Arc<dyn Fn() -> (u32, u32) + Send + Sync>;

/// One call of the `IdentityProvider` port, as the `operation` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderOperation {
    AuthorizationUrl,
    CompleteAuthorization,
    VerifyNativeCredential,
}

impl ProviderOperation {
    pub(crate) const ALL: [Self; 3] = [
        Self::AuthorizationUrl,
        Self::CompleteAuthorization,
        Self::VerifyNativeCredential,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationUrl => "authorization_url",
            Self::CompleteAuthorization => "complete_authorization",
            Self::VerifyNativeCredential => "verify_native_credential",
        }
    }
}

/// Why a provider call failed, as the `kind` label names it: the provider could not be used
/// (unreachable, slow, garbage: a 502), or it answered and did not vouch (a 4xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProviderFailure {
    Unavailable,
    Rejected,
}

impl ProviderFailure {
    pub(crate) const ALL: [Self; 2] = [Self::Unavailable, Self::Rejected];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Rejected => "rejected",
        }
    }
}

/// zeropass's metric families and the registry that exports them. Cloning shares them.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
    pool_state: Option<PoolStateFn>,
}

struct Families {
    registry: Registry,
    http_duration: HistogramVec,
    sign_ins: IntCounterVec,
    provider_duration: HistogramVec,
    provider_failures: IntCounterVec,
    pool_connections: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("pool_gauge", &self.pool_state.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry holding zeropass's families, all empty.
    #[must_use]
    #[allow(
        clippy::expect_used,
        reason = "the names, labels and buckets are constants: registering them in a fresh registry cannot fail (a test builds one)"
    )]
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "zeropass_http_requests_duration_seconds",
                "Time to answer an HTTP request, by route pattern (`unmatched` for unknown paths), method and status.",
            )
            .buckets(HTTP_BUCKETS.to_vec()),
            &["route", "method", "status"],
        )
        .expect("valid histogram");
        let sign_ins = IntCounterVec::new(
            Opts::new(
                "zeropass_sign_ins_total",
                "Sign-in attempts, by provider and outcome (`ok` or the problem code).",
            ),
            &["provider", "outcome"],
        )
        .expect("valid counter");
        let provider_duration = HistogramVec::new(
            HistogramOpts::new(
                "zeropass_identity_provider_duration_seconds",
                "Time of identity-provider calls, successful or not, by provider and operation.",
            )
            .buckets(PROVIDER_BUCKETS.to_vec()),
            &["provider", "operation"],
        )
        .expect("valid histogram");
        let provider_failures = IntCounterVec::new(
            Opts::new(
                "zeropass_identity_provider_failures_total",
                "Failed identity-provider calls, by provider, operation and kind (`unavailable`: unreachable, slow or garbage; `rejected`: the provider did not vouch).",
            ),
            &["provider", "operation", "kind"],
        )
        .expect("valid counter");
        let pool_connections = IntGaugeVec::new(
            Opts::new(
                "zeropass_db_pool_connections",
                "Database pool connections by state (`idle`, `in_use`), read at each scrape.",
            ),
            &["state"],
        )
        .expect("valid gauge");
        for collector in [
            Box::new(http_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(sign_ins.clone()),
            Box::new(provider_duration.clone()),
            Box::new(provider_failures.clone()),
            Box::new(pool_connections.clone()),
        ] {
            registry
                .register(collector)
                .expect("distinct names in a fresh registry");
        }
        Self {
            families: Arc::new(Families {
                registry,
                http_duration,
                sign_ins,
                provider_duration,
                provider_failures,
                pool_connections,
            }),
            pool_state: None,
        }
    }

    /// The registry, for adding collectors of one's own.
    #[must_use]
    pub fn registry(&self) -> &Registry {
        &self.families.registry
    }

    /// Reads the pool gauges from `pool_state` at each scrape.
    pub(crate) fn set_pool_state(&mut self, pool_state: PoolStateFn) {
        self.pool_state = Some(pool_state);
    }

    /// Creates the series a dashboard or an alert expects for a configured provider, at zero,
    /// so that a rate over them exists before the first sign-in or failure.
    pub(crate) fn initialise_provider(&self, provider: Provider) {
        let families = &self.families;
        families
            .sign_ins
            .with_label_values(&[provider.as_str(), SIGN_IN_OK]);
        for operation in ProviderOperation::ALL {
            for failure in ProviderFailure::ALL {
                families.provider_failures.with_label_values(&[
                    provider.as_str(),
                    operation.as_str(),
                    failure.as_str(),
                ]);
            }
        }
    }

    pub(crate) fn observe_request(
        &self,
        route: &str,
        method: &'static str,
        status: actix_web::http::StatusCode,
        elapsed: Duration,
    ) {
        // `as_str`, not `to_string`: no allocation on every request.
        self.families
            .http_duration
            .with_label_values(&[route, method, status.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one sign-in attempt of `provider`: `outcome` is [`SIGN_IN_OK`] or the problem
    /// `code` of the failure ([`ApiError::code`]) — a fixed string, never anything from the
    /// request.
    pub(crate) fn count_sign_in(&self, provider: Provider, outcome: &'static str) {
        self.families
            .sign_ins
            .with_label_values(&[provider.as_str(), outcome])
            .inc();
    }

    /// Counts one sign-in attempt from its result: `ok`, or the error's problem `code`.
    pub(crate) fn count_sign_in_result<T>(&self, provider: Provider, result: &Result<T, ApiError>) {
        let outcome = match result {
            Ok(_) => SIGN_IN_OK,
            Err(error) => error.code(),
        };
        self.count_sign_in(provider, outcome);
    }

    pub(crate) fn observe_provider_call(
        &self,
        provider: Provider,
        operation: ProviderOperation,
        elapsed: Duration,
        failure: Option<ProviderFailure>,
    ) {
        let families = &self.families;
        families
            .provider_duration
            .with_label_values(&[provider.as_str(), operation.as_str()])
            .observe(elapsed.as_secs_f64());
        if let Some(failure) = failure {
            families
                .provider_failures
                .with_label_values(&[provider.as_str(), operation.as_str(), failure.as_str()])
                .inc();
        }
    }

    /// The registry in the text exposition format, pool gauges read now.
    ///
    /// # Errors
    /// The encoder's, which only fails on families it cannot represent (none of ours).
    pub(crate) fn render(&self) -> Result<String, prometheus::Error> {
        if let Some(pool_state) = &self.pool_state {
            let (connections, idle) = pool_state();
            let gauges = &self.families.pool_connections;
            gauges.with_label_values(&["idle"]).set(i64::from(idle));
            gauges
                .with_label_values(&["in_use"])
                .set(i64::from(connections.saturating_sub(idle)));
        }
        TextEncoder::new().encode_to_string(&self.families.registry.gather())
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus metrics (text exposition format 0.0.4): HTTP latency by route and status, sign-ins by provider and outcome, identity-provider latency and failures, database pool use.",
            content_type = "text/plain", body = String),
    )
)]
pub(crate) async fn metrics(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics
        .render()
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, TEXT_EXPOSITION))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
