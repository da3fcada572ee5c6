//! The HTTP client openidconnect and oauth2 talk to Google through: a `reqwest` client with
//! connect and total timeouts and no redirects, whose response bodies are read chunk by chunk
//! and abandoned as soon as they grow past a cap, so a slow or hostile endpoint can neither
//! hang a sign-in nor make zeropass buffer an unbounded body.

use crate::config::Tuning;
use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use thiserror::Error;
use zeropass_domain::IdentityError;

/// Why a call to Google produced no usable HTTP response.
#[derive(Debug, Error)]
pub(crate) enum HttpError {
    /// The request could not be built from what openidconnect prepared.
    #[error("the request could not be built")]
    Request(#[source] reqwest::Error),
    /// Connecting, sending or reading failed, or took longer than the timeouts.
    #[error("{}", describe(.0))]
    Transport(#[source] reqwest::Error),
    /// Google answered with a server error: whatever the body says, it is not available.
    #[error("the server answered {0}")]
    ServerError(reqwest::StatusCode),
    /// The body grew past the cap.
    #[error("the response body exceeds {0} bytes")]
    TooLarge(usize),
}

/// An upstream failure as a plain message: the source kept inside
/// [`IdentityError::Unavailable`], so that whatever logs it later sees the whole chain but
/// never a response body (a token response could hold tokens).
#[derive(Debug, Error)]
#[error("{0}")]
pub(crate) struct Upstream(String);

/// [`IdentityError::Unavailable`] for `error`, described as `context: error: its source: ...`.
pub(crate) fn unavailable(context: &str, error: &dyn std::error::Error) -> IdentityError {
    let mut message = format!("{context}: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    IdentityError::Unavailable(Box::new(Upstream(message)))
}

/// [`IdentityError::Unavailable`] with a fixed description.
pub(crate) fn unavailable_because(reason: &str) -> IdentityError {
    IdentityError::Unavailable(Box::new(Upstream(reason.to_owned())))
}

/// A short description of a transport failure (its URL is one of Google's public endpoints).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "failed while reading the body"
    } else {
        "failed"
    };
    match error.url() {
        Some(url) => format!("the request to {url} {what}"),
        None => format!("the request {what}"),
    }
}

/// A bounded HTTP client for Google's endpoints. Cheap to clone (reqwest shares its pool).
#[derive(Clone)]
pub(crate) struct HttpClient {
    inner: reqwest::Client,
    max_response_bytes: usize,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds the client. `use_system_proxy` is false for a loopback issuer (tests, local
    /// development): a proxy from the environment cannot reach this machine's loopback.
    ///
    /// # Errors
    /// When reqwest cannot initialise (TLS).
    pub(crate) fn new(tuning: &Tuning, use_system_proxy: bool) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(tuning.connect_timeout)
            .timeout(tuning.total_timeout)
            .user_agent(concat!("zeropass/", env!("CARGO_PKG_VERSION")));
        if !use_system_proxy {
            builder = builder.no_proxy();
        }
        Ok(Self {
            inner: builder.build()?,
            max_response_bytes: tuning.max_response_bytes,
        })
    }

    /// Sends one request and reads at most `max_response_bytes` of its body.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let request = reqwest::Request::try_from(request).map_err(HttpError::Request)?;
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(HttpError::Transport)?;
        let cap = self.max_response_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > u64::try_from(cap).unwrap_or(u64::MAX))
        {
            return Err(HttpError::TooLarge(cap));
        }
        let status = response.status();
        if status.is_server_error() {
            return Err(HttpError::ServerError(status));
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::Transport)? {
            if body.len().saturating_add(chunk.len()) > cap {
                return Err(HttpError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        let mut http_response = HttpResponse::new(body);
        *http_response.status_mut() = status;
        *http_response.headers_mut() = headers;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// Serves one connection: reads the request head, answers `head`, then streams `body_bytes`
    /// bytes of JSON-ish padding in HTTP/1.1 chunks (no Content-Length) until done or the
    /// client hangs up. Returns the server's URL and how many body bytes it managed to send.
    fn chunked_server(body_bytes: usize) -> (String, std::thread::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/big", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0_u8; 4096];
            let _ = stream.read(&mut head).unwrap();
            let start = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            stream.write_all(start.as_bytes()).unwrap();
            let chunk = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            while sent < body_bytes {
                let size = chunk.len().min(body_bytes - sent);
                let frame = [format!("{size:x}\r\n").as_bytes(), &chunk[..size], b"\r\n"].concat();
                if stream.write_all(&frame).is_err() {
                    return sent;
                }
                sent += size;
            }
            let _ = stream.write_all(b"0\r\n\r\n");
            sent
        });
        (url, server)
    }

    fn client() -> HttpClient {
        let tuning = Tuning {
            total_timeout: Duration::from_secs(5),
            ..Tuning::default()
        };
        HttpClient::new(&tuning, false).unwrap()
    }

    fn get(url: &str) -> HttpRequest {
        openidconnect::http::Request::get(url)
            .body(Vec::new())
            .unwrap()
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_cap_is_abandoned_not_buffered() {
        // Far more than socket buffers can absorb, so `sent` shows where the client hung up.
        let endless = 64 * 1024 * 1024;
        let (url, server) = chunked_server(endless);
        let client = client();
        let result = client.send(get(&url)).await;
        assert!(matches!(result, Err(HttpError::TooLarge(_))), "{result:?}");
        drop(client);
        // Joined off the runtime: the connection task must run to hang up on the server.
        let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        assert!(
            sent < endless,
            "the client read the whole body ({sent} bytes)"
        );
    }

    #[tokio::test]
    async fn a_streamed_body_under_the_cap_is_read_whole() {
        let (url, server) = chunked_server(MAX_BODY_FOR_TEST);
        let response = client().send(get(&url)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body().len(), MAX_BODY_FOR_TEST);
        let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        assert_eq!(sent, MAX_BODY_FOR_TEST);
    }

    const MAX_BODY_FOR_TEST: usize = crate::config::MAX_RESPONSE_BYTES - 1;
}
