//! Fetching zeropass's JWKS with bounds a hostile or broken network cannot stretch: one
//! deadline for the whole exchange (connect, headers and body), a body cap enforced chunk by
//! chunk (and up front from `Content-Length`), no redirects, and only a 200 accepted. It also
//! reads the `Cache-Control` lifetime the set is served with.

use reqwest::header::{ACCEPT, CACHE_CONTROL, HeaderMap};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use std::time::Duration;
use url::Url;

use crate::error::FetchError;
use crate::keys::KeySet;

/// A fetched key set and the `max-age` it was served with, if any.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) keys: KeySet,
    pub(crate) max_age: Option<u64>,
}

/// The bounded client for one JWKS URL.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Client,
    url: Url,
    timeout: Duration,
    max_bytes: usize,
}

impl Fetcher {
    /// A fetcher for `url`; `loopback` turns proxies off (a proxy from the environment must
    /// not see requests meant for this host).
    pub(crate) fn new(
        url: Url,
        loopback: bool,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, reqwest::Error> {
        let mut builder = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(Policy::none());
        if loopback {
            builder = builder.no_proxy();
        }
        Ok(Self {
            client: builder.build()?,
            url,
            timeout,
            max_bytes,
        })
    }

    /// The JWKS URL.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// One fetch, finished or abandoned within the timeout.
    pub(crate) async fn fetch(&self) -> Result<Fetched, FetchError> {
        // reqwest's own timeout covers the body too; the outer one also bounds our reading.
        tokio::time::timeout(self.timeout, self.fetch_unbounded())
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }

    async fn fetch_unbounded(&self) -> Result<Fetched, FetchError> {
        let transport = |error: reqwest::Error| {
            if error.is_timeout() {
                FetchError::Timeout(self.timeout)
            } else {
                FetchError::Transport(error)
            }
        };
        let mut response = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        if response.status() != StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let too_large = FetchError::TooLarge(self.max_bytes);
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(too_large);
        }
        let max_age = max_age(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        let keys = KeySet::parse(&body).map_err(FetchError::NotAKeySet)?;
        Ok(Fetched { keys, max_age })
    }
}

/// The lifetime `Cache-Control` gives the response: its `max-age`, or 0 for `no-store` /
/// `no-cache`; `None` when it says neither (the caller applies its default).
pub(crate) fn max_age(headers: &HeaderMap) -> Option<u64> {
    let directives = headers
        .get_all(CACHE_CONTROL)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim);
    for directive in directives {
        if directive.eq_ignore_ascii_case("no-store") || directive.eq_ignore_ascii_case("no-cache")
        {
            return Some(0);
        }
        if let Some((name, value)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
            && let Ok(seconds) = value.trim().trim_matches('"').parse::<u64>()
        {
            return Some(seconds);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn max_age_is_read_among_other_directives_and_headers() {
        assert_eq!(max_age(&headers(&["public, max-age=300"])), Some(300));
        assert_eq!(max_age(&headers(&["public", "MAX-AGE = 120"])), Some(120));
        assert_eq!(max_age(&headers(&["max-age=\"60\""])), Some(60));
    }

    #[test]
    fn no_store_means_no_caching_and_nothing_usable_means_the_default() {
        assert_eq!(max_age(&headers(&["no-store"])), Some(0));
        assert_eq!(max_age(&headers(&["public"])), None);
        assert_eq!(max_age(&headers(&["max-age=soon"])), None);
        assert_eq!(max_age(&headers(&[])), None);
    }
}
