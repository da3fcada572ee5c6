//! Wiring: builds each adapter from the configuration, hands them to the HTTP layer, and runs
//! the server until SIGINT or SIGTERM. Either signal stops it gracefully: no new connections,
//! in-flight requests finish (up to [`SHUTDOWN_GRACE`]), then `serve` returns and the process
//! exits 0. The signals are ours rather than actix's because actix treats SIGINT as a forced
//! stop and installs its handlers only once the server first runs — a signal arriving just
//! after the "listening" line would kill the process.

use crate::config::{Config, ConfigError};
use actix_web::HttpServer;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use zeropass_domain::IdentityProvider;
use zeropass_facebook::FacebookIdentityProvider;
use zeropass_google::GoogleIdentityProvider;
use zeropass_http::{AppState, BrowserFlow};
use zeropass_jwt::{JwtAccessTokens, JwtConfig, JwtSecret};
use zeropass_sqlite::{DatabaseLocation, PoolOptions, SqliteUserRepository};

/// The flow cookie's key is derived from `JWT_SECRET` under this label, so every instance
/// sharing the secret can open the cookies the others sealed.
const FLOW_COOKIE_KEY_PURPOSE: &str = "flow-cookie";

/// Slow clients (slowloris): a connection must deliver its request head within this time or is
/// answered 408 and closed.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection may take to acknowledge.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long an idle keep-alive connection is kept open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Concurrent connections per worker: bounds memory on a small VM (each costs a few KiB).
const MAX_CONNECTIONS_PER_WORKER: usize = 2048;

/// How long in-flight requests may take to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Builds everything from the configuration and serves until a stop signal.
///
/// # Errors
/// [`ConfigError`] naming the variable whose value could not be used.
pub async fn serve(config: Config) -> Result<(), ConfigError> {
    let providers = identity_providers(&config)?;
    let users = Arc::new(open_database(&config.database_url)?);
    let secret = jwt_secret(config.jwt_secret)?;
    let browser = BrowserFlow::new(
        config.public_url.clone(),
        &secret.derive_key(FLOW_COOKIE_KEY_PURPOSE),
        config.allowed_redirect_uris,
    );
    let tokens = Arc::new(JwtAccessTokens::new(JwtConfig {
        secret,
        issuer: config.public_url.clone(),
        ttl: Duration::from_secs(config.jwt_ttl_seconds),
    }));
    let pool = Arc::clone(&users);
    let state = AppState::new(users, tokens, providers)
        .with_browser_flow(browser)
        .with_protection(config.protection)
        .with_pool_gauge(move || pool.pool_state());

    let listener = TcpListener::bind(config.bind_addr).map_err(|error| {
        ConfigError::new(
            "BIND_ADDR",
            format!("cannot listen on {}: {error}", config.bind_addr),
        )
    })?;
    let address = listener
        .local_addr()
        .map_err(|error| ConfigError::new("BIND_ADDR", error.to_string()))?;
    let server = HttpServer::new(move || zeropass_http::app(state.clone()))
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .max_connections(MAX_CONNECTIONS_PER_WORKER)
        .listen(listener)
        .map_err(|error| {
            ConfigError::new("BIND_ADDR", format!("cannot listen on {address}: {error}"))
        })?
        .run();
    let stop_signal = stop_signal().map_err(|error| {
        ConfigError::new(
            "BIND_ADDR",
            format!("cannot listen for stop signals: {error}"),
        )
    })?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        let signal = stop_signal.await;
        tracing::info!(signal, "stopping: finishing in-flight requests");
        handle.stop(true).await;
    });
    tracing::info!(public_url = %config.public_url, "listening on http://{address}");
    tracing::info!("API docs at {}/docs", config.public_url);
    match server.await {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(())
        }
        Err(error) => Err(ConfigError::new(
            "BIND_ADDR",
            format!("server failed: {error}"),
        )),
    }
}

/// Registers SIGINT and SIGTERM handlers now, and resolves with the name of the first to arrive.
fn stop_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

fn open_database(database_url: &str) -> Result<SqliteUserRepository, ConfigError> {
    let location = DatabaseLocation::parse(database_url)
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?;
    let repository = SqliteUserRepository::open_with(&location, &pool_options())
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?;
    tracing::info!(database = %database_url, "database ready");
    Ok(repository)
}

/// One connection per HTTP worker (actix's default count: one per available core), for the
/// reads each worker makes on its own thread, and two for writers; SQLite serialises writers
/// anyway. Every connection holds up to 2 MiB of page cache, so no more than that.
fn pool_options() -> PoolOptions {
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    PoolOptions {
        max_connections: u32::try_from(workers).unwrap_or(u32::MAX).saturating_add(2),
        ..PoolOptions::default()
    }
}

fn jwt_secret(configured: Option<JwtSecret>) -> Result<JwtSecret, ConfigError> {
    if let Some(secret) = configured {
        return Ok(secret);
    }
    let secret = JwtSecret::generate().map_err(|error| {
        ConfigError::new(
            "JWT_SECRET",
            format!("unset, and no random key could be generated: {error}"),
        )
    })?;
    tracing::warn!(
        "JWT_SECRET is unset: using a random key for this process; issued tokens will not survive a restart or work on another instance"
    );
    Ok(secret)
}

/// The identity providers whose credentials are configured. Building them does no network
/// I/O (Facebook needs none ahead of a sign-in); Google's discovery is started in the
/// background and retried on demand, so a provider that is down never stops the server (its
/// endpoints answer 502 until it is back).
fn identity_providers(config: &Config) -> Result<Vec<Arc<dyn IdentityProvider>>, ConfigError> {
    let mut providers: Vec<Arc<dyn IdentityProvider>> = Vec::new();
    if let Some(google) = &config.google {
        let google = Arc::new(
            GoogleIdentityProvider::new(google.clone())
                .map_err(|error| ConfigError::new("GOOGLE_CLIENT_ID", error.to_string()))?,
        );
        let warming = Arc::clone(&google);
        actix_web::rt::spawn(async move { warming.warm_up().await });
        providers.push(google);
        tracing::info!("Google sign-in configured");
    }
    if let Some(facebook) = &config.facebook {
        let facebook = FacebookIdentityProvider::new(facebook.clone())
            .map_err(|error| ConfigError::new("FACEBOOK_APP_ID", error.to_string()))?;
        providers.push(Arc::new(facebook));
        tracing::info!("Facebook sign-in configured");
    }
    announce_unconfigured(config.google.is_some(), config.facebook.is_some());
    Ok(providers)
}

/// Says once, at start-up, which providers are missing — a configuration state, so the
/// requests it refuses are only logged at debug level. With none at all every `/auth/*`
/// endpoint answers 503, which deserves a warning.
fn announce_unconfigured(google: bool, facebook: bool) {
    const GOOGLE: &str =
        "Google sign-in not configured (set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET)";
    const FACEBOOK: &str =
        "Facebook sign-in not configured (set FACEBOOK_APP_ID and FACEBOOK_APP_SECRET)";
    match (google, facebook) {
        (false, false) => tracing::warn!(
            "no sign-in provider is configured: every /auth/* endpoint answers 503 provider_not_configured; {GOOGLE}; {FACEBOOK}"
        ),
        (false, true) => tracing::info!("{GOOGLE}: its endpoints answer 503"),
        (true, false) => tracing::info!("{FACEBOOK}: its endpoints answer 503"),
        (true, true) => {}
    }
}
