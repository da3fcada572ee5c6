//! TLS to PostgreSQL through rustls (ring), following libpq's `sslmode` table: `prefer` and
//! `require` encrypt without checking the certificate unless a root certificate is known
//! (then the chain is checked, as `verify-ca`); `verify-ca` checks the chain; `verify-full`
//! the chain and the host name. A root certificate comes from `sslrootcert=PATH`, else, as
//! in libpq, from `~/.postgresql/root.crt` if that file exists.

use super::url::{PostgresUrl, SslMode};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// The TLS set-up could not be built from the URL's settings.
#[derive(Debug, Error)]
pub enum TlsError {
    /// `verify-ca` / `verify-full` without a root certificate to verify against.
    #[error(
        "sslmode={0} needs a root certificate: set sslrootcert=PATH (libpq's default ~/.postgresql/root.crt does not exist)"
    )]
    NoRootCertificate(&'static str),
    /// The root certificate file cannot be read or holds no certificate.
    #[error("cannot read the root certificate '{path}': {reason}")]
    RootCertificate {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Rustls(String),
}

/// The rustls client configuration for the URL, or `None` for `sslmode=disable`.
pub(crate) fn client_config(url: &PostgresUrl) -> Result<Option<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let root_file = url.ssl_root_cert.clone().or_else(default_root_file);
    let verifier: Arc<dyn ServerCertVerifier> = match (url.ssl_mode, root_file) {
        (SslMode::Disable, _) => return Ok(None),
        (SslMode::Prefer | SslMode::Require, None) => Arc::new(AnyCertificate(provider.clone())),
        (SslMode::VerifyCa, None) => return Err(TlsError::NoRootCertificate("verify-ca")),
        (SslMode::VerifyFull, None) => return Err(TlsError::NoRootCertificate("verify-full")),
        (SslMode::Prefer | SslMode::Require | SslMode::VerifyCa, Some(root)) => {
            Arc::new(ChainOnly(webpki_verifier(&root, provider.clone())?))
        }
        (SslMode::VerifyFull, Some(root)) => webpki_verifier(&root, provider.clone())?,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Rustls(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(config))
}

fn default_root_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

fn webpki_verifier(
    root: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, TlsError> {
    let unreadable = |reason: String| TlsError::RootCertificate {
        path: root.display().to_string(),
        reason,
    };
    let mut roots = RootCertStore::empty();
    for certificate in
        CertificateDer::pem_file_iter(root).map_err(|error| unreadable(error.to_string()))?
    {
        let certificate = certificate.map_err(|error| unreadable(error.to_string()))?;
        roots
            .add(certificate)
            .map_err(|error| unreadable(error.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unreadable("no PEM certificate in the file".into()));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|error| TlsError::Rustls(error.to_string()))
}

/// libpq's `prefer`/`require` without a root certificate: the connection is encrypted, the
/// server's certificate is not checked (the handshake's signatures still are).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: the chain must lead to the root certificate; the name in the
/// certificate need not be the host's.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::connection::Connector;
    use super::*;
    use diesel::sql_types::Bool;
    use diesel_async::RunQueryDsl;
    use std::time::Duration;
    use zeropass_test_postgres::TestDatabase;

    #[derive(diesel::QueryableByName)]
    struct Encrypted {
        #[diesel(sql_type = Bool)]
        ssl: bool,
    }

    /// The test server's URL with `host` and the given query.
    fn url(database: &TestDatabase, host: &str, query: &str) -> PostgresUrl {
        let mut url = ::url::Url::parse(database.url()).unwrap();
        url.set_host(Some(host)).unwrap();
        url.set_query(Some(query));
        PostgresUrl::parse(url.as_str()).unwrap()
    }

    async fn encrypted(url: &PostgresUrl) -> Result<bool, String> {
        let connector = Connector::new(url, Duration::from_secs(3), Duration::from_secs(3))
            .map_err(|error| error.to_string())?;
        let mut conn = connector
            .connect()
            .await
            .map_err(|error| error.to_string())?;
        let row: Encrypted =
            diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .get_result(&mut conn)
                .await
                .map_err(|error| error.to_string())?;
        Ok(row.ssl)
    }

    /// The server's certificate file, when the server has TLS on and the file is readable.
    async fn server_certificate(database: &TestDatabase) -> Option<String> {
        let (client, connection) = tokio_postgres::connect(database.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT current_setting('ssl') = 'on', current_setting('ssl_cert_file')",
                &[],
            )
            .await
            .unwrap();
        let (on, file): (bool, String) = (row.get(0), row.get(1));
        (on && std::fs::read(&file).is_ok()).then_some(file)
    }

    #[tokio::test]
    async fn sslmodes_behave_as_in_libpq() {
        let Some(database) = TestDatabase::create().await else {
            return;
        };
        assert_eq!(
            encrypted(&url(&database, "127.0.0.1", "sslmode=disable")).await,
            Ok(false)
        );
        let Some(certificate) = server_certificate(&database).await else {
            // A server without TLS: `prefer` falls back to plain, `require` refuses.
            assert_eq!(
                encrypted(&url(&database, "127.0.0.1", "sslmode=prefer")).await,
                Ok(false)
            );
            assert!(
                encrypted(&url(&database, "127.0.0.1", "sslmode=require"))
                    .await
                    .is_err()
            );
            return;
        };
        // `prefer` and `require` encrypt without checking the (self-signed) certificate.
        for mode in ["prefer", "require"] {
            assert_eq!(
                encrypted(&url(&database, "127.0.0.1", &format!("sslmode={mode}"))).await,
                Ok(true),
                "{mode}"
            );
        }
        // With the certificate as root: verify-ca checks the chain only, so the address
        // 127.0.0.1 (not in the certificate) passes; verify-full also checks the name.
        let root = format!("sslrootcert={certificate}");
        assert_eq!(
            encrypted(&url(
                &database,
                "127.0.0.1",
                &format!("sslmode=verify-ca&{root}")
            ))
            .await,
            Ok(true)
        );
        let wrong_name = encrypted(&url(
            &database,
            "127.0.0.1",
            &format!("sslmode=verify-full&{root}"),
        ))
        .await;
        assert!(wrong_name.is_err(), "{wrong_name:?}");
        let names: Vec<String> = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-in", &certificate])
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .into_iter()
            .collect();
        if names
            .iter()
            .any(|subject| subject.contains("CN = localhost"))
        {
            assert_eq!(
                encrypted(&url(
                    &database,
                    "localhost",
                    &format!("sslmode=verify-full&{root}")
                ))
                .await,
                Ok(true)
            );
        }
        // A root certificate that did not sign the server's: refused even by `require`.
        let other = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(other.path(), OTHER_CA).unwrap();
        let other_root = format!("sslrootcert={}", other.path().display());
        assert!(
            encrypted(&url(
                &database,
                "127.0.0.1",
                &format!("sslmode=require&{other_root}")
            ))
            .await
            .is_err()
        );
    }

    #[test]
    fn verifying_modes_need_a_root_certificate_and_a_readable_one() {
        let without = PostgresUrl::parse("postgres://zp@db/zp?sslmode=verify-full").unwrap();
        if default_root_file().is_none() {
            assert!(matches!(
                client_config(&without),
                Err(TlsError::NoRootCertificate("verify-full"))
            ));
        }
        let missing = PostgresUrl::parse(
            "postgres://zp@db/zp?sslmode=verify-ca&sslrootcert=/nonexistent.pem",
        )
        .unwrap();
        let error = client_config(&missing).unwrap_err();
        assert!(error.to_string().contains("/nonexistent.pem"), "{error}");
    }

    /// A CA certificate unrelated to any server (generated for this test).
    const OTHER_CA: &str = include_str!("other_ca_for_tests.pem");
}
