//! Opening one PostgreSQL connection the way every connection of zeropass is opened: the
//! parsed URL's user, password, host, port and database, TLS per `sslmode`, a bound on the
//! whole opening (TCP, TLS, authentication), and the server-side `statement_timeout` set at
//! start-up (a startup `options` parameter, so it costs no extra round trip and holds for
//! every statement of the session), with TCP keepalives and `tcp_user_timeout` so that a
//! peer that vanished without closing is noticed.

use super::tls::{self, TlsError};
use super::url::{PostgresUrl, SslMode};
use diesel::{ConnectionError, ConnectionResult};
use diesel_async::AsyncPgConnection;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// What opens connections; cloned into the pool's set-up callback.
#[derive(Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
    tls: Option<MakeRustlsConnect>,
    connect_timeout: Duration,
}

/// Redacted: the tokio-postgres configuration holds the password.
impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// `statement_timeout` of zero means none (PostgreSQL's own meaning).
    pub(crate) fn new(
        url: &PostgresUrl,
        connect_timeout: Duration,
        statement_timeout: Duration,
    ) -> Result<Self, TlsError> {
        let mut config = tokio_postgres::Config::new();
        config
            .user(&url.user)
            .host(&url.host)
            .port(url.port)
            .dbname(&url.database)
            .application_name("zeropass")
            .connect_timeout(connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(connect_timeout.max(statement_timeout) + Duration::from_secs(5))
            .options(format!(
                "-c statement_timeout={}",
                statement_timeout.as_millis()
            ))
            .ssl_mode(match url.ssl_mode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    tokio_postgres::config::SslMode::Require
                }
            });
        if let Some(password) = &url.password {
            config.password(password);
        }
        let tls = tls::client_config(url)?.map(MakeRustlsConnect::new);
        Ok(Self {
            config,
            tls,
            connect_timeout,
        })
    }

    /// Opens one connection, within the connect timeout.
    pub(crate) async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        // The whole opening — TCP, TLS, authentication, diesel-async's session set-up — within
        // the one bound, so that a server that accepts and then says nothing cannot hold a caller.
        let limit = self.connect_timeout;
        tokio::time::timeout(limit, self.connect_unbounded())
            .await
            .map_err(|_| {
                ConnectionError::BadConnection(format!(
                    "no connection within {} ms",
                    limit.as_millis()
                ))
            })?
    }

    async fn connect_unbounded(&self) -> ConnectionResult<AsyncPgConnection> {
        let refused = |error: tokio_postgres::Error| ConnectionError::BadConnection(chain(&error));
        match &self.tls {
            None => {
                let (client, connection) = self
                    .config
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(refused)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
            Some(tls) => {
                let (client, connection) =
                    self.config.connect(tls.clone()).await.map_err(refused)?;
                AsyncPgConnection::try_from_client_and_connection(client, connection).await
            }
        }
    }
}

/// An error with its causes, `outer: inner: ...` (tokio-postgres's own message leaves out the
/// cause, which is the useful part: "Connection refused", the server's FATAL message).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
