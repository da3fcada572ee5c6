//! Wiring: builds each adapter from the configuration, hands them to the HTTP layer, and runs
//! the server until SIGINT or SIGTERM. Either signal stops it gracefully: no new connections,
//! in-flight requests finish (up to [`SHUTDOWN_GRACE`]), then `serve` returns and the process
//! exits 0. The signals are ours rather than actix's because actix treats SIGINT as a forced
//! stop and installs its handlers only once the server first runs — a signal arriving just
//! after the "listening" line would kill the process. With `JWT_ALGORITHM` `ES256` or `EdDSA`
//! the signing keys are loaded before listening and reloaded in the background while serving
//! (`crate::signing_keys`).

use crate::config::{Config, ConfigError, Signing};
use crate::signing_keys::{self, KeyReloader, ReloadingTask};
use actix_web::HttpServer;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use zeropass_domain::{AccessTokens, CodeGrant, IdentityProvider, SystemClock};
use zeropass_facebook::FacebookIdentityProvider;
use zeropass_google::GoogleIdentityProvider;
use zeropass_http::{AppState, BrowserFlow, Metrics};
use zeropass_jwt::{JwtAccessTokens, JwtConfig, JwtSecret, KeyRingAccessTokens, KeyRingConfig};
use zeropass_store::{Database, OpenOptions};

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
    let local_proxy_clients_unlimited = local_proxy_clients_are_unlimited(&config);
    let providers = identity_providers(&config)?;
    let database = open_database(&config).await?;
    let users = database.users();
    let secret = jwt_secret(config.jwt_secret)?;
    let browser = BrowserFlow::new(
        config.public_url.clone(),
        &secret.derive_key(FLOW_COOKIE_KEY_PURPOSE),
        config.allowed_redirect_uris,
    );
    let (tokens, key_reloading) = access_tokens(
        config.signing,
        &config.public_url,
        config.jwt_ttl_seconds,
        &database,
        secret,
    )
    .await?;
    let code_grant = CodeGrant::new(
        database.codes(),
        users.clone(),
        tokens.clone(),
        Arc::new(SystemClock),
    );
    let mut state = AppState::new(users, tokens, providers)
        .with_browser_flow(browser)
        .with_code_grant(code_grant)
        .with_protection(config.protection)
        .with_pool_gauge(move || database.pool_state());
    let metrics_listener = config
        .metrics_bind_addr
        .map(|address| bind("METRICS_BIND_ADDR", address))
        .transpose()?;
    if metrics_listener.is_some() {
        state = state.without_metrics_endpoint();
    }
    let metrics = state.metrics().clone();

    let (listener, address) = bind("BIND_ADDR", config.bind_addr)?;
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
    let metrics_server = metrics_listener
        .map(|(listener, address)| metrics_server(metrics, listener, address))
        .transpose()?;
    let stop_signal = stop_signal().map_err(|error| {
        ConfigError::new(
            "BIND_ADDR",
            format!("cannot listen for stop signals: {error}"),
        )
    })?;
    let handle = server.handle();
    let metrics_handle = metrics_server.as_ref().map(actix_web::dev::Server::handle);
    actix_web::rt::spawn(async move {
        let signal = stop_signal.await;
        tracing::info!(signal, "stopping: finishing in-flight requests");
        handle.stop(true).await;
        // Only then: the draining can be watched to its end.
        if let Some(metrics_handle) = metrics_handle {
            metrics_handle.stop(true).await;
        }
    });
    if local_proxy_clients_unlimited {
        tracing::warn!(
            "the sign-in rate limit is on, TRUSTED_PROXIES is empty and BIND_ADDR is a loopback address: behind a reverse proxy on this host every client arrives from the loopback and is not limited; set TRUSTED_PROXIES to the proxy's address (127.0.0.1, ::1)"
        );
    }
    tracing::info!(public_url = %config.public_url, "listening on http://{address}");
    tracing::info!("API docs at {}/docs", config.public_url);
    let (served, metrics_served) = tokio::join!(server, async move {
        match metrics_server {
            Some(metrics_server) => metrics_server.await,
            None => Ok(()),
        }
    });
    served.map_err(|error| ConfigError::new("BIND_ADDR", format!("server failed: {error}")))?;
    metrics_served.map_err(|error| {
        ConfigError::new("METRICS_BIND_ADDR", format!("server failed: {error}"))
    })?;
    drop(key_reloading);
    tracing::info!("stopped");
    Ok(())
}

/// The access-token adapter of the configured algorithm. HS256 signs with the secret itself.
/// ES256 and EdDSA sign with the stored keys: loaded now (a failure stops the start), then
/// reloaded every `JWT_KEY_RELOAD_SECONDS` by the returned task, which ends when dropped.
async fn access_tokens(
    signing: Signing,
    public_url: &str,
    ttl_seconds: u64,
    database: &Database,
    secret: JwtSecret,
) -> Result<(Arc<dyn AccessTokens>, Option<ReloadingTask>), ConfigError> {
    let ttl = Duration::from_secs(ttl_seconds);
    let settings = match signing {
        Signing::Hs256 => {
            let tokens = JwtAccessTokens::new(JwtConfig {
                secret,
                issuer: public_url.to_owned(),
                ttl,
            });
            return Ok((Arc::new(tokens), None));
        }
        Signing::Asymmetric(settings) => settings,
    };
    let tokens = Arc::new(KeyRingAccessTokens::new(
        &secret,
        KeyRingConfig {
            algorithm: settings.algorithm,
            issuer: public_url.to_owned(),
            ttl,
        },
    ));
    let keys = signing_keys::use_case(database, &secret, &settings, ttl_seconds);
    let reloader = Arc::new(KeyReloader::new(keys, Arc::clone(&tokens)));
    reloader.load().await?;
    let reloading = ReloadingTask::spawn(reloader, settings.reload_interval);
    Ok((tokens, Some(reloading)))
}

/// Binds a listener now, so that a taken port stops the start with a line naming `variable`.
fn bind(
    variable: &'static str,
    address: SocketAddr,
) -> Result<(TcpListener, SocketAddr), ConfigError> {
    let listener = TcpListener::bind(address).map_err(|error| {
        ConfigError::new(variable, format!("cannot listen on {address}: {error}"))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|error| ConfigError::new(variable, error.to_string()))?;
    Ok((listener, bound))
}

/// `/metrics` alone on its own listener (`METRICS_BIND_ADDR`): one worker is plenty for a
/// scraper, and it stops with the main server. Announced as `serving metrics on http://ADDR`.
fn metrics_server(
    metrics: Metrics,
    listener: TcpListener,
    address: SocketAddr,
) -> Result<actix_web::dev::Server, ConfigError> {
    let server = HttpServer::new(move || zeropass_http::metrics_app(metrics.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .listen(listener)
        .map_err(|error| {
            ConfigError::new(
                "METRICS_BIND_ADDR",
                format!("cannot listen on {address}: {error}"),
            )
        })?
        .run();
    tracing::info!("serving metrics on http://{address}");
    Ok(server)
}

/// Whether clients behind a reverse proxy on this host would all go unlimited: the sign-in
/// rate limit is on, no proxy is declared, and zeropass listens on a loopback address — where
/// its only peers are local processes, which the limit leaves alone.
fn local_proxy_clients_are_unlimited(config: &Config) -> bool {
    config.protection.auth_rate_limit.is_some()
        && config.protection.trusted_proxies.is_empty()
        && config.bind_addr.ip().to_canonical().is_loopback()
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

/// Opens the database: PostgreSQL is waited for up to 30 s while unreachable, then the start
/// fails with one line naming `DATABASE_URL` and the cause (never the password).
async fn open_database(config: &Config) -> Result<Database, ConfigError> {
    let database = Database::open(&config.database_url, &open_options(config))
        .await
        .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?;
    tracing::info!(database = %config.database_url, "database ready");
    Ok(database)
}

/// The database settings of the configuration. SQLite's pool, unless `DATABASE_POOL_SIZE` says
/// otherwise: one connection per HTTP worker (actix's default count: one per available core),
/// for the reads each worker makes on its own thread, and two for writers; SQLite serialises
/// writers anyway, and every connection holds up to 2 MiB of page cache, so no more than that.
pub(crate) fn open_options(config: &Config) -> OpenOptions {
    let workers = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    OpenOptions {
        pool_size: config.database.pool_size,
        sqlite_default_pool_size: u32::try_from(workers).unwrap_or(u32::MAX).saturating_add(2),
        request_threads: u32::try_from(workers).unwrap_or(u32::MAX),
        connect_timeout: config.database.connect_timeout,
        statement_timeout: config.database.statement_timeout,
        ..OpenOptions::default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .unwrap()
    }

    #[test]
    fn a_loopback_listener_without_trusted_proxies_leaves_proxied_clients_unlimited() {
        assert!(local_proxy_clients_are_unlimited(&config(&[])));
        assert!(local_proxy_clients_are_unlimited(&config(&[(
            "BIND_ADDR",
            "[::ffff:127.0.0.1]:8080"
        )])));
        assert!(local_proxy_clients_are_unlimited(&config(&[(
            "BIND_ADDR",
            "[::1]:8080"
        )])));
    }

    #[test]
    fn a_declared_proxy_a_public_listener_or_no_limit_needs_no_warning() {
        assert!(!local_proxy_clients_are_unlimited(&config(&[(
            "TRUSTED_PROXIES",
            "127.0.0.1"
        )])));
        assert!(!local_proxy_clients_are_unlimited(&config(&[(
            "BIND_ADDR",
            "[::]:8080"
        )])));
        assert!(!local_proxy_clients_are_unlimited(&config(&[(
            "BIND_ADDR",
            "0.0.0.0:8080"
        )])));
        assert!(!local_proxy_clients_are_unlimited(&config(&[(
            "AUTH_RATE_LIMIT_PER_MINUTE",
            "0"
        )])));
    }
}
