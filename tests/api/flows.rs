//! The browser sign-in flow as a test drives it, for either provider: `start` → the fake's
//! authorization page (which signs the person in at once and redirects back to our callback)
//! → `callback` with the flow cookie. Tests that tamper with a step take the first half,
//! [`authorize`], change what came back, and [`finish`] it themselves.

use crate::harness::{PUBLIC_URL, TestServer, client, flow_cookie};
use zeropass_domain::Provider;

/// What the provider sent the browser back with, and the flow cookie `start` set.
#[derive(Debug, Clone)]
pub struct CameBack {
    /// The callback's query, as the provider wrote it (`code=..&state=..`, or `error=..`).
    pub query: String,
    /// The `name=value` of the flow cookie.
    pub cookie: String,
}

impl CameBack {
    /// One parameter of the callback's query.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// `GET /auth/{provider}/start{start_query}` (302 expected), then the provider's page, which
/// must redirect back to `{PUBLIC_URL}/auth/{provider}/callback`.
pub async fn authorize(server: &TestServer, provider: Provider, start_query: &str) -> CameBack {
    let start = client()
        .get(server.url(&format!("/auth/{provider}/start{start_query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 302, "start at {provider}");
    let cookie = flow_cookie(&start);
    let to_provider = start.headers()["location"].to_str().unwrap().to_owned();
    let from_provider = client().get(&to_provider).send().await.unwrap();
    assert_eq!(
        from_provider.status(),
        302,
        "the fake {provider} refused: {}",
        from_provider.text().await.unwrap()
    );
    let back = url::Url::parse(from_provider.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", back.origin().ascii_serialization(), back.path()),
        format!("{PUBLIC_URL}/auth/{provider}/callback")
    );
    CameBack {
        query: back.query().unwrap_or_default().to_owned(),
        cookie,
    }
}

/// `GET /auth/{provider}/callback?{query}` with the flow cookie, as the browser would.
pub async fn finish(
    server: &TestServer,
    provider: Provider,
    came_back: &CameBack,
) -> reqwest::Response {
    client()
        .get(server.url(&format!("/auth/{provider}/callback?{}", came_back.query)))
        .header("cookie", &came_back.cookie)
        .send()
        .await
        .unwrap()
}

/// The whole flow: [`authorize`] then [`finish`]; returns the callback's response.
pub async fn browser_sign_in(
    server: &TestServer,
    provider: Provider,
    start_query: &str,
) -> reqwest::Response {
    let came_back = authorize(server, provider, start_query).await;
    finish(server, provider, &came_back).await
}
