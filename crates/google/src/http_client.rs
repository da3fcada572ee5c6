//! openidconnect's and oauth2's way into zeropass's bounded outbound client
//! ([`zeropass_outbound_http`]: timeouts, size cap, no redirects): their `AsyncHttpClient`
//! trait implemented over it. Google's endpoints are public URLs, so transport errors name them.

use crate::config::Tuning;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use url::Url;
use zeropass_outbound_http::{BoundedClient, UrlsInErrors};

pub(crate) use zeropass_outbound_http::{HttpError, unavailable, unavailable_because};

/// The bounded client for Google's endpoints. Cheap to clone (reqwest shares its pool).
#[derive(Debug, Clone)]
pub(crate) struct HttpClient(BoundedClient);

impl HttpClient {
    /// Builds the client for the issuer at `issuer_url` (a loopback issuer bypasses proxies).
    ///
    /// # Errors
    /// When reqwest cannot initialise (TLS).
    pub(crate) fn new(tuning: &Tuning, issuer_url: &Url) -> Result<Self, reqwest::Error> {
        BoundedClient::new(&tuning.limits, issuer_url, UrlsInErrors::Quoted).map(Self)
    }

    /// Sends one request prepared by openidconnect or oauth2 and reads its capped body.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Request)?;
        let response = self.0.send(request).await?;
        let mut http_response = HttpResponse::new(response.body);
        *http_response.status_mut() = response.status;
        *http_response.headers_mut() = response.headers;
        Ok(http_response)
    }
}

impl<'c> AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
