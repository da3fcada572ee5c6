//! Abuse limits and browser protections of the running server: the sign-in rate limit (and
//! whom it believes about client addresses), security headers, request ids in responses and
//! logs, JSON logs, CORS.

use crate::harness::{TestServer, assert_problem, client, run_to_exit, token_for};
use std::time::Duration;
use zeropass_domain::Provider;

/// How long a log line may take to reach the reader thread after the response (bounded, so a
/// missing line fails instead of hanging).
const LOG_WAIT: Duration = Duration::from_secs(5);

async fn start_from(server: &TestServer, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = client().get(server.url("/auth/google/start"));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Behind a declared proxy on the loopback, as in production with a same-host nginx: the
/// forwarded client is the one limited. (A forged `X-Forwarded-For` from an undeclared peer is
/// covered in-process, where the peer can be a remote address.)
const LIMITED: [(&str, &str); 3] = [
    ("AUTH_RATE_LIMIT_PER_MINUTE", "6"),
    ("AUTH_RATE_LIMIT_BURST", "3"),
    ("TRUSTED_PROXIES", "127.0.0.1"),
];

#[tokio::test]
async fn sign_in_endpoints_answer_429_with_retry_after_once_the_burst_is_spent() {
    let server = TestServer::start_with(&LIMITED);
    for attempt in 1..=3 {
        assert_eq!(
            start_from(&server, Some("198.51.100.7")).await.status(),
            503,
            "attempt {attempt} is within the burst"
        );
    }
    let limited = start_from(&server, Some("198.51.100.7")).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_problem(limited, 429, "rate_limited").await;
    assert_eq!(
        start_from(&server, Some("198.51.100.8")).await.status(),
        503,
        "another client has its own bucket"
    );
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "only /auth/* is limited"
    );
}

#[tokio::test]
async fn local_processes_are_not_throttled_by_the_default_limit() {
    // The contract's own test suites run on the loopback and know nothing of the limit.
    let server = TestServer::start_with(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", "60"),
        ("AUTH_RATE_LIMIT_BURST", "20"),
    ]);
    for attempt in 1..=40 {
        assert_eq!(
            start_from(&server, None).await.status(),
            503,
            "attempt {attempt}"
        );
    }
}

#[tokio::test]
async fn responses_carry_security_headers_and_a_request_id_that_reaches_the_log() {
    let server = TestServer::start();
    let user = server
        .create_user("traced@example.com", Provider::Google)
        .await;
    let response = client()
        .delete(server.url("/users/me"))
        .bearer_auth(token_for(&user))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let deleted_line = server
        .log_once_it_contains("user deleted", LOG_WAIT)
        .lines()
        .find(|line| line.contains("user deleted"))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        deleted_line.contains("trace-me-42"),
        "the log line lacks the request id: {deleted_line:?}"
    );
    assert!(
        !deleted_line.contains("traced@example.com"),
        "an email reached the log"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let server = TestServer::start_with(&[("LOG_FORMAT", "json")]);
    let user = server
        .create_user("json@example.com", Provider::Google)
        .await;
    let response = client()
        .delete(server.url("/users/me"))
        .bearer_auth(token_for(&user))
        .header("x-request-id", "json-req-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let logs = server.log_once_it_contains("json-req-7", LOG_WAIT);
    let mut saw_request = false;
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        saw_request |= event.to_string().contains("json-req-7");
    }
    assert!(saw_request, "no JSON line carried the request id:\n{logs}");
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_and_others_get_their_preflight_refused() {
    let server = TestServer::start_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]);
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/users/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_problem(refused, 403, "cors_origin_not_allowed").await;
}

#[tokio::test]
async fn a_sign_in_path_spelt_with_percent_escapes_is_limited_like_the_plain_one() {
    let server = TestServer::start_with(&LIMITED);
    let from_one_client = |path: &str| {
        client()
            .get(server.url(path))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
    };
    for attempt in 1..=3 {
        assert_eq!(
            from_one_client("/%61uth/google/start")
                .await
                .unwrap()
                .status(),
            503,
            "attempt {attempt} is within the burst"
        );
    }
    for spelling in [
        "/auth/google/start",
        "/%61uth/facebook/start",
        "/auth/%67oogle/start",
        "/%61uth/g%6F%6fgle/start",
    ] {
        let response = from_one_client(spelling).await.unwrap();
        assert_problem(response, 429, "rate_limited").await;
    }
    let unrouted = from_one_client("//auth/google/start").await.unwrap();
    assert_problem(unrouted, 404, "not_found").await;
}

#[tokio::test]
async fn a_loopback_listener_without_trusted_proxies_warns_that_proxied_clients_are_unlimited() {
    let warning = "TRUSTED_PROXIES is empty";
    let unprotected = TestServer::start_with(&[("AUTH_RATE_LIMIT_PER_MINUTE", "60")]);
    let logs = unprotected.logs();
    let line = logs
        .lines()
        .find(|line| line.contains(warning))
        .unwrap_or_else(|| panic!("no warning in:\n{logs}"));
    assert!(line.contains("WARN"), "{line}");
    let declared = TestServer::start_with(&LIMITED);
    assert!(!declared.logs().contains(warning), "{}", declared.logs());
    let unlimited = TestServer::start();
    assert!(!unlimited.logs().contains(warning), "{}", unlimited.logs());
}

#[tokio::test]
async fn metrics_on_their_own_listener_count_the_api_which_no_longer_serves_them() {
    let mut server = TestServer::start_with(&[("METRICS_BIND_ADDR", "127.0.0.1:0")]);
    let health = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let hidden = client().get(server.url("/metrics")).send().await.unwrap();
    assert_problem(hidden, 404, "not_found").await;

    let metrics_url = server.metrics_url("/metrics");
    assert_ne!(metrics_url, server.url("/metrics"), "another port");
    let scrape = client().get(&metrics_url).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
    );
    let text = scrape.text().await.unwrap();
    for series in [
        r#"zeropass_http_requests_duration_seconds_count{method="GET",route="/health",status="200"} 1"#,
        r#"zeropass_http_requests_duration_seconds_count{method="GET",route="unmatched",status="404"} 1"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    let elsewhere = client()
        .get(server.metrics_url("/health"))
        .send()
        .await
        .unwrap();
    assert_problem(elsewhere, 404, "not_found").await;

    // Both listeners stop on SIGTERM: a metrics server left running would keep the process
    // alive past the harness's bound.
    let (status, logs) = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server.logs())
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{logs}");
    assert!(logs.contains("stopped"), "{logs}");
}

#[tokio::test]
async fn by_default_metrics_are_served_on_the_api_listener() {
    let server = TestServer::start();
    let scrape = client().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(!server.logs().contains("serving metrics on"));
}

#[tokio::test]
async fn an_ipv4_proxy_in_front_of_a_dual_stack_listener_is_recognised() {
    // An IPv6 socket on the IPv4-mapped loopback: IPv4 peers arrive as ::ffff:127.0.0.1, as
    // on BIND_ADDR=[::]:PORT, without listening beyond the loopback.
    let server = TestServer::start_with(&[
        ("BIND_ADDR", "[::ffff:127.0.0.1]:0"),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "6"),
        ("AUTH_RATE_LIMIT_BURST", "1"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    assert!(
        server.address().starts_with("[::ffff:127.0.0.1]:"),
        "{}",
        server.address()
    );
    assert_eq!(
        start_from(&server, Some("198.51.100.7")).await.status(),
        503
    );
    let limited = start_from(&server, Some("198.51.100.7")).await;
    assert_problem(limited, 429, "rate_limited").await;
    assert_eq!(
        start_from(&server, Some("198.51.100.8")).await.status(),
        503,
        "each forwarded client has its own bucket, not the proxy's"
    );
}

#[test]
fn a_taken_metrics_address_stops_the_start_naming_metrics_bind_addr() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (status, stderr) = run_to_exit(&[
        ("BIND_ADDR", "127.0.0.1:0"),
        ("DATABASE_URL", "sqlite://:memory:"),
        ("METRICS_BIND_ADDR", &address),
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("METRICS_BIND_ADDR"), "{stderr}");
}
