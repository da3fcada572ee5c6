//! `DATABASE_URL=postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...&sslrootcert=PATH]`
//! (or `postgresql://`), parsed once into what the connections need. The password is a
//! secret from the moment it is read: [`PostgresUrl`]'s `Display` and `Debug` print the URL
//! with the password replaced by `***`, and no parse error repeats any part of the URL.

use std::path::PathBuf;
use thiserror::Error;

/// libpq's `sslmode`s that zeropass supports; they behave as in libpq's table
/// (<https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-SSLMODE-STATEMENTS>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS if the server offers it, else plain; the certificate is not checked (unless a root
    /// certificate is given, which then applies as for `require`). libpq's default.
    Prefer,
    /// TLS or nothing. The certificate is not checked, unless a root certificate is given
    /// (`sslrootcert`, or `~/.postgresql/root.crt` exists): then its chain is (as
    /// `verify-ca`), not the host name.
    Require,
    /// TLS, the chain checked against the root certificate, the host name not.
    VerifyCa,
    /// TLS, the chain checked against the root certificate and the host name against it.
    VerifyFull,
}

/// A parsed PostgreSQL `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_root_cert: Option<PathBuf>,
}

/// Why a `postgres://` URL is refused. The messages never repeat the URL or a value from it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidPostgresUrl {
    /// Not a URL at all.
    #[error("not a valid URL: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")]
    Malformed,
    /// No host (Unix sockets are not supported).
    #[error("the host is missing: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")]
    MissingHost,
    /// No user name.
    #[error("the user is missing: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")]
    MissingUser,
    /// A percent-encoded part is not UTF-8.
    #[error("the {0} is not valid UTF-8 once percent-decoded")]
    Encoding(&'static str),
    /// `sslmode` has a value libpq does not define, or one zeropass does not support.
    #[error("sslmode must be disable, prefer, require, verify-ca or verify-full")]
    SslMode,
    /// A query parameter zeropass does not interpret.
    #[error("unsupported parameter '{0}' (supported: sslmode, sslrootcert)")]
    Parameter(String),
}

impl PostgresUrl {
    /// Parses a `postgres://` or `postgresql://` URL.
    ///
    /// # Errors
    /// [`InvalidPostgresUrl`] for another shape, a missing host or user, an unknown `sslmode`
    /// or an unsupported parameter.
    pub fn parse(raw: &str) -> Result<Self, InvalidPostgresUrl> {
        let url = url::Url::parse(raw).map_err(|_| InvalidPostgresUrl::Malformed)?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(InvalidPostgresUrl::Malformed);
        }
        let host = match url.host() {
            Some(url::Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(address)) => address.to_string(),
            _ => return Err(InvalidPostgresUrl::MissingHost),
        };
        let user = decode(url.username(), "user")?;
        if user.is_empty() {
            return Err(InvalidPostgresUrl::MissingUser);
        }
        let password = url
            .password()
            .map(|password| decode(password, "password"))
            .transpose()?;
        let database = decode(url.path().trim_start_matches('/'), "database name")?;
        let mut parsed = Self {
            database: if database.is_empty() {
                user.clone()
            } else {
                database
            },
            user,
            password,
            host,
            port: url.port().unwrap_or(5432),
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
        };
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "sslmode" => parsed.ssl_mode = parse_ssl_mode(&value)?,
                "sslrootcert" => parsed.ssl_root_cert = Some(PathBuf::from(value.as_ref())),
                other => return Err(InvalidPostgresUrl::Parameter(other.to_owned())),
            }
        }
        Ok(parsed)
    }

    /// The `sslmode` asked for.
    #[must_use]
    pub const fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }
}

fn decode(part: &str, what: &'static str) -> Result<String, InvalidPostgresUrl> {
    url::form_urlencoded::parse(format!("x={}", part.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .ok_or(InvalidPostgresUrl::Encoding(what))
}

fn parse_ssl_mode(value: &str) -> Result<SslMode, InvalidPostgresUrl> {
    Ok(match value {
        "disable" => SslMode::Disable,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        // `allow` (plain first, TLS only if the server insists) would be the one mode whose
        // first attempt sends credentials in clear to a server that offers TLS: not offered.
        _ => return Err(InvalidPostgresUrl::SslMode),
    })
}

/// The URL as an operator may see it: everything but the password.
impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let password = if self.password.is_some() { ":***" } else { "" };
        write!(
            f,
            "postgres://{}{password}@{host}:{}/{}",
            self.user, self.port, self.database
        )?;
        let mode = match self.ssl_mode {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        };
        write!(f, "?sslmode={mode}")?;
        if let Some(root) = &self.ssl_root_cert {
            write!(f, "&sslrootcert={}", root.display())?;
        }
        Ok(())
    }
}

/// Redacted like `Display`.
impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_gives_every_part() {
        let url = PostgresUrl::parse(
            "postgresql://zp:s%40cret@db.example:6543/zeropass?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .unwrap();
        assert_eq!(url.user, "zp");
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!(url.host, "db.example");
        assert_eq!(url.port, 6543);
        assert_eq!(url.database, "zeropass");
        assert_eq!(url.ssl_mode, SslMode::VerifyFull);
        assert_eq!(url.ssl_root_cert, Some(PathBuf::from("/etc/ca.pem")));
    }

    #[test]
    fn defaults_are_libpqs_port_database_and_sslmode() {
        let url = PostgresUrl::parse("postgres://ada@127.0.0.1").unwrap();
        assert_eq!(url.port, 5432);
        assert_eq!(url.database, "ada");
        assert_eq!(url.ssl_mode, SslMode::Prefer);
        assert_eq!(url.password, None);
    }

    #[test]
    fn display_and_debug_hide_the_password() {
        let url =
            PostgresUrl::parse("postgres://zp:hunter2@db:5432/zeropass?sslmode=require").unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("postgres://zp:***@db:5432/zeropass"),
                "{shown}"
            );
        }
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for (raw, expected) in [
            ("postgres://", InvalidPostgresUrl::MissingHost),
            ("postgres://:hunter2@db/zp", InvalidPostgresUrl::MissingUser),
            (
                "postgres://zp:hunter2@db/zp?sslmode=allow",
                InvalidPostgresUrl::SslMode,
            ),
            (
                "postgres://zp:hunter2@db/zp?sslmode=hunter2",
                InvalidPostgresUrl::SslMode,
            ),
            (
                "postgres://zp:hunter2@db/zp?password=hunter2",
                InvalidPostgresUrl::Parameter("password".into()),
            ),
            ("mysql://zp:hunter2@db/zp", InvalidPostgresUrl::Malformed),
        ] {
            let error = PostgresUrl::parse(raw).unwrap_err();
            assert_eq!(error, expected, "{raw}");
            assert!(!error.to_string().contains("hunter2"));
        }
    }
}
