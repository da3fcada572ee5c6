//! An example downstream service: one route, `GET /hello`, that answers `{"user": "<sub>"}`
//! only for a request carrying a zeropass access token that [`zeropass_verify`] accepts,
//! checked offline against zeropass's published keys (no `JWT_SECRET` here). The whole of the
//! integration is the `Authenticated` extractor in [`hello`]'s signature and the
//! `web::Data<Verifier>` registered in [`app`]; the rest is an ordinary actix-web service.
//! Its logic lives here rather than in `main.rs` so that zeropass's black-box tests can run it
//! in-process against a real zeropass.

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, get, web};
use serde::Serialize;
use std::io;
use std::net::TcpListener;
use thiserror::Error;
use zeropass_verify::actix::Authenticated;
use zeropass_verify::{BuildError, Verifier};

pub use zeropass_verify;

/// Where the default [`Config`] listens.
pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8081";

/// The service's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `ZEROPASS_URL`: zeropass's `PUBLIC_URL`, which is the tokens' `iss`.
    pub zeropass_url: String,
    /// `ZEROPASS_JWKS_URL`: where to fetch the keys when not at
    /// `{ZEROPASS_URL}/.well-known/jwks.json` (an internal address, say).
    pub jwks_url: Option<String>,
    /// `BIND_ADDR`, default [`DEFAULT_BIND_ADDR`].
    pub bind_addr: String,
}

/// The service could not be configured or could not serve.
#[derive(Debug, Error)]
pub enum Error {
    /// `ZEROPASS_URL` is not set.
    #[error("ZEROPASS_URL must be set to zeropass's PUBLIC_URL")]
    MissingZeropassUrl,
    /// The verifier refused the URLs.
    #[error("ZEROPASS_URL / ZEROPASS_JWKS_URL: {0}")]
    Verifier(#[from] BuildError),
    /// The HTTP server failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Config {
    /// The settings from the variables `var` looks up (`std::env::var` in `main`).
    ///
    /// # Errors
    /// [`Error::MissingZeropassUrl`].
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        Ok(Self {
            zeropass_url: set("ZEROPASS_URL").ok_or(Error::MissingZeropassUrl)?,
            jwks_url: set("ZEROPASS_JWKS_URL"),
            bind_addr: set("BIND_ADDR").unwrap_or_else(|| DEFAULT_BIND_ADDR.to_owned()),
        })
    }

    /// A verifier with zeropass-verify's defaults for this zeropass.
    ///
    /// # Errors
    /// [`Error::Verifier`] when a URL is not acceptable.
    pub fn verifier(&self) -> Result<Verifier, Error> {
        let mut builder = Verifier::builder(&self.zeropass_url);
        if let Some(url) = &self.jwks_url {
            builder = builder.jwks_url(url);
        }
        Ok(builder.build()?)
    }
}

/// What `GET /hello` answers.
#[derive(Debug, Serialize)]
pub struct Hello {
    /// The zeropass user id (`sub`) of the token.
    pub user: String,
}

/// `GET /hello`: reached only with a token the verifier accepts.
#[get("/hello")]
pub async fn hello(user: Authenticated) -> web::Json<Hello> {
    web::Json(Hello {
        user: user.sub.to_string(),
    })
}

/// The application: the verifier shared by every worker, and the protected route.
pub fn app(
    verifier: Verifier,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new().app_data(web::Data::new(verifier)).service(hello)
}

/// The HTTP server on `listener`, not yet awaited: await it to serve, or keep its
/// [`handle`](Server::handle) to stop it.
///
/// # Errors
/// When the listener cannot be used.
pub fn serve(listener: TcpListener, verifier: Verifier) -> io::Result<Server> {
    Ok(HttpServer::new(move || app(verifier.clone()))
        .listen(listener)?
        .run())
}

/// Serves `config`'s service on `listener` until the process is asked to stop.
///
/// # Errors
/// See [`Error`].
pub async fn run(listener: TcpListener, config: Config) -> Result<(), Error> {
    let verifier = config.verifier()?;
    tracing::info!(
        "serving GET /hello on http://{}, trusting tokens issued by {}",
        listener.local_addr()?,
        verifier.issuer()
    );
    serve(listener, verifier)?.await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use std::collections::HashMap;

    fn config_of(variables: &[(&str, &str)]) -> Result<Config, Error> {
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_env(|name| variables.get(name).cloned())
    }

    #[test]
    fn zeropass_url_is_required_and_the_rest_has_defaults() {
        assert!(matches!(config_of(&[]), Err(Error::MissingZeropassUrl)));
        let config = config_of(&[("ZEROPASS_URL", "https://auth.example.com")]).unwrap();
        assert_eq!(config.bind_addr, DEFAULT_BIND_ADDR);
        assert_eq!(config.jwks_url, None);
        assert_eq!(
            config.verifier().unwrap().issuer(),
            "https://auth.example.com"
        );
    }

    #[test]
    fn keys_over_plain_http_are_refused_unless_on_loopback() {
        let public = config_of(&[
            ("ZEROPASS_URL", "https://auth.example.com"),
            ("ZEROPASS_JWKS_URL", "http://keys.example.com/jwks.json"),
        ])
        .unwrap();
        assert!(matches!(public.verifier(), Err(Error::Verifier(_))));
        let loopback = config_of(&[
            ("ZEROPASS_URL", "https://auth.example.com"),
            ("ZEROPASS_JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ])
        .unwrap();
        assert!(loopback.verifier().is_ok());
    }

    #[actix_web::test]
    async fn a_request_without_a_token_is_refused_with_a_bearer_challenge() {
        // Nothing listens on port 9: a request that reached the key fetch would answer 503.
        let verifier = Verifier::builder("https://auth.example.com")
            .jwks_url("http://127.0.0.1:9/jwks.json")
            .build()
            .unwrap();
        let service = init_service(app(verifier)).await;
        let response = call_service(&service, TestRequest::get().uri("/hello").to_request()).await;
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers().get("www-authenticate").unwrap(),
            "Bearer"
        );
        let body: serde_json::Value = serde_json::from_slice(&read_body(response).await).unwrap();
        assert_eq!(body["status"], 401, "{body}");
    }
}
