//! Sign-in endpoints as they stand before any provider adapter exists: routed, documented, and
//! refusing with 503 `provider_not_configured`. Provider flows are tested where the adapters are.

use crate::harness::{TestServer, assert_problem, client};

#[tokio::test]
async fn configured_credentials_without_an_adapter_still_answer_503_and_are_not_logged() {
    let secret = "google-client-secret-value";
    let server = TestServer::start_with(&[
        ("GOOGLE_CLIENT_ID", "client-id"),
        ("GOOGLE_CLIENT_SECRET", secret),
    ]);
    let response = client()
        .post(server.url("/auth/google/token"))
        .json(&serde_json::json!({"id_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 503, "provider_not_configured").await;
    assert!(
        !server.logs().contains(secret),
        "the client secret reached the log"
    );
}
