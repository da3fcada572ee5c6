//! Configuration from the environment, exactly as the contract's table names it, parsed once
//! at start-up into typed values. Any wrong value is a [`ConfigError`] naming the variable, so
//! the server can stop with one clear line instead of failing later at the first request.
//! An empty value counts as unset (a `.env` line `GOOGLE_CLIENT_ID=` means "no Google").

use secrecy::SecretString;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};
use zeropass_facebook::FacebookConfig;
use zeropass_google::GoogleConfig;
use zeropass_http::{CorsOrigins, Protection, RateLimit, TrustedProxies};
use zeropass_jwt::JwtSecret;
use zeropass_store::DatabaseUrl;

/// The configuration of one zeropass process.
#[derive(Debug)]
pub struct Config {
    /// `BIND_ADDR`: where to listen.
    pub bind_addr: SocketAddr,
    /// `METRICS_BIND_ADDR`: where `/metrics` is served alone; `None`: on `BIND_ADDR`, with the API.
    pub metrics_bind_addr: Option<SocketAddr>,
    /// `PUBLIC_URL`: external base URL, without a trailing slash; the `iss` of our tokens.
    pub public_url: String,
    /// `DATABASE_URL`: `sqlite://PATH`, `sqlite://:memory:` or `postgres://...` (shown, and
    /// debug-printed, without its password).
    pub database_url: DatabaseUrl,
    /// `DATABASE_POOL_SIZE`, `DATABASE_CONNECT_TIMEOUT_SECONDS`,
    /// `DATABASE_STATEMENT_TIMEOUT_SECONDS`.
    pub database: DatabaseSettings,
    /// `JWT_SECRET`: the HS256 key; `None` means "generate one for this process".
    pub jwt_secret: Option<JwtSecret>,
    /// `JWT_TTL_SECONDS`: lifetime of issued access tokens.
    pub jwt_ttl_seconds: u64,
    /// `GOOGLE_*`: set when both client id and secret are.
    pub google: Option<GoogleConfig>,
    /// `FACEBOOK_*`: set when both app id and secret are.
    pub facebook: Option<FacebookConfig>,
    /// `ALLOWED_REDIRECT_URIS`: client return URIs, matched exactly.
    #[allow(
        dead_code,
        reason = "validated at start-up now; read by the browser sign-in flow"
    )]
    pub allowed_redirect_uris: Vec<String>,
    /// `RUST_LOG`: the log filter.
    pub log_filter: String,
    /// `LOG_FORMAT`: human-readable text (default) or one JSON object per line.
    pub log_format: LogFormat,
    /// `TRUSTED_PROXIES`, `CORS_ALLOWED_ORIGINS`, `AUTH_RATE_LIMIT_*`.
    pub protection: Protection,
}

/// The database tuning variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `DATABASE_POOL_SIZE`: connections kept; `None`: the backend's default (PostgreSQL 8,
    /// SQLite one per worker plus two).
    pub pool_size: Option<u32>,
    /// `DATABASE_CONNECT_TIMEOUT_SECONDS`: bound on opening a connection and on waiting for a
    /// free one.
    pub connect_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_SECONDS`: PostgreSQL cancels any statement running longer.
    pub statement_timeout: Duration,
}

/// Default `DATABASE_CONNECT_TIMEOUT_SECONDS`.
pub const DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS: u32 = 5;
/// Default `DATABASE_STATEMENT_TIMEOUT_SECONDS`.
pub const DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS: u32 = 5;
/// Largest pool accepted: beyond, the server's `max_connections` (100 by default) is the limit.
const MAX_DATABASE_POOL_SIZE: u32 = 1000;
/// Longest database timeout accepted (one hour): longer is a mistake, not a setting.
const MAX_DATABASE_TIMEOUT_SECONDS: u32 = 3600;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

/// Every variable zeropass reads: the contract's (v0.1 and v0.2) and zeropass's own additions.
/// The one list of them: a new variable is one more line here. A name in `.env`, or a
/// zeropass-looking name in the environment, that is not on it draws a warning at start-up
/// (`crate::environment`), and a unit test checks that [`Config::from_lookup`] reads no other.
pub const KNOWN_VARIABLES: &[&str] = &[
    "BIND_ADDR",
    "PUBLIC_URL",
    "DATABASE_URL",
    "DATABASE_POOL_SIZE",
    "DATABASE_CONNECT_TIMEOUT_SECONDS",
    "DATABASE_STATEMENT_TIMEOUT_SECONDS",
    "JWT_SECRET",
    "JWT_TTL_SECONDS",
    "JWT_ALGORITHM",
    "JWT_KEY_ROTATION_DAYS",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_ISSUER_URL",
    "GOOGLE_EXTRA_AUDIENCES",
    "FACEBOOK_APP_ID",
    "FACEBOOK_APP_SECRET",
    "FACEBOOK_GRAPH_URL",
    "FACEBOOK_DIALOG_URL",
    "FACEBOOK_PKCE",
    "ALLOWED_REDIRECT_URIS",
    "RUST_LOG",
    "LOG_FORMAT",
    "METRICS_BIND_ADDR",
    "TRUSTED_PROXIES",
    "CORS_ALLOWED_ORIGINS",
    "AUTH_RATE_LIMIT_PER_MINUTE",
    "AUTH_RATE_LIMIT_BURST",
];

/// Default sustained sign-in requests per client and minute.
pub const DEFAULT_AUTH_RATE_LIMIT_PER_MINUTE: u32 = 60;
/// Default sign-in requests a client may make at once.
pub const DEFAULT_AUTH_RATE_LIMIT_BURST: u32 = 20;

/// Longest token lifetime accepted: zeropass's tokens are short-lived and cannot be revoked.
pub const MAX_JWT_TTL_SECONDS: u64 = 24 * 60 * 60;

/// A configuration value is wrong. Displays as `VARIABLE: what is wrong` and never shows a
/// secret's value.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] for the first wrong variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`ConfigError`] for the first wrong variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let bind_addr = socket_address(
            "BIND_ADDR",
            &var("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
        )?;
        Ok(Self {
            bind_addr,
            metrics_bind_addr: var("METRICS_BIND_ADDR")
                .map(|raw| socket_address("METRICS_BIND_ADDR", &raw))
                .transpose()?,
            public_url: public_url(var("PUBLIC_URL"))?,
            database_url: DatabaseUrl::parse(
                &var("DATABASE_URL").unwrap_or_else(|| "sqlite://zeropass.db".into()),
            )
            .map_err(|error| ConfigError::new("DATABASE_URL", error.to_string()))?,
            database: database_settings(&var)?,
            jwt_secret: var("JWT_SECRET")
                .map(|secret| {
                    JwtSecret::new(secret.into_bytes())
                        .map_err(|error| ConfigError::new("JWT_SECRET", error.to_string()))
                })
                .transpose()?,
            jwt_ttl_seconds: jwt_ttl(var("JWT_TTL_SECONDS"))?,
            google: google(&var)?,
            facebook: facebook(&var)?,
            allowed_redirect_uris: redirect_uris(var("ALLOWED_REDIRECT_URIS"))?,
            log_filter: var("RUST_LOG").unwrap_or_else(|| "info".into()),
            log_format: log_format(var("LOG_FORMAT"))?,
            protection: protection(&var)?,
        })
    }
}

fn socket_address(variable: &'static str, raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.parse().map_err(|_| {
        ConfigError::new(
            variable,
            format!("'{raw}' is not a socket address such as 127.0.0.1:8080"),
        )
    })
}

fn log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError::new(
            "LOG_FORMAT",
            format!("'{other}' must be 'text' or 'json'"),
        )),
    }
}

fn protection(var: &impl Fn(&str) -> Option<String>) -> Result<Protection, ConfigError> {
    let trusted_proxies = TrustedProxies::parse(&var("TRUSTED_PROXIES").unwrap_or_default())
        .map_err(|error| ConfigError::new("TRUSTED_PROXIES", error.to_string()))?;
    let cors_origins = list(var("CORS_ALLOWED_ORIGINS"))
        .into_iter()
        .map(|raw| match Url::parse(&raw) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.path() == "/"
                    && url.query().is_none() =>
            {
                Ok(url.origin().ascii_serialization())
            }
            _ => Err(ConfigError::new(
                "CORS_ALLOWED_ORIGINS",
                format!("'{raw}' is not an origin such as https://app.example.com"),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let per_minute = whole_number(
        "AUTH_RATE_LIMIT_PER_MINUTE",
        var("AUTH_RATE_LIMIT_PER_MINUTE"),
        DEFAULT_AUTH_RATE_LIMIT_PER_MINUTE,
    )?;
    let burst = whole_number(
        "AUTH_RATE_LIMIT_BURST",
        var("AUTH_RATE_LIMIT_BURST"),
        DEFAULT_AUTH_RATE_LIMIT_BURST,
    )?;
    if per_minute > 0 && burst == 0 {
        return Err(ConfigError::new(
            "AUTH_RATE_LIMIT_BURST",
            "must be at least 1 while AUTH_RATE_LIMIT_PER_MINUTE is set",
        ));
    }
    Ok(Protection {
        trusted_proxies,
        cors_origins: CorsOrigins::new(cors_origins),
        auth_rate_limit: (per_minute > 0).then(|| RateLimit::new(per_minute, burst)),
    })
}

fn database_settings(
    var: &impl Fn(&str) -> Option<String>,
) -> Result<DatabaseSettings, ConfigError> {
    let pool_size = var("DATABASE_POOL_SIZE")
        .map(|raw| bounded_number("DATABASE_POOL_SIZE", &raw, 1, MAX_DATABASE_POOL_SIZE))
        .transpose()?;
    let seconds = |variable: &'static str, default: u32| {
        var(variable)
            .map_or(Ok(default), |raw| {
                bounded_number(variable, &raw, 1, MAX_DATABASE_TIMEOUT_SECONDS)
            })
            .map(|seconds| Duration::from_secs(u64::from(seconds)))
    };
    Ok(DatabaseSettings {
        pool_size,
        connect_timeout: seconds(
            "DATABASE_CONNECT_TIMEOUT_SECONDS",
            DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS,
        )?,
        statement_timeout: seconds(
            "DATABASE_STATEMENT_TIMEOUT_SECONDS",
            DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
        )?,
    })
}

fn bounded_number(
    variable: &'static str,
    raw: &str,
    min: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    raw.parse()
        .ok()
        .filter(|value| (min..=max).contains(value))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                format!("'{raw}' is not a whole number from {min} to {max}"),
            )
        })
}

fn whole_number(
    variable: &'static str,
    value: Option<String>,
    default: u32,
) -> Result<u32, ConfigError> {
    value.map_or(Ok(default), |raw| {
        raw.parse()
            .map_err(|_| ConfigError::new(variable, format!("'{raw}' is not a whole number")))
    })
}

fn public_url(value: Option<String>) -> Result<String, ConfigError> {
    let raw = value.unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let url = Url::parse(&raw).map_err(|error| {
        ConfigError::new("PUBLIC_URL", format!("'{raw}' is not a URL ({error})"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            format!("'{raw}' must be an http:// or https:// URL with a host"),
        ));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            format!("'{raw}' must not carry credentials, a query or a fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn jwt_ttl(value: Option<String>) -> Result<u64, ConfigError> {
    let Some(raw) = value else { return Ok(3600) };
    match raw.parse::<u64>() {
        Ok(seconds) if (1..=MAX_JWT_TTL_SECONDS).contains(&seconds) => Ok(seconds),
        _ => Err(ConfigError::new(
            "JWT_TTL_SECONDS",
            format!("'{raw}' must be a whole number of seconds from 1 to {MAX_JWT_TTL_SECONDS}"),
        )),
    }
}

/// Both halves of a provider's credentials, or neither.
fn credentials(
    var: &impl Fn(&str) -> Option<String>,
    id_name: &'static str,
    secret_name: &'static str,
) -> Result<Option<(String, SecretString)>, ConfigError> {
    match (var(id_name), var(secret_name)) {
        (Some(id), Some(secret)) => Ok(Some((id, SecretString::from(secret)))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            secret_name,
            format!("must be set when {id_name} is"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            id_name,
            format!("must be set when {secret_name} is"),
        )),
    }
}

fn google(var: &impl Fn(&str) -> Option<String>) -> Result<Option<GoogleConfig>, ConfigError> {
    let issuer_url = provider_url(
        "GOOGLE_ISSUER_URL",
        var("GOOGLE_ISSUER_URL"),
        "https://accounts.google.com",
    )?;
    let extra_audiences = list(var("GOOGLE_EXTRA_AUDIENCES"));
    Ok(
        credentials(var, "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")?.map(
            |(client_id, client_secret)| GoogleConfig {
                client_id,
                client_secret,
                issuer_url,
                extra_audiences,
            },
        ),
    )
}

fn facebook(var: &impl Fn(&str) -> Option<String>) -> Result<Option<FacebookConfig>, ConfigError> {
    let graph_url = provider_url(
        "FACEBOOK_GRAPH_URL",
        var("FACEBOOK_GRAPH_URL"),
        "https://graph.facebook.com/v21.0",
    )?;
    let dialog_url = provider_url(
        "FACEBOOK_DIALOG_URL",
        var("FACEBOOK_DIALOG_URL"),
        "https://www.facebook.com/v21.0/dialog/oauth",
    )?;
    let pkce = facebook_pkce(var("FACEBOOK_PKCE"))?;
    Ok(
        credentials(var, "FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET")?.map(|(app_id, app_secret)| {
            FacebookConfig {
                app_id,
                app_secret,
                graph_url,
                dialog_url,
                pkce,
            }
        }),
    )
}

/// `FACEBOOK_PKCE`: whether the Facebook browser flow uses PKCE; on unless set to false.
fn facebook_pkce(value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(ConfigError::new(
            "FACEBOOK_PKCE",
            format!(
                "'{}' must be true or false (or 1 or 0)",
                value.unwrap_or_default()
            ),
        )),
    }
}

/// An identity provider's URL: https, or plain http to a loopback host only (local fakes).
fn provider_url(
    variable: &'static str,
    value: Option<String>,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = value.unwrap_or_else(|| default.to_owned());
    let url = Url::parse(&raw)
        .map_err(|error| ConfigError::new(variable, format!("'{raw}' is not a URL ({error})")))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if url.host().is_some_and(|host| is_loopback(&host)) => Ok(url),
        "http" => Err(ConfigError::new(
            variable,
            format!("'{raw}' uses plain http, which is allowed only for loopback hosts"),
        )),
        _ => Err(ConfigError::new(
            variable,
            format!("'{raw}' must be an https:// URL"),
        )),
    }
}

pub(crate) fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(address) => IpAddr::V4(*address).is_loopback(),
        Host::Ipv6(address) => IpAddr::V6(*address).is_loopback(),
    }
}

/// Client return URIs: absolute (custom schemes allowed for deep links), without a fragment —
/// the fragment is where zeropass puts the token.
fn redirect_uris(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    list(value)
        .into_iter()
        .map(|raw| match Url::parse(&raw) {
            Ok(url) if url.fragment().is_none() => Ok(raw),
            Ok(_) => Err(ConfigError::new(
                "ALLOWED_REDIRECT_URIS",
                format!("'{raw}' must not contain a fragment"),
            )),
            Err(error) => Err(ConfigError::new(
                "ALLOWED_REDIRECT_URIS",
                format!("'{raw}' is not an absolute URI ({error})"),
            )),
        })
        .collect()
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn error_of(pairs: &[(&str, &str)]) -> (&'static str, String) {
        let error = parse(pairs).unwrap_err();
        (error.variable, error.to_string())
    }

    #[test]
    fn a_postgres_url_is_accepted_and_never_shown_with_its_password() {
        let config = parse(&[(
            "DATABASE_URL",
            "postgres://zp:hunter2@db.internal:5432/zeropass?sslmode=require",
        )])
        .unwrap();
        assert!(
            config
                .database_url
                .to_string()
                .contains("zp:***@db.internal")
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        let (variable, message) = error_of(&[(
            "DATABASE_URL",
            "postgres://zp:hunter2@db.internal/zeropass?sslmode=sometimes",
        )]);
        assert_eq!(variable, "DATABASE_URL");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn the_database_tuning_variables_are_read_and_bad_values_named() {
        let config = parse(&[
            ("DATABASE_POOL_SIZE", "16"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "2"),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "30"),
        ])
        .unwrap();
        assert_eq!(config.database.pool_size, Some(16));
        assert_eq!(config.database.connect_timeout, Duration::from_secs(2));
        assert_eq!(config.database.statement_timeout, Duration::from_secs(30));
        for (variable, value) in [
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_POOL_SIZE", "eight"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "-1"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "0"),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "1.5"),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "99999"),
        ] {
            assert_eq!(
                error_of(&[(variable, value)]).0,
                variable,
                "{variable}={value}"
            );
        }
    }

    #[test]
    fn no_configuration_gives_the_contract_defaults() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.bind_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.metrics_bind_addr, None, "/metrics is on BIND_ADDR");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert_eq!(config.database_url.to_string(), "sqlite://zeropass.db");
        assert_eq!(config.database.pool_size, None);
        assert_eq!(config.database.connect_timeout, Duration::from_secs(5));
        assert_eq!(config.database.statement_timeout, Duration::from_secs(5));
        assert!(config.jwt_secret.is_none());
        assert_eq!(config.jwt_ttl_seconds, 3600);
        assert!(config.google.is_none() && config.facebook.is_none());
        assert!(config.allowed_redirect_uris.is_empty());
        assert_eq!(config.log_filter, "info");
    }

    #[test]
    fn a_short_jwt_secret_is_refused_without_showing_it() {
        let (variable, message) = error_of(&[("JWT_SECRET", "0123456789")]);
        assert_eq!(variable, "JWT_SECRET");
        assert!(!message.contains("0123456789"), "{message}");
    }

    #[test]
    fn wrong_values_name_their_variable() {
        assert_eq!(error_of(&[("BIND_ADDR", "localhost")]).0, "BIND_ADDR");
        assert_eq!(
            error_of(&[("METRICS_BIND_ADDR", "9090")]).0,
            "METRICS_BIND_ADDR"
        );
        assert_eq!(error_of(&[("PUBLIC_URL", "not a url")]).0, "PUBLIC_URL");
        assert_eq!(
            error_of(&[("PUBLIC_URL", "ftp://example.com")]).0,
            "PUBLIC_URL"
        );
        assert_eq!(error_of(&[("JWT_TTL_SECONDS", "0")]).0, "JWT_TTL_SECONDS");
        assert_eq!(error_of(&[("JWT_TTL_SECONDS", "1h")]).0, "JWT_TTL_SECONDS");
        assert_eq!(
            error_of(&[("JWT_TTL_SECONDS", "86401")]).0,
            "JWT_TTL_SECONDS"
        );
        assert_eq!(
            error_of(&[("ALLOWED_REDIRECT_URIS", "/relative")]).0,
            "ALLOWED_REDIRECT_URIS"
        );
        assert_eq!(
            error_of(&[("ALLOWED_REDIRECT_URIS", "https://app.example/cb#x")]).0,
            "ALLOWED_REDIRECT_URIS"
        );
    }

    #[test]
    fn provider_credentials_come_in_pairs() {
        assert_eq!(
            error_of(&[("GOOGLE_CLIENT_ID", "id")]).0,
            "GOOGLE_CLIENT_SECRET"
        );
        assert_eq!(
            error_of(&[("FACEBOOK_APP_SECRET", "s")]).0,
            "FACEBOOK_APP_ID"
        );
        let config = parse(&[
            ("GOOGLE_CLIENT_ID", "id"),
            ("GOOGLE_CLIENT_SECRET", "s"),
            ("GOOGLE_EXTRA_AUDIENCES", "ios, android,,"),
        ])
        .unwrap();
        let google = config.google.unwrap();
        assert_eq!(google.client_secret.expose_secret(), "s");
        assert_eq!(google.extra_audiences, ["ios", "android"]);
    }

    #[test]
    fn facebook_pkce_is_on_unless_turned_off_and_anything_else_names_the_variable() {
        let facebook = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("FACEBOOK_APP_ID", "id"), ("FACEBOOK_APP_SECRET", "s")];
            pairs.extend_from_slice(extra);
            parse(&pairs).unwrap().facebook.unwrap().pkce
        };
        assert!(facebook(&[]));
        assert!(facebook(&[("FACEBOOK_PKCE", "TRUE")]));
        assert!(facebook(&[("FACEBOOK_PKCE", "1")]));
        assert!(!facebook(&[("FACEBOOK_PKCE", "false")]));
        assert!(!facebook(&[("FACEBOOK_PKCE", " 0 ")]));
        for bad in ["yes-please", "2", "off"] {
            let (variable, message) = error_of(&[("FACEBOOK_PKCE", bad)]);
            assert_eq!(variable, "FACEBOOK_PKCE", "{bad}");
            assert!(message.starts_with("FACEBOOK_PKCE: "), "{message}");
        }
    }

    #[test]
    fn plain_http_provider_urls_are_accepted_only_for_loopback_hosts() {
        for ok in [
            "http://127.0.0.1:9000",
            "http://127.8.0.1",
            "http://localhost:1",
            "http://[::1]:5",
            "https://issuer.example",
        ] {
            assert!(parse(&[("GOOGLE_ISSUER_URL", ok)]).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://issuer.example",
            "http://localhost.example.com",
            "file:///etc/passwd",
        ] {
            assert_eq!(
                error_of(&[("GOOGLE_ISSUER_URL", bad)]).0,
                "GOOGLE_ISSUER_URL",
                "{bad}"
            );
        }
        assert_eq!(
            error_of(&[("FACEBOOK_GRAPH_URL", "http://graph.example")]).0,
            "FACEBOOK_GRAPH_URL"
        );
        assert_eq!(
            error_of(&[("FACEBOOK_DIALOG_URL", "nope")]).0,
            "FACEBOOK_DIALOG_URL"
        );
    }

    #[test]
    fn empty_values_count_as_unset_and_public_url_loses_its_trailing_slash() {
        let config = parse(&[
            ("GOOGLE_CLIENT_ID", ""),
            ("GOOGLE_CLIENT_SECRET", " "),
            ("PUBLIC_URL", "https://auth.example.com/"),
        ])
        .unwrap();
        assert!(config.google.is_none());
        assert_eq!(config.public_url, "https://auth.example.com");
    }

    #[test]
    fn abuse_and_browser_settings_parse_and_refuse_nonsense() {
        let config = parse(&[
            ("TRUSTED_PROXIES", "10.0.0.0/8, ::1"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:3000/",
            ),
            ("AUTH_RATE_LIMIT_PER_MINUTE", "0"),
            ("LOG_FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.protection.auth_rate_limit.is_none());
        assert_eq!(
            config.protection.cors_origins,
            CorsOrigins::new(vec![
                "https://app.example.com".into(),
                "http://localhost:3000".into()
            ])
        );
        assert!(
            parse(&[]).unwrap().protection.auth_rate_limit.is_some(),
            "the sign-in rate limit is on by default"
        );
        assert_eq!(
            error_of(&[("TRUSTED_PROXIES", "proxy.local")]).0,
            "TRUSTED_PROXIES"
        );
        assert_eq!(
            error_of(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com/path")]).0,
            "CORS_ALLOWED_ORIGINS"
        );
        assert_eq!(
            error_of(&[("CORS_ALLOWED_ORIGINS", "*")]).0,
            "CORS_ALLOWED_ORIGINS"
        );
        assert_eq!(
            error_of(&[("AUTH_RATE_LIMIT_PER_MINUTE", "-1")]).0,
            "AUTH_RATE_LIMIT_PER_MINUTE"
        );
        assert_eq!(
            error_of(&[("AUTH_RATE_LIMIT_BURST", "0")]).0,
            "AUTH_RATE_LIMIT_BURST"
        );
        assert_eq!(error_of(&[("LOG_FORMAT", "xml")]).0, "LOG_FORMAT");
    }

    #[test]
    fn every_variable_the_configuration_reads_is_a_known_one() {
        let asked = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })
        .unwrap();
        let asked = asked.into_inner();
        assert!(asked.len() >= 20, "{asked:?}");
        for name in &asked {
            assert!(
                KNOWN_VARIABLES.contains(&name.as_str()),
                "{name} is read but not listed"
            );
        }
    }

    #[test]
    fn redirect_uris_may_use_custom_schemes() {
        let config = parse(&[(
            "ALLOWED_REDIRECT_URIS",
            "https://app.example/done, com.example.app:/oauth",
        )])
        .unwrap();
        assert_eq!(
            config.allowed_redirect_uris,
            ["https://app.example/done", "com.example.app:/oauth"]
        );
    }

    #[test]
    fn metrics_may_have_a_listener_of_their_own() {
        let config = parse(&[("METRICS_BIND_ADDR", "[::1]:9090")]).unwrap();
        assert_eq!(
            config.metrics_bind_addr,
            Some("[::1]:9090".parse().unwrap())
        );
    }
}
