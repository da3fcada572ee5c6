//! The HTTP client the adapter talks to the Graph API through: a `reqwest` client with connect
//! and total timeouts and no redirects, whose response bodies are read chunk by chunk and
//! abandoned as soon as they grow past a cap, so a slow or hostile endpoint can neither hang a
//! sign-in nor make zeropass buffer an unbounded body. Graph requests carry secrets in their
//! query (the app secret, access tokens, proofs), so no error of this module keeps the URL.
//!
//! The Google adapter has its own twin of this module, built around openidconnect's client
//! trait; adapters do not depend on each other, so the few shared lines are duplicated.

use crate::config::Tuning;
use reqwest::StatusCode;
use std::fmt;
use thiserror::Error;
use url::Url;
use zeropass_domain::IdentityError;

/// Why a call to the Graph API produced no usable HTTP response.
#[derive(Debug, Error)]
pub(crate) enum HttpError {
    /// Connecting, sending or reading failed, or took longer than the timeouts. The error has
    /// been stripped of its URL.
    #[error("{}", describe(.0))]
    Transport(#[source] reqwest::Error),
    /// Facebook answered with a server error: whatever the body says, it is not available.
    #[error("the server answered {0}")]
    ServerError(StatusCode),
    /// The body grew past the cap.
    #[error("the response body exceeds {0} bytes")]
    TooLarge(usize),
}

impl HttpError {
    fn transport(error: reqwest::Error) -> Self {
        Self::Transport(error.without_url())
    }
}

/// A short description of a transport failure, without the URL (its query holds secrets).
fn describe(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "the request could not connect"
    } else if error.is_body() || error.is_decode() {
        "the request failed while reading the body"
    } else {
        "the request failed"
    }
}

/// An upstream failure as a plain message: the source kept inside
/// [`IdentityError::Unavailable`], so that whatever logs it later sees the whole chain but
/// never a response body or a request URL (either could hold tokens).
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

/// A response of at most the capped size, with a status below 500.
#[derive(Clone)]
pub(crate) struct Response {
    /// The HTTP status (2xx, 3xx or 4xx).
    pub(crate) status: StatusCode,
    /// The whole body.
    pub(crate) body: Vec<u8>,
}

/// Redacted: a Graph response body can hold an access token.
impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A bounded HTTP client for the Graph API. Cheap to clone (reqwest shares its pool).
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
    /// Builds the client. `use_system_proxy` is false for a loopback Graph URL (tests, local
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
            inner: builder.build().map_err(reqwest::Error::without_url)?,
            max_response_bytes: tuning.max_response_bytes,
        })
    }

    /// Sends one `GET` (once: nothing here retries) and reads at most `max_response_bytes` of
    /// its body.
    ///
    /// # Errors
    /// [`HttpError`] on transport failures and timeouts, 5xx answers and oversized bodies.
    pub(crate) async fn get(&self, url: Url) -> Result<Response, HttpError> {
        let mut response = self
            .inner
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(HttpError::transport)?;
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
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(HttpError::transport)? {
            if body.len().saturating_add(chunk.len()) > cap {
                return Err(HttpError::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// Serves one connection: reads the request head, answers 200, then streams `body_bytes`
    /// bytes of padding in HTTP/1.1 chunks (no Content-Length) until done or the client hangs
    /// up. Returns the server's URL and how many body bytes it managed to send.
    fn chunked_server(body_bytes: usize) -> (Url, std::thread::JoinHandle<usize>) {
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
        (Url::parse(&url).unwrap(), server)
    }

    fn client(total_timeout: Duration) -> HttpClient {
        let tuning = Tuning {
            total_timeout,
            ..Tuning::default()
        };
        HttpClient::new(&tuning, false).unwrap()
    }

    #[tokio::test]
    async fn a_streamed_body_past_the_cap_is_abandoned_not_buffered() {
        // Far more than socket buffers can absorb, so `sent` shows where the client hung up.
        let endless = 64 * 1024 * 1024;
        let (url, server) = chunked_server(endless);
        let client = client(Duration::from_secs(5));
        let result = client.get(url).await;
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
        let size = crate::config::MAX_RESPONSE_BYTES - 1;
        let (url, server) = chunked_server(size);
        let response = client(Duration::from_secs(5)).get(url).await.unwrap();
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.body.len(), size);
        let sent = tokio::task::spawn_blocking(move || server.join().unwrap())
            .await
            .unwrap();
        assert_eq!(sent, size);
    }

    #[tokio::test]
    async fn transport_errors_never_quote_the_request_url() {
        // Bound, never accepting: the connection hangs until the timeout.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let slow = Url::parse(&format!(
            "http://127.0.0.1:{port}/me?access_token=user-token-value"
        ))
        .unwrap();
        let closed = {
            let unused = TcpListener::bind("127.0.0.1:0").unwrap();
            unused.local_addr().unwrap().port()
        };
        let refused = Url::parse(&format!(
            "http://127.0.0.1:{closed}/me?access_token=user-token-value"
        ))
        .unwrap();
        let client = client(Duration::from_millis(300));
        for url in [slow, refused] {
            let error = client.get(url).await.unwrap_err();
            let wrapped = unavailable("the call failed", &error);
            let shown = format!("{error} {error:?} {wrapped:?}");
            assert!(!shown.contains("user-token-value"), "{shown}");
            assert!(!shown.contains("access_token"), "{shown}");
        }
        drop(listener);
    }
}
