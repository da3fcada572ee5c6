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
