//! The Graph API as the adapter sees it: three endpoints under the configured base, each called
//! once with a `GET`, whose answer is either the JSON zeropass asked for or a Graph error
//! (`{"error":{"type":..,"code":..}}` with a 4xx status). Everything else — transport failures,
//! 5xx, bodies that are not the expected JSON — is [`IdentityError::Unavailable`], described
//! without the URL or the body, since both can hold secrets or tokens.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::fmt;
use url::Url;
use zeropass_domain::IdentityError;
use zeropass_outbound_http::{
    BoundedClient, Limits, UrlsInErrors, unavailable, unavailable_because,
};

/// The Graph API endpoints zeropass calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET {base}/oauth/access_token`: exchanges an authorization code for a user token.
    AccessToken,
    /// `GET {base}/debug_token`: says whom a user token belongs to and for which app.
    DebugToken,
    /// `GET {base}/me`: the user's id and email.
    Me,
}

impl Endpoint {
    /// The endpoint's path below the Graph base, as segments.
    fn segments(self) -> &'static [&'static str] {
        match self {
            Self::AccessToken => &["oauth", "access_token"],
            Self::DebugToken => &["debug_token"],
            Self::Me => &["me"],
        }
    }

    /// The name used in logs and error chains.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AccessToken => "/oauth/access_token",
            Self::DebugToken => "/debug_token",
            Self::Me => "/me",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Graph error answer: what zeropass looks at to tell a refused credential from an outage.
/// Facebook's message is not kept: it is free text from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphError {
    /// The HTTP status it came with (4xx).
    pub(crate) status: StatusCode,
    /// `error.code`, e.g. 100 (invalid parameter) or 190 (invalid access token).
    pub(crate) code: Option<i64>,
    /// Whether `error.type` is `OAuthException`.
    pub(crate) oauth_exception: bool,
}

impl GraphError {
    /// [`IdentityError::Unavailable`] for an error zeropass has no better name for.
    pub(crate) fn unavailable(self, endpoint: Endpoint) -> IdentityError {
        let code = self
            .code
            .map_or_else(|| "no code".to_owned(), |code| format!("code {code}"));
        unavailable_because(&format!(
            "{endpoint} answered {} with a Graph error ({code})",
            self.status
        ))
    }

    /// Reads `{"error":{...}}`; `None` when the body is not a Graph error.
    fn parse(status: StatusCode, body: &[u8]) -> Option<Self> {
        let envelope: serde_json::Value = serde_json::from_slice(body).ok()?;
        let error = envelope.get("error")?.as_object()?;
        Some(Self {
            status,
            code: error.get("code").and_then(serde_json::Value::as_i64),
            oauth_exception: error.get("type").and_then(serde_json::Value::as_str)
                == Some("OAuthException"),
        })
    }
}

/// The Graph API at one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    base: Url,
    http: BoundedClient,
}

impl Graph {
    /// The Graph API at `base` (checked, without query or trailing `/`), through a bounded
    /// client with `limits`. Graph requests carry secrets in their query (the app secret,
    /// access tokens, proofs), so the client's errors never keep a URL.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS initialisation).
    pub(crate) fn new(base: Url, limits: &Limits) -> Result<Self, reqwest::Error> {
        let http = BoundedClient::new(limits, &base, UrlsInErrors::Withheld)?;
        Ok(Self { base, http })
    }

    /// `{base}/{endpoint}?{params}`, every value URL-encoded.
    pub(crate) fn url(&self, endpoint: Endpoint, params: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(endpoint.segments());
        }
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        url
    }

    /// Whether the Graph API answers at all: `GET {base}/me` without a token, which Facebook
    /// refuses with a 4xx Graph error. Any answer below 500 means it is reachable.
    pub(crate) async fn probe(&self) -> Result<(), IdentityError> {
        self.http
            .get_json(self.url(Endpoint::Me, &[]))
            .await
            .map(|_| ())
            .map_err(|error| unavailable("the Graph API /me", &error))
    }

    /// Calls `endpoint` once and decodes its answer: `Ok(Ok(T))` for a 2xx JSON body of the
    /// expected shape, `Ok(Err(GraphError))` for a Graph error.
    ///
    /// # Errors
    /// [`IdentityError::Unavailable`] for everything else.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        params: &[(&str, &str)],
    ) -> Result<Result<T, GraphError>, IdentityError> {
        let response = self
            .http
            .get_json(self.url(endpoint, params))
            .await
            .map_err(|error| unavailable(&format!("{endpoint} failed"), &error))?;
        if response.status.is_success() {
            // Neither the body nor serde's message (which can quote it) goes anywhere.
            return serde_json::from_slice(&response.body)
                .map(Ok)
                .map_err(|_| unavailable_because(&format!("{endpoint} answered unusable JSON")));
        }
        GraphError::parse(response.status, &response.body)
            .map(Err)
            .ok_or_else(|| {
                unavailable_because(&format!(
                    "{endpoint} answered {} without a Graph error",
                    response.status
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(base: &str) -> Graph {
        Graph::new(Url::parse(base).unwrap(), &Limits::default()).unwrap()
    }

    #[test]
    fn endpoints_go_below_the_versioned_base_with_encoded_parameters() {
        let graph = graph("https://graph.facebook.com/v21.0");
        assert_eq!(
            graph
                .url(
                    Endpoint::AccessToken,
                    &[("redirect_uri", "https://a.b/c?d=e")]
                )
                .as_str(),
            "https://graph.facebook.com/v21.0/oauth/access_token?redirect_uri=https%3A%2F%2Fa.b%2Fc%3Fd%3De"
        );
        assert_eq!(
            graph
                .url(Endpoint::DebugToken, &[("input_token", "a|b")])
                .as_str(),
            "https://graph.facebook.com/v21.0/debug_token?input_token=a%7Cb"
        );
        assert_eq!(
            graph.url(Endpoint::Me, &[("fields", "id,email")]).as_str(),
            "https://graph.facebook.com/v21.0/me?fields=id%2Cemail"
        );
        assert_eq!(
            self::graph("http://127.0.0.1:9")
                .url(Endpoint::Me, &[])
                .as_str(),
            "http://127.0.0.1:9/me"
        );
    }

    #[test]
    fn a_graph_error_is_read_from_its_envelope() {
        let body = br#"{"error":{"message":"This authorization code has been used.","type":"OAuthException","code":100,"fbtrace_id":"x"}}"#;
        assert_eq!(
            GraphError::parse(StatusCode::BAD_REQUEST, body),
            Some(GraphError {
                status: StatusCode::BAD_REQUEST,
                code: Some(100),
                oauth_exception: true,
            })
        );
        assert_eq!(GraphError::parse(StatusCode::BAD_REQUEST, b"<html>"), None);
        assert_eq!(
            GraphError::parse(StatusCode::BAD_REQUEST, br#"{"data":{}}"#),
            None
        );
    }

    #[test]
    fn a_graph_errors_description_names_the_endpoint_and_code_only() {
        let error = GraphError {
            status: StatusCode::BAD_REQUEST,
            code: Some(1),
            oauth_exception: true,
        };
        let shown = format!("{:?}", error.unavailable(Endpoint::AccessToken));
        assert!(
            shown.contains("/oauth/access_token answered 400"),
            "{shown}"
        );
        assert!(shown.contains("code 1"), "{shown}");
    }
}
