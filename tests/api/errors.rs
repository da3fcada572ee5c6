//! Every error is a problem document: unknown routes, wrong methods, unknown and unconfigured
//! providers — and nothing sensitive in any of them.

use crate::harness::{TestServer, assert_problem, client};

#[tokio::test]
async fn an_unknown_route_is_a_problem_404() {
    let server = TestServer::start();
    for path in [
        "/nope",
        "/users",
        "/users/me/extra",
        "/auth",
        "/auth/google",
        "/auth/google/unknown",
    ] {
        let response = client().get(server.url(path)).send().await.unwrap();
        assert_problem(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn an_unknown_provider_is_a_problem_404() {
    let server = TestServer::start();
    for (method, path) in [
        ("GET", "/auth/github/start"),
        ("GET", "/auth/github/callback"),
        ("POST", "/auth/github/token"),
        ("GET", "/auth/Google/start"),
    ] {
        let response = client()
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_problem_405() {
    let server = TestServer::start();
    for (method, path) in [
        ("PUT", "/users/me"),
        ("POST", "/health"),
        ("GET", "/auth/google/token"),
        ("DELETE", "/auth/facebook/start"),
        ("POST", "/openapi.json"),
    ] {
        let response = client()
            .request(method.parse().unwrap(), server.url(path))
            .send()
            .await
            .unwrap();
        assert_problem(response, 405, "method_not_allowed").await;
    }
}

#[tokio::test]
async fn every_endpoint_of_an_unconfigured_provider_answers_503_before_any_other_check() {
    let server = TestServer::start();
    for provider in ["google", "facebook"] {
        let start = client()
            .get(server.url(&format!(
                "/auth/{provider}/start?redirect_uri=https://evil.example"
            )))
            .send()
            .await
            .unwrap();
        assert_problem(start, 503, "provider_not_configured").await;
        let callback = client()
            .get(server.url(&format!("/auth/{provider}/callback?code=c&state=s")))
            .send()
            .await
            .unwrap();
        assert_problem(callback, 503, "provider_not_configured").await;
        let token = client()
            .post(server.url(&format!("/auth/{provider}/token")))
            .json(&serde_json::json!({"id_token": "x", "access_token": "y"}))
            .send()
            .await
            .unwrap();
        assert_problem(token, 503, "provider_not_configured").await;
        let malformed = client()
            .post(server.url(&format!("/auth/{provider}/token")))
            .header("content-type", "text/plain")
            .body("{")
            .send()
            .await
            .unwrap();
        assert_problem(malformed, 503, "provider_not_configured").await;
    }
}

#[tokio::test]
async fn no_error_body_contains_what_the_client_sent_as_a_credential() {
    let server = TestServer::start();
    let credential = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWNsYWltcw.c2lnbmF0dXJl";
    let response = client()
        .get(server.url("/users/me"))
        .bearer_auth(credential)
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(!body.contains(credential), "{body}");
    assert!(
        !server.logs().contains(credential),
        "the token reached the log"
    );
}
